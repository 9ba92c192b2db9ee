"""Refund use cases: a buyer asks, a seller decides, the (simulated) provider pays back.

Exactly-once without transactions: the order document applies a refund in one conditional
write (pending_refund_id == this refund) that also records it in applied_refund_ids and raises
order_refunded; every step before and after is idempotent, so a review may be retried after
any crash and ends in the same state.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import suppress

import mongoengine as me

from mallkit import ids, paging
from mallkit.access import ADMIN, get_or_404, require_user
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.documents.orders import Order, Refund, RefundLine
from retail_s2b2c.domain.orders import (
    REFUNDABLE,
    Line,
    OrderStatus,
    PricedLine,
    check_reason,
    check_refundable,
    refund_lines,
    refunded_by_sku,
    remaining_lines,
)
from retail_s2b2c.domain.payments import simulated_refund_id
from retail_s2b2c.service import stock_returns
from retail_s2b2c.service.orders import get_order, order_event, owns_brands_of, require_buyer, sees

log = logging.getLogger(__name__)

# a full refund races the buyer's requests for the review slot; past this many rounds, retry later
FULL_REFUND_ROUNDS = 5


def request_refund(order_id: str, lines: list[Line], reason: str, idempotency_key: str) -> Refund:
    """The buyer asks for some or all items back; the amount is what was paid for them."""
    who = require_user()
    if not 1 <= len(idempotency_key) <= 128:
        raise InvalidArgument("an idempotency key of 1..128 characters is required", "invalid_idempotency_key")
    if existing := Refund.objects(buyer_id=who.user_id, idempotency_key=idempotency_key).first():
        return existing
    order = get_order(order_id)
    require_buyer(order, "asks for a refund")
    check_refundable(order.status, order.pending_refund_id)
    purchased = {line.sku_id: line for line in _purchased(order)}
    priced = refund_lines(lines, purchased, dict(order.refunded_quantities))
    refund = Refund(
        id=ids.new_id("rfd"),
        order_id=order.id,
        buyer_id=who.user_id,
        lines=[RefundLine(sku_id=r.sku_id, quantity=r.quantity, amount_fen=r.amount_fen) for r in priced],
        amount_fen=sum(r.amount_fen for r in priced),
        reason=check_reason(reason),
        idempotency_key=idempotency_key,
    )
    try:
        refund.save(force_insert=True)
    except me.NotUniqueError:
        return Refund.objects.get(buyer_id=who.user_id, idempotency_key=idempotency_key)
    # one refund under review per order: claim the slot, or withdraw this request; only while no
    # refund has been applied since this one was priced (it could otherwise ask for units twice)
    if not Order.objects(
        id=order.id, status__in=list(REFUNDABLE), pending_refund_id="", refunded_fen=order.refunded_fen
    ).update_one(set__pending_refund_id=refund.id):
        refund.delete()
        order.reload()
        check_refundable(order.status, order.pending_refund_id)
        raise FailedPrecondition("the order changed; try again", "order_changed")
    return refund


def _purchased(order: Order) -> list[PricedLine]:
    """The order's lines at what was paid for them, as refunds are priced."""
    return [PricedLine(item.sku_id, item.quantity, item.unit_price_fen) for item in order.items]


def _reviewable(refund_id: str) -> tuple[Refund, Order]:
    """The refund and its order, for an admin or the owner of the brand of every refunded line:
    the supplier who shipped the goods and took the money decides, not the store that earns a
    commission on the sale (it may be the buyer's own), and no one decides their own refund."""
    who = require_user()
    refund = get_or_404(Refund, refund_id, "refund")
    order = Order.objects.get(id=refund.order_id)
    if not sees(order, who):  # a refund is seen with its order (list_refunds)
        raise NotFound(f"refund {refund_id!r} not found", "refund_not_found")
    if refund.buyer_id == who.user_id:
        raise PermissionDenied("you cannot decide your own refund", "own_refund")
    if not who.has_role(ADMIN) and not owns_brands_of(who, [line.sku_id for line in refund.lines]):
        raise PermissionDenied("the brand owner of every refunded item (or an admin) decides", "not_refund_reviewer")
    return refund, order


