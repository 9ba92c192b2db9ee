"""retail-s2b2c use cases: load, apply the domain rules, save (with events in the outbox)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import mongoengine as me

from mallkit import context, ids, paging
from mallkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from mallkit.events import new_event
from retail_s2b2c.config import SERVICE, RetailSettings
from retail_s2b2c.documents import Attribution, Brand, Order, OrderItem, Payment, Product, Sku, now
from retail_s2b2c.domain import catalog, payments
from retail_s2b2c.domain.orders import Line, OrderStatus, PricedLine, check_lines, total_fen

log = logging.getLogger(__name__)

ADMIN = "admin"
BRAND = "brand"


def _require_role(*roles: str) -> context.Caller:
    who = context.caller()
    if not who.authenticated:
        raise PermissionDenied("sign in first", "unauthenticated")
    if not any(who.has_role(r) for r in roles):
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}", "role_required")
    return who


def _require_user() -> context.Caller:
    who = context.caller()
    if not who.authenticated:
        raise PermissionDenied("sign in first", "unauthenticated")
    return who


def _get(document: type[me.Document], object_id: str, what: str) -> me.Document:
    found = document.objects(id=object_id).first() if ids.is_valid(object_id) else None
    if found is None:
        raise NotFound(f"{what} {object_id!r} not found", f"{what}_not_found")
    return found


# ── supply ──────────────────────────────────────────────────────────────────────────────────


def create_brand(name: str) -> Brand:
    who = _require_role(BRAND, ADMIN)
    brand = Brand(id=ids.new_id("brd"), owner_id=who.user_id, name=catalog.check_name(name, "name", 60))
    try:
        brand.save(force_insert=True)
    except me.NotUniqueError as exc:
        raise AlreadyExists(f"a brand named {brand.name!r} exists", "brand_name_taken") from exc
    return brand


def get_brand(brand_id: str) -> Brand:
    return _get(Brand, brand_id, "brand")


def create_product(brand_id: str, title: str, category: str, skus: list[catalog.NewSku]) -> tuple[Product, list[Sku]]:
    who = _require_role(BRAND, ADMIN)
    brand = get_brand(brand_id)
    if brand.owner_id != who.user_id and not who.has_role(ADMIN):
        raise PermissionDenied("only the brand's owner adds its products", "not_brand_owner")
    checked = catalog.check_skus(skus)
    product = Product(
        id=ids.new_id("prd"),
        brand_id=brand.id,
        title=catalog.check_name(title, "title", 100),
        category=category.strip()[:40],
    )
    rows = [
        Sku(id=ids.new_id("sku"), product_id=product.id, spec=s.spec, price_fen=s.price_fen, stock=s.stock)
        for s in checked
    ]
    # SKUs first: a product document only becomes visible once all its SKUs exist
    Sku.objects.insert(rows, load_bulk=False)
    product.save(force_insert=True)
    return product, rows


def get_product(product_id: str) -> tuple[Product, list[Sku]]:
    product = _get(Product, product_id, "product")
    return product, list(Sku.objects(product_id=product.id).order_by("id"))


def list_products(cursor: str, limit: int, brand_id: str = "") -> tuple[list[tuple[Product, list[Sku]]], str]:
    page = paging.parse(cursor, limit)
    query = Product.objects(brand_id=brand_id) if brand_id else Product.objects
    if page.after_id:
        query = query.filter(id__gt=page.after_id)
    products = list(query.order_by("id").limit(page.limit))
    skus: dict[str, list[Sku]] = {p.id: [] for p in products}
    for sku in Sku.objects(product_id__in=list(skus)).order_by("id"):
        skus[sku.product_id].append(sku)
    return [(p, skus[p.id]) for p in products], paging.next_cursor([p.id for p in products], page.limit)


def get_sku(sku_id: str) -> Sku:
    return _get(Sku, sku_id, "sku")


# ── orders ──────────────────────────────────────────────────────────────────────────────────


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
    who = _require_user()
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
    who = _require_user()
    order = _get(Order, order_id, "order")
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


# ── payments ────────────────────────────────────────────────────────────────────────────────


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
