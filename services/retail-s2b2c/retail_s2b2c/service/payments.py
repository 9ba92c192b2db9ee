"""Payment use cases: the provider's parameters and its signed, idempotent notify callback."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import mongoengine as me

from mallkit import ids, mongo
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, NotFound
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.orders import Order, Payment, ReturnedPayment
from retail_s2b2c.domain import payments
from retail_s2b2c.domain.orders import OrderStatus
from retail_s2b2c.service import stores
from retail_s2b2c.service.orders import get_order, order_event, require_buyer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentRequest:
    payment: Payment
    provider_params: dict[str, str]


def create_payment(order_id: str, settings: RetailSettings) -> PaymentRequest:
    order = get_order(order_id)
    require_buyer(order, "pays for an order")
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
    event = order_event("order_paid", order, transaction_id=notice.transaction_id, paid_at=paid_at.isoformat())
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
        if order.attribution.store_id:
            stores.renew_binding(order.buyer_id, order.attribution.store_id)
        return NotifyResult(order.id, True)
    order.reload()
    if order.transaction_id != notice.transaction_id:
        _return_payment(order, notice)
    return NotifyResult(order.id, False)  # a duplicate delivery (whatever became of the order since), or returned


def _return_payment(order: Order, notice: payments.PaymentNotice) -> None:
    """The payer paid an order that was cancelled meanwhile (the timeout, a group void) or that
    another transaction had paid: the simulated provider refunds this transaction, once however
    often its callback comes, and the callback is acknowledged so the provider stops retrying."""
    returned_id = f"ret_{notice.transaction_id}"
    returned = ReturnedPayment(
        id=returned_id,
        order_id=order.id,
        transaction_id=notice.transaction_id,
        amount_fen=notice.amount_fen,
        reason=f"order_{order.status}",
        provider_refund_id=payments.simulated_refund_id(returned_id),
    )
    if mongo.insert_once(returned):
        log.warning("payment %s could not pay order %s (%s): returned to the payer", notice.transaction_id, order.id,
                    order.status, extra={"order_id": order.id, "amount_fen": notice.amount_fen})  # fmt: skip
