"""Stock taken for an order that is still being written: never lost, never counted twice.

Checkout takes stock before it inserts the order, and a process can stop in between. So each
line's conditional decrement also leaves a hold on the SKU naming the order (`Sku.holds`: order,
quantity, when); once the order is in, checkout drops its holds. A hold ends one of two ways, each
a single write on the SKU, conditional on the hold still being there: kept (dropped, the units
belong to the order) or given back (stock += quantity, dropped).

Checkout gives its holds back when it fails before its order exists (out of stock on a later
line, a concurrent retry with the same key won). A hold older than `LEASE` is settled by the sweep:
kept if its order exists; if not, the sweep first takes the order's id with an abandoned
placeholder (`Order.abandoned`), so a checkout that wakes up late cannot write the order any more,
and then gives the units back. Whoever inserts the id first decides, so an order never exists
without its units.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from mallkit import sweeps
from mallkit.clock import now
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain.orders import OrderStatus
from retail_s2b2c.service.stock_returns import StockLine

LEASE = timedelta(minutes=5)


def take(sku_id: str, quantity: int, order_id: str) -> bool:
    """Decrement a sellable SKU's stock by `quantity` if it has that many, holding them for the order."""
    hold = {"order": order_id, "quantity": quantity, "at": now()}
    taken = Sku._get_collection().update_one(
        {"_id": sku_id, "sellable": True, "stock": {"$gte": quantity}},
        {"$inc": {"stock": -quantity}, "$push": {"holds": hold}},
    )
    return bool(taken.modified_count)


def _give_back(sku_id: str, order_id: str, quantity: int) -> bool:
    held = {"_id": sku_id, "holds.order": order_id}
    change = {"$inc": {"stock": quantity}, "$pull": {"holds": {"order": order_id}}}
    return bool(Sku._get_collection().update_one(held, change).modified_count)


def _keep(sku_id: str, order_id: str) -> bool:
    held = {"_id": sku_id, "holds.order": order_id}
    return bool(Sku._get_collection().update_one(held, {"$pull": {"holds": {"order": order_id}}}).modified_count)


def give_back(order_id: str, lines: Iterable[StockLine]) -> None:
    """Checkout failed before its order existed: its holds go back to stock (each at most once)."""
    for line in lines:
        _give_back(line.sku_id, order_id, line.quantity)


def keep(order_id: str, lines: Iterable[StockLine]) -> None:
    """The order is in: its units are its own (a hold the sweep kept already is gone)."""
    for line in lines:
        _keep(line.sku_id, order_id)


def _abandoned(order_id: str) -> bool:
    """Whether the order was abandoned: taken by a placeholder now, if it does not exist."""
    try:
        Order._get_collection().insert_one(
            {
                "_id": order_id,
                "buyer_id": "",  # nobody's: no buyer or seller lists it
                "items": [],
                "total_fen": 0,
                "status": OrderStatus.CANCELLED.value,
                "cancelled_at": now(),
                "idempotency_key": f"abandoned:{order_id}",
                "abandoned": True,
                "outbox": [],
            }
        )
        return True
    except DuplicateKeyError:
        return bool(Order.objects(id=order_id).scalar("abandoned").first())


def _settle(item: tuple[str, dict[str, Any]]) -> bool:
    sku_id, hold = item
    if _abandoned(hold["order"]):
        return _give_back(sku_id, hold["order"], hold["quantity"])
    return _keep(sku_id, hold["order"])


def settle_stale(limit: int = 200) -> int:
    """The sweep: holds older than the lease are kept by their order, or given back if it was
    never written. Returns how many holds it settled."""
    cutoff = now() - LEASE
    stale = Sku._get_collection().find({"holds.at": {"$lt": cutoff}}, {"holds": 1}).limit(limit)
    work = [(doc["_id"], hold) for doc in stale for hold in doc["holds"] if hold["at"] < cutoff]
    return sweeps.each(work, _settle, what="stock hold (sku, hold)")
