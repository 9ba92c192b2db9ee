"""Order use cases: checkout, the order's lifecycle (ship, receive, complete, expire) and reads."""

from __future__ import annotations

import logging

import mongoengine as me

from mallkit import context, ids, paging, sweeps
from mallkit.access import ADMIN, get_or_404, require_user
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from mallkit.events import new_event
from retail_s2b2c.config import SERVICE, RetailSettings
from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.documents.orders import Attribution, Order, OrderItem
from retail_s2b2c.documents.stores import Store
from retail_s2b2c.domain.orders import (
    SHIPPABLE,
    Line,
    OrderStatus,
    PricedLine,
    Quote,
    Windows,
    awaits_group,
    check_group_formed,
    check_lines,
    check_quote,
    check_tracking,
    total_fen,
)
from retail_s2b2c.service import stock_holds, stock_returns, stores

log = logging.getLogger(__name__)


# ── checkout ──────────────────────────────────────────────────────────────────────────────────


def _unit_prices(lines: list[Line], attribution: dict[str, str], quote: Quote | None) -> dict[str, int]:
    """The server's price per SKU: the quote's, else the store's, else the platform's."""
    if quote is not None:
        return quote.unit_price_fen
    if attribution.get("store_id"):
        return {line.sku_id: stores.store_price_fen(attribution["store_id"], line.sku_id) for line in lines}
    found = {s.id: s.price_fen for s in Sku.objects(id__in=[line.sku_id for line in lines]).only("price_fen")}
    return {line.sku_id: found[line.sku_id] for line in lines if line.sku_id in found}


def _reserve(order_id: str, lines: list[Line], prices: dict[str, int]) -> list[PricedLine]:
    """Take stock line by line, held for the order (service.stock_holds); on failure, give back
    what was taken."""
    taken: list[PricedLine] = []
    try:
        for line in lines:
            if line.sku_id not in prices:
                raise NotFound(f"sku {line.sku_id!r} not found", "sku_not_found")
            if not stock_holds.take(line.sku_id, line.quantity, order_id):
                sku = Sku.objects(id=line.sku_id).only("sellable").first()
                if sku is None:
                    raise NotFound(f"sku {line.sku_id!r} not found", "sku_not_found")
                if not sku.sellable:
                    raise FailedPrecondition(f"sku {line.sku_id} is not on sale", "sku_not_sellable")
                raise FailedPrecondition(f"sku {line.sku_id} has fewer than {line.quantity} in stock", "out_of_stock")
            taken.append(PricedLine(line.sku_id, line.quantity, prices[line.sku_id]))
    except Exception:
        stock_holds.give_back(order_id, taken)
        raise
    return taken


def order_event(type_: str, order: Order, **extra: object) -> dict:
    """An order event with the data every order event shares (docs/events.md)."""
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
            "distribution_enabled": order.distribution_enabled,
            "idempotency_key": order.idempotency_key,
            **extra,
        },
    )


