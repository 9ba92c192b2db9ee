"""Supply: brands, products and SKUs. Stock lives on its own SKU document so a reservation is one
conditional update."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Brand(me.Document):
    id = me.StringField(primary_key=True)
    owner_id = me.StringField(required=True)
    name = me.StringField(required=True, unique=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "brands"}


class Product(me.Document):
    id = me.StringField(primary_key=True)
    brand_id = me.StringField(required=True)
    title = me.StringField(required=True)
    category = me.StringField(default="")
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "products", "indexes": ["brand_id"]}


class Sku(me.Document):
    id = me.StringField(primary_key=True)
    product_id = me.StringField(required=True)
    spec = me.StringField(required=True)
    price_fen = me.IntField(required=True, min_value=1)
    # never negative: every decrement is conditional on stock >= quantity (see service._reserve)
    stock = me.IntField(required=True)
    meta = {"collection": "skus", "indexes": ["product_id"]}
