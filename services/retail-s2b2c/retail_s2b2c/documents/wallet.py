"""The wallet: ledger entries, the per-order payout record, withdrawals, the payout policy and the
audit trail. How they stay consistent without multi-document transactions: service/ledger.py."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now
from mallkit.outbox import OutboxDocument


class LedgerEntry(me.Document):
    """One signed money effect (domain.ledger). Append-only except `state` (and `settled_at`)."""

    id = me.StringField(primary_key=True)
    # derived from the source (e.g. `order:<id>:l1`); posting it again is a no-op
    idempotency_key = me.StringField(required=True, unique=True)
    beneficiary_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    amount_fen = me.IntField(required=True)  # signed
    state = me.StringField(required=True)
    order_id = me.StringField(default="")
    source = me.StringField(required=True)  # the service that posted it
    note = me.StringField(default="")
    # a reversal: the key of the earning it reverses
    reverses = me.StringField(default="")
    # a withdrawal: its document, the user's sequence number and the client's idempotency key
    withdrawal_id = me.StringField(default="")
    seq = me.IntField()
    request_key = me.StringField(default="")
    created_at = me.DateTimeField(required=True, default=now)
    settled_at = me.DateTimeField()
    meta = {
        "collection": "ledger_entries",
        "indexes": [
            ("beneficiary_id", "state"),
            ("beneficiary_id", "id"),
            ("beneficiary_id", "kind", "seq"),
            ("beneficiary_id", "request_key"),
            ("order_id", "state"),
            ("state", "order_id"),
            "withdrawal_id",
        ],
    }


class PayoutLine(me.EmbeddedDocument):
    """One earning booked on an order, and how much of it has been reversed so far."""

    key = me.StringField(required=True)
    beneficiary_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    source = me.StringField(required=True)
    amount_fen = me.IntField(required=True)
    reversed_fen = me.IntField(default=0)
    # what each SKU of the order earned of the amount, when the earning was booked per item
    basis = me.DictField(default=dict)


class OrderPayouts(me.Document):
    """Per order: the cap, what was booked against it, the refunds seen, and entries to write.

    The serialization point of one order's payouts. A posting reserves its amount under the cap
    and records its key and its entry in `pending` in ONE conditional write; the entry is then
    inserted (insert_once) and pulled from `pending`. A crash in between leaves the entry in
    `pending`, where the next posting on the order or the sweep writes it: exactly once, never
    lost, and a repeated key never consumes the cap twice.
    """

    id = me.StringField(primary_key=True)  # the order id
    paid_fen = me.IntField(required=True)
    cap_bp = me.IntField(required=True)
    # fixed when the order's first payout is booked, from the policy at that time
    cap_fen = me.IntField(required=True)
    booked_fen = me.IntField(default=0)  # gross earnings; reversals do not free cap
    reversed_fen = me.IntField(default=0)
    paid_by_sku = me.DictField(default=dict)  # the order's lines: sku id → paid fen
    # the highest cumulative refunded amount seen, the refund that reached it and, as that refund
    # reported it, the cumulative refunded amount per SKU
    refunded_fen = me.IntField(default=0)
    refund_id = me.StringField(default="")
    refunded_by_sku = me.DictField(default=dict)
    lines = me.EmbeddedDocumentListField(PayoutLine)
    keys = me.ListField(me.StringField(), default=list)  # every entry key posted for the order
    pending = me.ListField(me.DictField(), default=list)
    version = me.IntField(default=0)  # bumped by every change; reversals compare-and-set on it
    created_at = me.DateTimeField(default=now)
    updated_at = me.DateTimeField(default=now)
    meta = {"collection": "order_payouts", "indexes": [{"fields": ["pending.idempotency_key"], "sparse": True}]}


class Withdrawal(OutboxDocument):
    """A withdrawal request and its review; raises withdrawal_requested / withdrawal_paid.

    Its ledger entry (written first) is what debits the balance; this document is the workflow."""

    id = me.StringField(primary_key=True)
    user_id = me.StringField(required=True)
    amount_fen = me.IntField(required=True)
    fee_fen = me.IntField(default=0)
    status = me.StringField(required=True)
    # the client's key, or the withdrawal id when it sent none (keeps the unique index total)
    idempotency_key = me.StringField(required=True)
    seq = me.IntField(required=True)
    reject_reason = me.StringField(default="")
    reviewed_by = me.StringField(default="")
    reviewed_at = me.DateTimeField()
    created_at = me.DateTimeField(required=True, default=now)
    paid_at = me.DateTimeField()
    meta = {
        "collection": "withdrawals",
        "indexes": [
            {"fields": ["user_id", "idempotency_key"], "unique": True},
            ("user_id", "id"),
            ("status", "id"),
        ],
    }


class PayoutPolicy(me.Document):
    """The platform's payout policy: one document, id `default` (domain.payout_policy)."""

    id = me.StringField(primary_key=True, default="default")
    paid_levels = me.IntField(required=True)
    level1_rate_bp = me.IntField(required=True)
    level2_rate_bp = me.IntField(required=True)
    order_cap_bp = me.IntField(required=True)
    updated_by = me.StringField(default="")
    updated_at = me.DateTimeField(default=now)
    meta = {"collection": "payout_policy"}


class AuditRecord(me.Document):
    """A payout decision worth keeping: policy changes (accepted or refused), refused postings."""

    id = me.StringField(primary_key=True)
    at = me.DateTimeField(required=True, default=now)
    action = me.StringField(required=True)  # update_payout_policy, post_entry, …
    outcome = me.StringField(required=True)  # accepted | refused
    code = me.StringField(default="")
    actor = me.StringField(default="")  # user id, or `service:<name>`
    order_id = me.StringField(default="")
    subject_id = me.StringField(default="")  # the beneficiary, when there is one
    details = me.DictField(default=dict)
    meta = {"collection": "wallet_audit", "indexes": [("action", "at"), "order_id"]}