def review_refund(refund_id: str, approve: bool, reason: str = "") -> Refund:
    """A seller approves (the provider refunds, the order applies it) or rejects with a reason."""
    refund, order = _reviewable(refund_id)
    who = require_user()
    if not approve:
        reason = check_reason(reason)
        Refund.objects(id=refund.id, status="requested").update_one(
            set__status="rejected", set__reject_reason=reason, set__reviewed_by=who.user_id
        )
        refund.reload()
        if refund.status != "rejected":
            raise FailedPrecondition(f"a {refund.status} refund cannot be rejected", "refund_already_decided")
        # also on a retry: a crash after the rejection must not leave the order's slot taken
        Order.objects(id=order.id, pending_refund_id=refund.id).update_one(set__pending_refund_id="")
        return refund
    Refund.objects(id=refund.id, status="requested").update_one(set__status="approved", set__reviewed_by=who.user_id)
    refund.reload()
    if refund.status not in ("approved", "refunded"):
        raise FailedPrecondition(f"a {refund.status} refund cannot be approved", "refund_already_decided")
    if refund.status == "approved":
        _pay_back(refund, order)
    return refund.reload()


def _pay_back(refund: Refund, order: Order) -> None:
    """Apply the approved refund to `order` as read (the event reports the order's refunds after
    it, so the write is conditional on no other refund having been applied since the read)."""
    provider_refund_id = simulated_refund_id(refund.id)  # keyed by our refund id: a retry refunds once
    refunded_total = order.refunded_fen + refund.amount_fen
    fully = refunded_total == order.total_fen
    quantities = Counter({line.sku_id: line.quantity for line in refund.lines})
    quantities_after = Counter(order.refunded_quantities) + quantities
    event = order_event(
        "order_refunded",
        order,
        refund_id=refund.id,
        amount_fen=refund.amount_fen,
        refunded_total_fen=refunded_total,
        refunded_by_sku_fen=refunded_by_sku(_purchased(order), quantities_after),
        fully_refunded=fully,
    )
    event["data"]["items"] = [dict(line.to_mongo()) for line in refund.lines]  # the refunded lines
    updates = {f"inc__refunded_quantities__{sku_id}": quantity for sku_id, quantity in quantities.items()}
    if fully:
        updates["set__status"] = OrderStatus.REFUNDED
    # nothing left the warehouse (no order ships while a refund holds its slot): units sellable again
    stock_back = stock_returns.recorded(f"{order.id}:{refund.id}", refund.lines) if order.shipped_at is None else None
    if stock_back:
        updates["push__stock_returns"] = stock_back
    applied = refunded_total <= order.total_fen and Order.objects(  # never more back than was paid
        id=order.id, pending_refund_id=refund.id, applied_refund_ids__ne=refund.id, refunded_fen=order.refunded_fen
    ).update_one(
        set__pending_refund_id="",
        inc__refunded_fen=refund.amount_fen,
        push__applied_refund_ids=refund.id,
        push__outbox=event,
        **updates,
    )
    if applied and stock_back:
        stock_returns.give_back(order.id, stock_back)
    # refunded only once the order holds it: one it did not take (its slot is another's) stays
    # approved for a retry to apply, rather than showing a refund the order and wallet never saw
    if not applied and not Order.objects(id=order.id, applied_refund_ids=refund.id).only("id").first():
        log.warning("refund %s is not applied to order %s yet", refund.id, order.id)
        return
    Refund.objects(id=refund.id, status="approved").update_one(
        set__status="refunded", set__provider_refund_id=provider_refund_id, set__refunded_at=now()
    )
    log.info("refund %s of %d fen on order %s", refund.id, refund.amount_fen, order.id)


