"""Order and payment use cases: checkout, expiry, the provider's callback."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import mongoengine as me

from mallkit import ids
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound
from mallkit.events import new_event
from retail_s2b2c.access import ADMIN, get_or_404, require_user
from retail_s2b2c.config import SERVICE, RetailSettings
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Attribution, Order, OrderItem, Payment
from retail_s2b2c.domain import payments
from retail_s2b2c.domain.orders import Line, OrderStatus, PricedLine, check_lines, total_fen

log = logging.getLogger(__name__)


def _reserve(lines: list[Line]) -> list[PricedLine]:
    """Take stock line by line with conditional decrements; undo what was taken on failure."""
    taken: list[PricedLine] = []
    try:
        for line in lines:
            sku = Sku.objects(id=line.sku_id).only("price_fen").first() if ids.is_valid(line.sku_id) else None
            if sku is None:
                raise NotFound(f"sku {line.sku_id!r} not found", "sku_not_found")
            if not Sku.objects(id=line.sku_id, stock__gte=line.quantity).update_one(dec__stock=line.quantity):
                raise FailedPrecondition(f"sku {line.sku_id} has fewer than {line.quantity} in stock", "out_of_stock")
            taken.append(PricedLine(line.sku_id, line.quantity, sku.price_fen))
    except Exception:
        _release(taken)
        raise
    return taken


def _release(lines: list[PricedLine] | list[OrderItem]) -> None:
    for line in lines:
        Sku.objects(id=line.sku_id).update_one(inc__stock=line.quantity)


def _order_event(type_: str, order: Order, **extra: object) -> dict:
    return new_event(
        SERVICE,
        type_,
        {
            "order_id": order.id,
            "buyer_id": order.buyer_id,
            "total_fen": order.total_fen,
            "items": [
                {
                    "sku_id": i.sku_id,
                    "quantity": i.quantity,
                    "unit_price_fen": i.unit_price_fen,
                    "amount_fen": i.amount_fen,
                }
                for i in order.items
            ],
            "attribution": dict(order.attribution.to_mongo()),
            **extra,
        },
    )


def create_order(lines: list[Line], attribution: dict[str, str], idempotency_key: str = "") -> Order:
    """Server-priced checkout; stock is reserved atomically and never goes negative.

    Retrying with the same idempotency key returns the first order and takes no more stock.
    """
    who = require_user()
    if len(idempotency_key) > 128:
        raise InvalidArgument("idempotency key is longer than 128 characters", "invalid_idempotency_key")
    if idempotency_key and (existing := Order.objects(buyer_id=who.user_id, idempotency_key=idempotency_key).first()):
        return existing
    priced = _reserve(check_lines(lines))
    order_id = ids.new_id("ord")
    order = Order(
        id=order_id,
        buyer_id=who.user_id,
        items=[
            OrderItem(sku_id=p.sku_id, quantity=p.quantity, unit_price_fen=p.unit_price_fen, amount_fen=p.amount_fen)
            for p in priced
        ],
        total_fen=total_fen(priced),
        status=OrderStatus.CREATED,
        attribution=Attribution(**attribution),
        idempotency_key=idempotency_key or order_id,
    )
    order.outbox = [_order_event("order_created", order)]
    try:
        order.save(force_insert=True)
    except me.NotUniqueError:
        _release(priced)  # a concurrent retry with the same key won
        return Order.objects.get(buyer_id=who.user_id, idempotency_key=idempotency_key)
    except Exception:
        _release(priced)
        raise
    return order


def get_order(order_id: str) -> Order:
    who = require_user()
    order = get_or_404(Order, order_id, "order")
    if order.buyer_id != who.user_id and not who.has_role(ADMIN):
        raise NotFound(f"order {order_id!r} not found", "order_not_found")  # never reveal others' orders
    return order


def cancel_expired_orders(settings: RetailSettings, limit: int = 200) -> int:
    """Cancel unpaid orders older than the payment timeout and give their stock back."""
    cutoff = now() - timedelta(seconds=settings.unpaid_timeout_seconds)
    cancelled = 0
    for order in Order.objects(status=OrderStatus.CREATED, created_at__lt=cutoff).limit(limit):
        event = _order_event("order_cancelled", order, reason="payment_timeout")
        # only the process whose conditional update wins gives the stock back
        if Order.objects(id=order.id, status=OrderStatus.CREATED).update_one(
            set__status=OrderStatus.CANCELLED, set__cancelled_at=now(), push__outbox=event
        ):
            _release(order.items)
            cancelled += 1
    return cancelled


@dataclass(frozen=True)
class PaymentRequest:
    payment: Payment
    provider_params: dict[str, str]


def create_payment(order_id: str, settings: RetailSettings) -> PaymentRequest:
    order = get_order(order_id)
    if order.status != OrderStatus.CREATED:
        raise FailedPrecondition(f"order {order.id} is {order.status}, not awaiting payment", "order_not_payable")
    payment = Payment.objects(order_id=order.id).first()
    if payment is None:
        try:
            payment = Payment(id=ids.new_id("pay"), order_id=order.id, amount_fen=order.total_fen)
            payment.save(force_insert=True)
        except me.NotUniqueError:
            payment = Payment.objects.get(order_id=order.id)
    params = {
        "provider": "simulated",
        "prepay_id": payment.id,
        "out_trade_no": order.id,
        "amount_fen": str(payment.amount_fen),
        "nonce": secrets.token_hex(8),
        "notify_url": settings.notify_url,
    }
    return PaymentRequest(payment, params)


@dataclass(frozen=True)
class NotifyResult:
    order_id: str
    newly_paid: bool


def handle_payment_notify(body: bytes, signature: str, settings: RetailSettings) -> NotifyResult:
    """Idempotent: only the delivery whose conditional update wins marks the order paid and
    raises order_paid (in the same write); every later delivery of that payment is acknowledged."""
    notice = payments.verify(body, signature, settings.payment_secret)
    order = Order.objects(id=notice.order_id).first() if ids.is_valid(notice.order_id) else None
    if order is None:
        raise NotFound(f"order {notice.order_id!r} not found", "order_not_found")
    payments.check_amount(notice, order.total_fen)
    paid_at = now()
    event = _order_event("order_paid", order, transaction_id=notice.transaction_id, paid_at=paid_at.isoformat())
    if Order.objects(id=order.id, status=OrderStatus.CREATED).update_one(
        set__status=OrderStatus.PAID,
        set__paid_at=paid_at,
        set__transaction_id=notice.transaction_id,
        push__outbox=event,
    ):
        Payment.objects(order_id=order.id, status="pending").update_one(
            set__status="paid", set__transaction_id=notice.transaction_id, set__paid_at=paid_at
        )
        log.info("order %s paid", order.id, extra={"order_id": order.id, "amount_fen": notice.amount_fen})
        return NotifyResult(order.id, True)
    order.reload()
    if order.status == OrderStatus.PAID and order.transaction_id == notice.transaction_id:
        return NotifyResult(order.id, False)  # a duplicate delivery
    if order.status == OrderStatus.PAID:
        log.error("order %s paid twice (%s, %s): needs a refund", order.id, order.transaction_id, notice.transaction_id)
        return NotifyResult(order.id, False)
    raise FailedPrecondition(f"order {order.id} is {order.status} and cannot be paid", "order_not_payable")
