"""Persistence of tracked links, their clicks and attributed orders (mongoengine)."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Link(me.Document):
    id = me.StringField(primary_key=True)
    kol_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    code = me.StringField(required=True, unique=True)
    target_url = me.StringField(required=True)
    # incremented with $inc on every resolved click; the Click documents are the detail
    clicks = me.IntField(default=0)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "links", "indexes": ["kol_id"]}


class Click(me.Document):
    """One resolved click; with visitor ids these rebuild the UV HyperLogLogs if Redis loses them."""

    id = me.StringField(primary_key=True)
    link_id = me.StringField(required=True)
    visitor_id = me.StringField(default="")
    at = me.DateTimeField(default=now)
    meta = {"collection": "clicks", "indexes": [("link_id", "at")]}


class AttributedOrder(me.Document):
    """A paid order that came through a KOL link; one per order, whatever the event deliveries."""

    id = me.StringField(primary_key=True)
    order_id = me.StringField(required=True, unique=True)
    link_id = me.StringField(required=True)
    kol_id = me.StringField(required=True)
    buyer_id = me.StringField(required=True)
    total_fen = me.IntField(required=True)
    paid_at = me.DateTimeField(required=True)
    recorded_at = me.DateTimeField(default=now)
    meta = {"collection": "attributed_orders", "indexes": [("kol_id", "paid_at")]}


DOCUMENTS = [Link, Click, AttributedOrder]
