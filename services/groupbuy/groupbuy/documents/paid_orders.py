"""Retail orders groupbuy saw paid."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


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