def create_order(
    lines: list[Line], attribution: dict[str, str], idempotency_key: str = "", quote: Quote | None = None
) -> Order:
    """Server-priced checkout; stock is reserved atomically and never goes negative.

    Prices come from a quote (only from the service that made it), else the attributed store's
    price, else the platform's. A consumer bound to a store who buys outside any store is
    attributed to that store. Retrying with the same idempotency key returns the first order.
    """
    who = require_user()
    if len(idempotency_key) > 128:
        raise InvalidArgument("idempotency key is longer than 128 characters", "invalid_idempotency_key")
    # a service's keys live apart from the buyer's own: a buyer who learned a key groupbuy will use
    # for their seat ("seat:<id>") must not answer groupbuy's request with an order of their making
    if idempotency_key and who.service:
        idempotency_key = f"{who.service}/{idempotency_key}"
    if idempotency_key and (existing := Order.objects(buyer_id=who.user_id, idempotency_key=idempotency_key).first()):
        return existing
    lines = check_lines(lines)
    if quote is not None:
        check_quote(quote, who.service, attribution, lines)
    prices = _unit_prices(lines, attribution, quote)
    if quote is None and not attribution.get("store_id") and (bound := stores.bound_store_id(who.user_id)):
        # bought on the platform, at the platform's price; the bound store still earns on it
        attribution = {**attribution, "store_id": bound}
    order_id = ids.new_id("ord")
    priced = _reserve(order_id, lines, prices)
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
        distribution_enabled=quote.distribution_enabled if quote is not None else True,
        awaiting_group=awaits_group(attribution, quote),
    )
    order.outbox = [order_event("order_created", order)]
    try:
        order.save(force_insert=True)
    except me.NotUniqueError:
        stock_holds.give_back(order_id, priced)
        if idempotency_key and (first := Order.objects(buyer_id=who.user_id, idempotency_key=idempotency_key).first()):
            return first  # a concurrent retry with the same key won
        # this checkout stalled past its holds' lease and the sweep abandoned the order
        raise Unavailable("the checkout took too long and was abandoned; try again", "checkout_abandoned") from None
    # any other error: the order may or may not be in; the sweep settles the holds either way
    stock_holds.keep(order_id, priced)
    return order


# ── reads ─────────────────────────────────────────────────────────────────────────────────────


def is_seller(order: Order, who: context.Caller) -> bool:
    """Admins, the owner of the attributed store, and the owners of the brands of its items."""
    if who.has_role(ADMIN):
        return True
    store_id = order.attribution.store_id
    if store_id and Store.objects(id=store_id, owner_id=who.user_id).only("id").first():
        return True
    brand_ids = _brand_ids([i.sku_id for i in order.items])
    return bool(Brand.objects(id__in=brand_ids, owner_id=who.user_id).only("id").first())


def owns_brands_of(who: context.Caller, sku_ids: list[str]) -> bool:
    """Whether `who` owns the brand of every one of these SKUs."""
    brand_ids = _brand_ids(sku_ids)
    return bool(brand_ids) and Brand.objects(id__in=brand_ids, owner_id=who.user_id).count() == len(brand_ids)


def _brand_ids(sku_ids: list[str]) -> list[str]:
    product_ids = Sku.objects(id__in=sku_ids).distinct("product_id")
    return Product.objects(id__in=product_ids).distinct("brand_id")


def sees(order: Order, who: context.Caller) -> bool:
    """The buyer, the order's sellers and admins see an order (and its refunds); no one else."""
    return order.buyer_id == who.user_id or is_seller(order, who)


def get_order(order_id: str) -> Order:
    """The order, for those who see it; to anyone else it does not exist."""
    order = get_or_404(Order, order_id, "order")
    if not sees(order, require_user()):
        raise NotFound(f"order {order_id!r} not found", "order_not_found")
    return order


def require_buyer(order: Order, action: str) -> None:
    """For those who see the order (get_order): only its buyer `action`s (pays, receives, asks back)."""
    if order.buyer_id != require_user().user_id:
        raise PermissionDenied(f"only the buyer {action}", "not_buyer")


def list_orders(cursor: str, limit: int, store_id: str = "", status: str = "") -> tuple[list[Order], str]:
    """Newest first: the caller's own orders, or (store_id) the orders of a store the caller owns."""
    who = require_user()
    page = paging.parse(cursor, limit)
    if store_id:
        store = get_or_404(Store, store_id, "store")
        if store.owner_id != who.user_id and not who.has_role(ADMIN):
            raise PermissionDenied("only the store's owner sees its orders", "not_store_owner")
        query = Order.objects(attribution__store_id=store_id)
    else:
        query = Order.objects(buyer_id=who.user_id)
    if status:
        query = query.filter(status=status)
    return paging.newest_first(query, page)


# ── lifecycle ─────────────────────────────────────────────────────────────────────────────────


