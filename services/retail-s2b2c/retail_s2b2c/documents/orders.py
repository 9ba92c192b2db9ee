"""Orders (with their outbox) and payments."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now
from mallkit.outbox import OutboxDocument


class OrderItem(me.EmbeddedDocument):
    sku_id = me.StringField(required=True)
    quantity = me.IntField(required=True)
    unit_price_fen = me.IntField(required=True)
    amount_fen = me.IntField(required=True)


class Attribution(me.EmbeddedDocument):
    store_id = me.StringField(default="")
    group_team_id = me.StringField(default="")
    bargain_id = me.StringField(default="")
    post_id = me.StringField(default="")
    kol_link_id = me.StringField(default="")
    agent_id = me.StringField(default="")
    group_campaign_id = me.StringField(default="")


class Order(OutboxDocument):
    id = me.StringField(primary_key=True)
    buyer_id = me.StringField(required=True)
    items = me.EmbeddedDocumentListField(OrderItem)
    total_fen = me.IntField(required=True)
    status = me.StringField(required=True)
    attribution = me.EmbeddedDocumentField(Attribution, default=Attribution)
    # the client's Idempotency-Key, or the order id when it sent none (keeps the unique index total)
    idempotency_key = me.StringField(required=True)
    transaction_id = me.StringField()
    # false for promotion-priced orders (a quote without distribution): no store commission
    distribution_enabled = me.BooleanField(default=True)
    # a team's seat order: not shippable until groupbuy's team_formed names it (only ever cleared)
    awaiting_group = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=now)
    paid_at = me.DateTimeField()
    cancelled_at = me.DateTimeField()
    shipped_at = me.DateTimeField()
    carrier = me.StringField(default="")
    tracking_number = me.StringField(default="")
    received_at = me.DateTimeField()
    completed_at = me.DateTimeField()
    # refunds: at most one under review; what was refunded, per SKU and in total; which were applied
    pending_refund_id = me.StringField(default="")
    refunded_fen = me.IntField(default=0)
    refunded_quantities = me.DictField(default=dict)
    applied_refund_ids = me.ListField(me.StringField(), default=list)
    # stock being given back (a cancel, a refund before shipping): see service.stock_returns
    stock_returns = me.ListField(me.DictField(), default=list)
    # a placeholder taking the id of an order whose checkout stopped before writing it, so that
    # it cannot be written late (service.stock_holds): cancelled, empty, nobody's
    abandoned = me.BooleanField(default=False)
    meta = {
        "collection": "orders",
        "indexes": [
            {"fields": ["buyer_id", "idempotency_key"], "unique": True},
            ("status", "created_at"),
            ("status", "shipped_at"),
            ("status", "received_at"),
            ("attribution.store_id", "id"),
            {"fields": ["stock_returns.at"], "sparse": True},
        ],
    }


class Payment(me.Document):
    """One payment attempt per order; the order's conditional update is what makes paying exactly-once."""

    id = me.StringField(primary_key=True)
    order_id = me.StringField(required=True, unique=True)
    amount_fen = me.IntField(required=True)
    status = me.StringField(required=True, default="pending")
    transaction_id = me.StringField()
    created_at = me.DateTimeField(default=now)
    paid_at = me.DateTimeField()
    meta = {"collection": "payments"}


class ReturnedPayment(me.Document):
    """A payment that could not pay its order (it came after the order was cancelled, or the order
    was already paid by another transaction): the money goes back to the payer, once per transaction."""

    id = me.StringField(primary_key=True)  # ret_<transaction id>
    order_id = me.StringField(required=True)
    transaction_id = me.StringField(required=True)
    amount_fen = me.IntField(required=True)
    reason = me.StringField(required=True)  # "order_<status>" of the order when the payment came
    provider_refund_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "returned_payments", "indexes": ["order_id"]}


class RefundLine(me.EmbeddedDocument):
    sku_id = me.StringField(required=True)
    quantity = me.IntField(required=True)
    amount_fen = me.IntField(required=True)


class Refund(me.Document):
    """requested → approved (the provider is being asked) → refunded, or requested → rejected."""

    id = me.StringField(primary_key=True)
    order_id = me.StringField(required=True)
    buyer_id = me.StringField(required=True)
    lines = me.EmbeddedDocumentListField(RefundLine)
    amount_fen = me.IntField(required=True)
    reason = me.StringField(required=True)
    status = me.StringField(required=True, default="requested")
    reject_reason = me.StringField(default="")
    reviewed_by = me.StringField(default="")
    provider_refund_id = me.StringField(default="")
    idempotency_key = me.StringField(required=True)
    created_at = me.DateTimeField(default=now)
    refunded_at = me.DateTimeField()
    meta = {
        "collection": "refunds",
        "indexes": [{"fields": ["buyer_id", "idempotency_key"], "unique": True}, "order_id"],
    }
