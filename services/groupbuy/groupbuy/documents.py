"""Persistence of groupbuy records (mongoengine)."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Campaign(me.Document):
    id = me.StringField(primary_key=True)
    owner_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    group_price_fen = me.IntField(required=True, min_value=1)
    team_size = me.IntField(required=True)
    expiry_hours = me.IntField(required=True)
    status = me.StringField(required=True)  # domain.campaigns.CampaignStatus
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "campaigns"}


class PaidOrder(me.Document):
    """A retail order seen paid. The unique order_id keys the effect: a redelivered or
    re-emitted order_paid inserts nothing (see mallkit.consumer)."""

    id = me.StringField(primary_key=True)
    order_id = me.StringField(required=True, unique=True)
    buyer_id = me.StringField(required=True)
    amount_fen = me.IntField(required=True)
    group_team_id = me.StringField(default="")
    event_id = me.StringField(required=True)
    recorded_at = me.DateTimeField(default=now)
    meta = {"collection": "paid_orders"}


DOCUMENTS = [Campaign, PaidOrder]