def ship_order(order_id: str, carrier: str, tracking_number: str) -> Order:
    order = get_order(order_id)
    if not is_seller(order, require_user()):
        raise PermissionDenied("only the order's sellers ship it", "not_seller")
    carrier, tracking_number = check_tracking(carrier, tracking_number)
    check_group_formed(order.awaiting_group)  # never set again once cleared: no need to re-check it below
    if order.pending_refund_id:
        raise FailedPrecondition("settle the refund under review before shipping", "refund_pending")
    at = now()
    shipped = Order.objects(id=order.id, status__in=list(SHIPPABLE), pending_refund_id="").update_one(
        set__status=OrderStatus.SHIPPED,
        set__shipped_at=at,
        set__carrier=carrier,
        set__tracking_number=tracking_number,
        push__outbox=order_event("order_shipped", order, carrier=carrier, tracking_number=tracking_number),
    )
    order.reload()
    if not shipped and not (order.status == OrderStatus.SHIPPED and order.tracking_number == tracking_number):
        raise FailedPrecondition(f"a {order.status} order cannot be shipped", "order_not_shippable")
    return order


def _receive(order: Order, how: str) -> bool:
    return bool(
        Order.objects(id=order.id, status=OrderStatus.SHIPPED).update_one(
            set__status=OrderStatus.RECEIVED,
            set__received_at=now(),
            push__outbox=order_event("order_received", order, how=how),
        )
    )


def confirm_receipt(order_id: str) -> Order:
    order = get_order(order_id)
    require_buyer(order, "confirms receipt")
    if not _receive(order, "buyer") and order.reload().status != OrderStatus.RECEIVED:
        raise FailedPrecondition(f"a {order.status} order cannot be received", "order_not_receivable")
    return order.reload()


def auto_receive_due(windows: Windows, limit: int = 200) -> int:
    """Receive orders shipped longer ago than the auto-receive window."""
    due = Order.objects(status=OrderStatus.SHIPPED, shipped_at__lt=windows.receive_due_before(now())).limit(limit)
    return sweeps.each(due, lambda order: _receive(order, "auto"), what="auto-receipt of order")


def complete_due(windows: Windows, limit: int = 200) -> int:
    """Complete received orders whose after-sale window has closed (no refund under review).
    Completion is what makes their frozen payouts available (the wallet listens to order_completed)."""
    cutoff = windows.complete_due_before(now())
    due = Order.objects(status=OrderStatus.RECEIVED, received_at__lt=cutoff, pending_refund_id="").limit(limit)
    return sweeps.each(due, _complete, what="completion of order")


def _complete(order: Order) -> bool:
    at = now()
    return bool(
        Order.objects(id=order.id, status=OrderStatus.RECEIVED, pending_refund_id="").update_one(
            set__status=OrderStatus.COMPLETED,
            set__completed_at=at,
            push__outbox=order_event("order_completed", order, completed_at=at.isoformat()),
        )
    )


def cancel_unpaid(order: Order, reason: str) -> bool:
    """created → cancelled, with order_cancelled and the stock's return in the same conditional
    write: only the caller whose write wins gives the stock back, so a race (timer, group void,
    redelivery) returns it once, and a crash right after the write leaves the return to the sweep."""
    event = order_event("order_cancelled", order, reason=reason)
    stock_back = stock_returns.recorded(f"{order.id}:cancelled", order.items)
    if Order.objects(id=order.id, status=OrderStatus.CREATED).update_one(
        set__status=OrderStatus.CANCELLED, set__cancelled_at=now(), push__outbox=event, push__stock_returns=stock_back
    ):
        stock_returns.give_back(order.id, stock_back)
        return True
    return False


def cancel_expired_orders(settings: RetailSettings, limit: int = 200) -> int:
    """Cancel unpaid orders older than the payment timeout and give their stock back."""
    cutoff = now() - settings.unpaid_timeout
    due = Order.objects(status=OrderStatus.CREATED, created_at__lt=cutoff).limit(limit)
    return sweeps.each(due, lambda order: cancel_unpaid(order, "payment_timeout"), what="payment timeout of order")
