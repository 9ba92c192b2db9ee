"""Stock taken for an order that is still being written: never lost, never counted twice.

Checkout takes stock before it inserts the order, and a process can stop in between. So each
line's conditional decrement also leaves a hold on the SKU naming the order (`Sku.holds`: order,
quantity, when); once the order is in, checkout drops its holds. A hold can only end one of two
ways, each a single write on the SKU, conditional on the hold still being there:

- kept: the hold is dropped, the units belong to the order;
- given back: stock += quantity and the hold is dropped, with a key (`Sku.returns`, as in
  service.stock_returns) saying so.

Checkout gives its holds back when it fails before the order exists (out of stock on a later
line, a concurrent retry with the same key won). A hold older than `LEASE` is settled by the sweep:
kept if its order exists, else given back. A checkout that stalled past the lease and then finds a
hold given back cancels its order (the units are no longer its own), giving back only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from mallkit import sweeps
from mallkit.clock import now
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.service.stock_returns import StockLine

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


def take(sku_id: str, quantity: int, order_id: str) -> bool:
    """Decrement a sellable SKU's stock by `quantity` if it has that many, holding them for the order."""
    hold = {"order": order_id, "quantity": quantity, "at": now()}
    taken = Sku._get_collection().update_one(
        {"_id": sku_id, "sellable": True, "stock": {"$gte": quantity}},
        {"$inc": {"stock": -quantity}, "$push": {"holds": hold}},
    )
    return bool(taken.modified_count)


def _returned_key(order_id: str) -> str:
    return f"hold:{order_id}"


def _give_back(sku_id: str, order_id: str, quantity: int, *, say_so: bool) -> bool:
    """`say_so`: leave the key that tells a stalled checkout its units went back (the sweep's
    case; a checkout giving back its own holds writes no order, so nobody will ask)."""
    change: dict[str, Any] = {"$inc": {"stock": quantity}, "$pull": {"holds": {"order": order_id}}}
    if say_so:
        change["$push"] = {"returns": {"key": _returned_key(order_id), "at": now()}}
    gave = Sku._get_collection().update_one({"_id": sku_id, "holds.order": order_id}, change)
    return bool(gave.modified_count)


def _keep(sku_id: str, order_id: str) -> bool:
    kept = Sku._get_collection().update_one(
        {"_id": sku_id, "holds.order": order_id}, {"$pull": {"holds": {"order": order_id}}}
    )
    return bool(kept.modified_count)


def give_back(order_id: str, lines: Iterable[StockLine]) -> None:
    """Checkout failed before its order existed: its holds go back to stock (each at most once)."""
    for line in lines:
        _give_back(line.sku_id, order_id, line.quantity, say_so=False)


def keep(order_id: str, lines: Iterable[StockLine]) -> list[StockLine]:
    """The order is in: its holds become its own. Returns the lines whose units the sweep gave
    back meanwhile (the checkout stalled past the lease), which the order no longer has."""
    lost = []
    for line in lines:
        if not _keep(line.sku_id, order_id) and _was_given_back(line.sku_id, order_id):
            lost.append(line)
    return lost


def _was_given_back(sku_id: str, order_id: str) -> bool:
    return (
        Sku._get_collection().find_one({"_id": sku_id, "returns.key": _returned_key(order_id)}, {"_id": 1}) is not None
    )


def _settle(item: tuple[str, dict[str, Any]]) -> bool:
    sku_id, hold = item
    if Order.objects(id=hold["order"]).only("id").first() is not None:
        return _keep(sku_id, hold["order"])
    given = _give_back(sku_id, hold["order"], hold["quantity"], say_so=True)
    if given:
        log.warning(
            "sku %s: %d units held for order %s, never written, are back", sku_id, hold["quantity"], hold["order"]
        )
    return given


def settle_stale(limit: int = 200) -> int:
    """The sweep: holds older than the lease are kept by their order, or given back if it never
    came to exist. Returns how many holds it settled."""
    cutoff = now() - LEASE
    stale = Sku._get_collection().find({"holds.at": {"$lt": cutoff}}, {"holds": 1}).limit(limit)
    work = [(doc["_id"], hold) for doc in stale for hold in doc["holds"] if hold["at"] < cutoff]
    return sweeps.each(work, _settle, what="stock hold (sku, hold)")