# ── full refunds without review (a failed group team, a released seat) ──────────────────────────


def refund_in_full(order: Order, reason: str, reviewer: str) -> Refund | None:
    """Refund everything not refunded yet, approved by `reviewer` (a service): exactly once.

    The refund's id is derived from the order and claims the order's review slot before it is
    priced; while it holds the slot no other refund can apply, so every racer and redelivery prices
    the same remainder, inserts the same document (one wins the unique keys) and _pay_back applies
    it once. A buyer's refund already under review is approved by `reviewer` and paid back first
    (the full refund grants it anyway and the buyer sees their own request honoured), then the
    rest. Returns None for an order with nothing left to refund (cancelled, or refunded before).
    """
    refund_id = f"rfd_void_{order.id}"
    for _ in range(FULL_REFUND_ROUNDS):
        if order.pending_refund_id == refund_id or _claim(order.id, refund_id):
            return _approve_and_pay(order.reload(), refund_id, reason, reviewer)
        order.reload()
        if order.pending_refund_id not in ("", refund_id):  # the buyer's request is under review
            _settle_pending(order, reviewer)
            order.reload()
        elif not order.pending_refund_id and order.status not in REFUNDABLE:
            return _finish(order, refund_id)
        # else a racer claimed the slot for this very refund (join it) or the slot came free: go again
    raise FailedPrecondition(f"order {order.id} kept changing during its full refund; try again", "order_changed")


def _claim(order_id: str, refund_id: str) -> bool:
    return bool(
        Order.objects(
            id=order_id, status__in=list(REFUNDABLE), pending_refund_id="", applied_refund_ids__ne=refund_id
        ).update_one(set__pending_refund_id=refund_id)
    )


def _approve_and_pay(order: Order, refund_id: str, reason: str, reviewer: str) -> Refund | None:
    lines = remaining_lines(_purchased(order), dict(order.refunded_quantities))
    refund = Refund(
        id=refund_id,
        order_id=order.id,
        buyer_id=order.buyer_id,
        lines=[RefundLine(sku_id=r.sku_id, quantity=r.quantity, amount_fen=r.amount_fen) for r in lines],
        amount_fen=sum(r.amount_fen for r in lines),
        reason=reason,
        status="approved",
        reviewed_by=reviewer,
        idempotency_key=f"void:{order.id}",
    )
    with suppress(me.NotUniqueError):  # a racer or an earlier delivery priced the same remainder first
        refund.save(force_insert=True)
    return _finish(order, refund_id)


def _settle_pending(order: Order, reviewer: str) -> None:
    """Approve and pay back the refund under review; free a slot a crashed rejection left taken."""
    pending = Refund.objects(id=order.pending_refund_id).first()
    if pending is not None:
        Refund.objects(id=pending.id, status="requested").update_one(set__status="approved", set__reviewed_by=reviewer)
        pending.reload()
    if pending is not None and pending.status == "approved":
        _pay_back(pending, order)
    else:
        Order.objects(id=order.id, pending_refund_id=order.pending_refund_id).update_one(set__pending_refund_id="")


def _finish(order: Order, refund_id: str) -> Refund | None:
    """Pay back the full refund if it is still approved (idempotent: also after a crash that
    applied it to the order but did not mark it refunded)."""
    refund = Refund.objects(id=refund_id).first()
    if refund is not None and refund.status == "approved":
        _pay_back(refund, order)
        refund.reload()
    return refund


def list_refunds(order_id: str, cursor: str, limit: int) -> tuple[list[Refund], str]:
    """The refunds of an order, for its buyer and its sellers."""
    order = get_order(order_id)
    page = paging.parse(cursor, limit)
    query = Refund.objects(order_id=order.id)
    if page.after_id:
        query = query.filter(id__gt=page.after_id)
    found = list(query.order_by("id").limit(page.limit))
    return found, paging.next_cursor([r.id for r in found], page.limit)
