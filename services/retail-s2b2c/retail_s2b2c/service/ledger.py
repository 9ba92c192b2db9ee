"""The journal engine: posting earnings under the order cap, proportional reversals, settlement,
balances. No access checks here: the use cases in service/wallet.py make them.

How the numbers stay right without multi-document transactions:

- Balances are never stored: a balance is an aggregation of the user's entries by state, so it
  equals the sum of the entries by construction (domain.ledger.Balance).
- Each entry's key is unique (index), so an effect is written at most once.
- Order-bound entries go through the order's `OrderPayouts` document first: one conditional write
  reserves the amount under the cap (or records a reversal against a compare-and-set on
  `version`), remembers the key and parks the entry in `pending`; `materialize` then inserts it
  (insert_once) and pulls it from `pending`. A crash in between is repaired by the next posting on
  that order or by the sweep (`repair_pending`), so an effect is never lost either.
- Settlement and withdrawal status changes are conditional single-entry (or single-query) state
  moves, idempotent by their condition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import takewhile

from mallkit import ids, sweeps
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, NotFound
from mallkit.mongo import insert_once
from retail_s2b2c.config import SERVICE
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.documents.wallet import AuditRecord, LedgerEntry, OrderPayouts, PayoutLine, PayoutPolicy
from retail_s2b2c.domain import ledger
from retail_s2b2c.domain.ledger import Balance, EntryState, Kind
from retail_s2b2c.domain.payout_policy import DEFAULT, Policy

log = logging.getLogger(__name__)

MAX_CAS_ATTEMPTS = 20


# ── policy and audit ─────────────────────────────────────────────────────────────────────────


def current_policy() -> Policy:
    doc = PayoutPolicy.objects(id="default").first()
    if doc is None:
        return DEFAULT
    return Policy(doc.paid_levels, doc.level1_rate_bp, doc.level2_rate_bp, doc.order_cap_bp)


def audit(
    action: str, outcome: str, *, code: str = "", actor: str = "", order_id: str = "", subject_id: str = "", **details
) -> None:
    """Record a payout decision (ARCHITECTURE "Compliance": every decision is recorded for audit)."""
    AuditRecord(
        id=ids.new_id("aud"),
        action=action,
        outcome=outcome,
        code=code,
        actor=actor,
        order_id=order_id,
        subject_id=subject_id,
        details=details,
    ).save(force_insert=True)


# ── orders ───────────────────────────────────────────────────────────────────────────────────


def paid_order(order_id: str) -> Order:
    """The order a payout is for; it must have been paid (a payout needs a consumer's sale)."""
    order = (
        Order.objects(id=order_id).only("id", "status", "total_fen", "items", "buyer_id", "completed_at").first()
        if ids.is_valid(order_id)
        else None
    )
    if order is None:
        raise NotFound(f"order {order_id!r} not found", "order_not_found")
    if order.status not in ledger.PAID_OR_LATER:
        raise FailedPrecondition(f"order {order_id} is {order.status}: payouts need a paid order", "order_not_paid")
    return order


def ensure_payouts(order: Order) -> OrderPayouts:
    """The order's payout record, created on first use with the cap of the current policy."""
    payouts = OrderPayouts.objects(id=order.id).first()
    if payouts is None:
        cap_bp = current_policy().order_cap_bp
        insert_once(
            OrderPayouts(
                id=order.id,
                paid_fen=order.total_fen,
                paid_by_sku={item.sku_id: item.amount_fen for item in order.items},
                cap_bp=cap_bp,
                cap_fen=ledger.cap_fen(order.total_fen, cap_bp),
            )
        )
        payouts = OrderPayouts.objects.get(id=order.id)
    return payouts


# ── posting ──────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class NewEarning:
    key: str
    beneficiary_id: str
    kind: str
    amount_fen: int
    order_id: str
    source: str
    note: str
    basis: dict[str, int] = field(default_factory=dict)  # per SKU, when booked per item


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    newly_posted: bool


def _pending_entry(
    key: str, beneficiary_id: str, kind: str, amount_fen: int, order_id: str, source: str, note: str, reverses: str = ""
) -> dict:
    return {
        "id": ids.new_id("ent"),
        "idempotency_key": key,
        "beneficiary_id": beneficiary_id,
        "kind": kind,
        "amount_fen": amount_fen,
        "order_id": order_id,
        "source": source,
        "note": note,
        "reverses": reverses,
        "created_at": now(),
    }


def post_earning(earning: NewEarning, actor: str) -> Posted:
    """Book a positive entry on a paid order, within the order's cap; idempotent by key.

    Refused with FailedPrecondition `payout_cap_exceeded` (and an audit record) when the order's
    payouts would pass the cap; nothing else changes then."""
    order = paid_order(earning.order_id)
    payouts = ensure_payouts(order)
    if earning.key not in payouts.keys and (done := LedgerEntry.objects(idempotency_key=earning.key).first()):
        return Posted(done, False)  # the key was used on another order: still the first entry
    if earning.key not in payouts.keys:
        e = earning
        pending = _pending_entry(e.key, e.beneficiary_id, e.kind, e.amount_fen, order.id, e.source, e.note)
        line = PayoutLine(
            key=earning.key,
            beneficiary_id=earning.beneficiary_id,
            kind=earning.kind,
            source=earning.source,
            amount_fen=earning.amount_fen,
            basis=earning.basis,
        )
        reserved = OrderPayouts.objects(
            id=order.id, keys__ne=earning.key, booked_fen__lte=payouts.cap_fen - earning.amount_fen
        ).update_one(
            inc__booked_fen=earning.amount_fen,
            inc__version=1,
            push__keys=earning.key,
            push__lines=line,
            push__pending=pending,
            set__updated_at=now(),
        )
        if reserved:
            materialize(order.id)
            reconcile_reversals(order.id)  # a refund may have been seen before this earning
            release_order(order.id, order)  # an order that completed before its payout was booked
            return Posted(_entry_by_key(earning.key), True)
        payouts.reload()
        if earning.key not in payouts.keys:
            audit(
                "post_entry",
                "refused",
                code="payout_cap_exceeded",
                actor=actor,
                order_id=order.id,
                subject_id=earning.beneficiary_id,
                key=earning.key,
                kind=earning.kind,
                amount_fen=earning.amount_fen,
                booked_fen=payouts.booked_fen,
                cap_fen=payouts.cap_fen,
            )
            raise FailedPrecondition(
                f"{ledger.fmt_fen(earning.amount_fen)} would take the payouts on order {order.id} past the cap "
                f"({ledger.fmt_fen(payouts.booked_fen)} of {ledger.fmt_fen(payouts.cap_fen)} booked)",
                "payout_cap_exceeded",
            )
    # posted before, maybe by a call that has not written the entry yet, or that stopped before
    # reversing it for a refund seen earlier or releasing it: finish that too (all idempotent)
    materialize(order.id)
    reconcile_reversals(order.id)
    release_order(order.id, order)
    return Posted(_entry_by_key(earning.key), False)


def _entry_by_key(key: str) -> LedgerEntry:
    entry = LedgerEntry.objects(idempotency_key=key).first()
    if entry is None:  # only while another process is between its reservation and its insert
        raise FailedPrecondition(f"entry {key!r} is being written; retry", "entry_in_progress")
    return entry


def materialize(order_id: str) -> int:
    """Write the order's pending entries (insert_once), then drop them from `pending`.

    A reversal takes its original's current state; pending entries are in posting order, so an
    original is written before its reversals."""
    doc = OrderPayouts._get_collection().find_one({"_id": order_id}, {"pending": 1})
    pending = (doc or {}).get("pending") or []
    written = 0
    for item in pending:
        state = EntryState.FROZEN
        if item.get("reverses"):
            original = LedgerEntry.objects(idempotency_key=item["reverses"]).only("state").first()
            if original is not None:
                state = EntryState(original.state)
        written += insert_once(LedgerEntry(state=state, **item))
    if pending:
        keys = [item["idempotency_key"] for item in pending]
        OrderPayouts._get_collection().update_one(
            {"_id": order_id}, {"$pull": {"pending": {"idempotency_key": {"$in": keys}}}}
        )
    return written


# ── reversals ────────────────────────────────────────────────────────────────────────────────


def record_refund(order: Order, refund_id: str, refunded_total_fen: int, refunded_by_sku: dict[str, int]) -> int:
    """Remember the highest cumulative refunded amount seen, with its split per SKU (refund events
    may arrive in any order, even before the payouts they reverse), then reverse what it requires."""
    ensure_payouts(order)
    OrderPayouts.objects(id=order.id, refunded_fen__lt=refunded_total_fen).update_one(
        set__refunded_fen=refunded_total_fen,
        set__refund_id=refund_id,
        set__refunded_by_sku=refunded_by_sku,
        inc__version=1,
        set__updated_at=now(),
    )
    return reconcile_reversals(order.id)


def reconcile_reversals(order_id: str) -> int:
    """Bring every earning's reversals up to their target (domain.ledger.reversal_target: item by
    item for earnings booked per item, else in proportion of the order); returns fen reversed.

    Compare-and-set on the payout record's version: concurrent refunds and postings on one order
    are serialized, and the reversed amount per earning only grows to its target. The reversal of
    an earning towards the target of refund R has the key `refund:R:<earning key>`: one per
    (refund, earning), since the target of R is reached by its first reversal."""
    for _ in range(MAX_CAS_ATTEMPTS):
        payouts = OrderPayouts.objects(id=order_id).first()
        if payouts is None or payouts.refunded_fen <= 0:
            return 0
        refunded = ledger.Refunded(payouts.paid_fen, payouts.refunded_fen, payouts.paid_by_sku, payouts.refunded_by_sku)
        lines, reversals = [], []
        for line in payouts.lines:
            delta = ledger.reversal_delta(line.amount_fen, line.reversed_fen, refunded, line.basis)
            key = ledger.reversal_key(payouts.refund_id, line.key)
            if delta and key in payouts.keys:
                log.error("reversal %s was posted already yet %d fen remain: skipped", key, delta)
                delta = 0
            lines.append(
                PayoutLine(
                    key=line.key,
                    beneficiary_id=line.beneficiary_id,
                    kind=line.kind,
                    source=line.source,
                    amount_fen=line.amount_fen,
                    reversed_fen=line.reversed_fen + delta,
                    basis=line.basis,
                )
            )
            if delta:
                note = (
                    f"refund {payouts.refund_id}: {ledger.fmt_fen(payouts.refunded_fen)} of "
                    f"{ledger.fmt_fen(payouts.paid_fen)} refunded, reverses {ledger.fmt_fen(delta)} of {line.kind}"
                )
                reversals.append(
                    _pending_entry(key, line.beneficiary_id, Kind.REVERSAL, -delta, order_id, SERVICE, note, line.key)
                )
        if not reversals:
            materialize(order_id)
            return 0
        total = -sum(r["amount_fen"] for r in reversals)
        if OrderPayouts.objects(id=order_id, version=payouts.version).update_one(
            set__lines=lines,
            inc__reversed_fen=total,
            inc__version=1,
            push_all__keys=[r["idempotency_key"] for r in reversals],
            push_all__pending=reversals,
            set__updated_at=now(),
        ):
            materialize(order_id)
            return total
    raise FailedPrecondition(f"order {order_id} changed too often to reverse its payouts; retry", "payouts_busy")


# ── settlement ───────────────────────────────────────────────────────────────────────────────


def release_order(order_id: str, order: Order | None = None) -> int:
    """Frozen entries (earnings and their reversals) of a completed order become available.

    One conditional update: only frozen entries move, so repeating it changes nothing. A fully
    refunded order whose payouts were all reversed is released too (it nets to zero), so frozen
    entries do not linger on orders that will never complete."""
    order = order or Order.objects(id=order_id).only("status", "completed_at").first()
    if order is None:
        return 0
    if not ledger.is_settleable(order.status, order.completed_at):
        payouts = OrderPayouts.objects(id=order_id).only("booked_fen", "reversed_fen", "pending").first()
        fully_reversed = (
            order.status == "refunded"
            and payouts is not None
            and payouts.reversed_fen == payouts.booked_fen
            and not payouts.pending
        )
        if not fully_reversed:
            return 0
    return LedgerEntry.objects(order_id=order_id, state=EntryState.FROZEN).update(
        set__state=EntryState.AVAILABLE, set__settled_at=now()
    )


def release_completed_orders(limit: int = 200) -> int:
    """The sweep behind the order_completed handler: releases up to `limit` orders that still
    hold frozen entries and can be settled; returns how many entries became available."""
    order_ids = [oid for oid in LedgerEntry.objects(state=EntryState.FROZEN).distinct("order_id") if oid]
    candidates = (
        order
        for start in range(0, len(order_ids), 500)
        for order in Order.objects(id__in=order_ids[start : start + 500]).only("id", "status", "completed_at")
        if ledger.is_settleable(order.status, order.completed_at) or order.status == "refunded"
    )
    released_orders = 0

    def release(order: Order) -> int:
        nonlocal released_orders
        moved = release_order(order.id, order)
        released_orders += bool(moved)
        return moved

    # candidates that release nothing yet (refunded, reversal still pending) do not use up the limit
    within_limit = takewhile(lambda _: released_orders < limit, candidates)
    return sweeps.each(within_limit, release, what="payout release of order")


def repair_pending(older_than: timedelta = timedelta(seconds=30), limit: int = 200) -> int:
    """Write entries left in `pending` by a process that stopped between its two writes."""
    stale = OrderPayouts.objects(pending__ne=[], updated_at__lt=now() - older_than).only("id").limit(limit)
    return sweeps.each(stale, lambda payouts: materialize(payouts.id), what="pending payouts of order")


# ── balances ─────────────────────────────────────────────────────────────────────────────────


def balance(user_id: str) -> Balance:
    """The sums of the user's entries by state (one aggregation: never a stored counter)."""
    rows = LedgerEntry.objects(beneficiary_id=user_id).aggregate(
        [{"$group": {"_id": "$state", "total": {"$sum": "$amount_fen"}}}]
    )
    return Balance.from_state_sums({row["_id"]: row["total"] for row in rows})
