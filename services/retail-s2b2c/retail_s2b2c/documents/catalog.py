"""Supply: brands, products, SKUs and the stock audit. Stock lives on its own SKU document so a
reservation is one conditional update."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now
from retail_s2b2c.domain.catalog import MAX_RATE_BP, ProductStatus


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
    image_urls = me.ListField(me.StringField(), default=list)
    attributes = me.MapField(me.StringField(), default=dict)
    # per-product distribution rates (basis points); None: the platform policy (read by the wallet)
    level1_rate_bp = me.IntField(null=True, min_value=0, max_value=MAX_RATE_BP)
    level2_rate_bp = me.IntField(null=True, min_value=0, max_value=MAX_RATE_BP)
    status = me.StringField(required=True, default=ProductStatus.PENDING_REVIEW.value)
    reject_reason = me.StringField(default="")
    reviewed_by = me.StringField(default="")
    reviewed_at = me.DateTimeField()
    # incremented atomically by each review; SKUs remember the review that last set `sellable`
    review_version = me.IntField(default=0)
    created_at = me.DateTimeField(default=now)
    meta = {
        "collection": "products",
        "indexes": ["brand_id", ("status", "id"), ("brand_id", "status", "id")],
    }


class Sku(me.Document):
    id = me.StringField(primary_key=True)
    product_id = me.StringField(required=True)
    spec = me.StringField(required=True)
    # the suggested retail price: what the platform itself sells at
    price_fen = me.IntField(required=True, min_value=1)
    # what the brand charges; supply ≤ price_min ≤ price ≤ price_max (domain.catalog)
    supply_price_fen = me.IntField(required=True, min_value=1)
    price_min_fen = me.IntField(required=True, min_value=1)
    price_max_fen = me.IntField(required=True, min_value=1)
    # never negative: every decrement is conditional on stock >= quantity
    stock = me.IntField(required=True)
    # True only while the product is approved; checkout reserves only sellable SKUs
    sellable = me.BooleanField(default=False)
    # the product review that last set `sellable` (a later review always wins, whatever the timing)
    review_version = me.IntField(default=0)
    # units taken by a checkout whose order is being written: {order, quantity, at}, and stock
    # given back: {key, at} (service.stock_holds and service.stock_returns: each counts once)
    holds = me.ListField(me.DictField(), default=list)
    returns = me.ListField(me.DictField(), default=list)
    meta = {
        "collection": "skus",
        "indexes": ["product_id", {"fields": ["holds.at"], "sparse": True}, {"fields": ["returns.at"], "sparse": True}],
    }


class StockAdjustment(me.Document):
    """One audited stock change by a brand owner or an admin, idempotent by (sku_id, idempotency_key).

    Written before the stock changes (status `pending`), completed after (`applied`, `stock_after`):
    no stock change is ever unaudited. A refused removal deletes its record; a record left `pending`
    (a crash between the two writes) marks a change to check by hand.
    """

    id = me.StringField(primary_key=True)
    sku_id = me.StringField(required=True)
    delta = me.IntField(required=True)
    reason = me.StringField(required=True)
    actor = me.StringField(required=True)  # the user id who adjusted
    # the client's key, or the adjustment id when it sent none (keeps the unique index total)
    idempotency_key = me.StringField(required=True)
    status = me.StringField(required=True, default="pending")
    stock_after = me.IntField(null=True)
    at = me.DateTimeField(required=True, default=now)
    meta = {
        "collection": "stock_adjustments",
        "indexes": [{"fields": ["sku_id", "idempotency_key"], "unique": True}, ("sku_id", "at")],
    }
