"""Campaign records (拼团 terms and their publication state)."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Limits(me.EmbeddedDocument):
    teams_opened = me.IntField(required=True)
    teams_joined = me.IntField(required=True)
    units_per_order = me.IntField(required=True)


class Campaign(me.Document):
    id = me.StringField(primary_key=True)
    owner_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    group_price_fen = me.IntField(required=True, min_value=1)
    leader_price_fen = me.IntField(default=0)  # 0: the leader pays the group price
    solo_price_fen = me.IntField(default=0)  # 0: no solo purchase
    team_size = me.IntField(required=True)
    expiry_hours = me.IntField(required=True)
    seat_allotment = me.IntField(required=True)
    start_time = me.DateTimeField(required=True)
    end_time = me.DateTimeField(required=True)
    limits = me.EmbeddedDocumentField(Limits, required=True)
    virtual_fill_percent = me.IntField(default=0)
    distribution_enabled = me.BooleanField(default=False)
    stage = me.StringField(required=True)  # domain.campaigns.Stage; the status also depends on the clock
    # a draft created without dates runs from its publication (for the default duration), not from its creation
    dated_on_publish = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "campaigns", "indexes": ["sku_id", "owner_id"]}
