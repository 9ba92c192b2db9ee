"""Micro-stores, the SKUs they list at their own prices, and consumer bindings."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Store(me.Document):
    id = me.StringField(primary_key=True)
    owner_id = me.StringField(required=True, unique=True)  # one store per user
    name = me.StringField(required=True)
    avatar_url = me.StringField(default="")
    intro = me.StringField(default="")
    share_code = me.StringField(required=True, unique=True)
    # set once, at opening, to an older store's owner: the upline tree can never have a cycle
    upline_owner_id = me.StringField(default="")
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "stores", "indexes": ["upline_owner_id"]}


class StoreProduct(me.Document):
    id = me.StringField(primary_key=True)
    store_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    product_id = me.StringField(required=True)
    price_fen = me.IntField(required=True)
    listed_at = me.DateTimeField(default=now)
    meta = {
        "collection": "store_products",
        # the unique pair makes listing idempotent; (store_id, id) serves the store's paged listing
        "indexes": [{"fields": ["store_id", "sku_id"], "unique": True}, ("store_id", "id")],
    }


class Binding(me.Document):
    """A consumer's store, from their first arrival through a share code."""

    id = me.StringField(primary_key=True)
    consumer_id = me.StringField(required=True, unique=True)
    store_id = me.StringField(required=True)
    bound_at = me.DateTimeField(required=True)
    expires_at = me.DateTimeField()  # None: permanent
    meta = {"collection": "bindings", "indexes": ["store_id"]}
