"""Stock given back exactly once: an unpaid order cancelled, or items refunded before they shipped.

Two documents change (the order, then each SKU) and there are no multi-document transactions, so
a return is first recorded on the order, in the same conditional write as the change that causes
it (an entry of `Order.stock_returns`: key, lines, the token of the process carrying it out, and
when it was recorded or taken over). Then:

1. each SKU: stock += quantity and the return's key is remembered on the SKU (`Sku.returns`), only
   if the SKU does not hold that key yet: repeating this step adds nothing;
2. the order drops the entry, only while the entry still holds this process's token;
3. the process that recorded the return forgets the keys on its SKUs, only if its step 2 took.

A process that stops before step 2 leaves the entry on the order. After `LEASE` without a word
the sweep takes it over (a new token, compare-and-set) and repeats steps 1 and 2; it never forgets
keys, and neither does a process whose step 2 found its token gone, because the other could be
between its steps 1 still. Keys left behind that way are forgotten after `KEYS_KEPT` once their
return is off the order: a unit comes back twice only if a process stalls for that long between
reading its entry and writing a SKU.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

from mallkit import ids, sweeps
from mallkit.clock import now
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
KEYS_KEPT = timedelta(days=1)


class StockLine(Protocol):
    sku_id: str
    quantity: int


def recorded(key: str, lines: Iterable[StockLine]) -> dict[str, Any]:
    """The entry to push onto `Order.stock_returns` with the write that causes the return."""
    return {
        "key": key,
        "lines": [{"sku_id": line.sku_id, "quantity": line.quantity} for line in lines],
        "token": ids.new_id("tok"),
        "at": now(),
    }


def give_back(order_id: str, entry: dict[str, Any]) -> None:
    """Steps 1–3, right after the write that recorded `entry`."""
    if _carry_out(order_id, entry):
        skus = [line["sku_id"] for line in entry["lines"]]
        Sku._get_collection().update_many({"_id": {"$in": skus}}, {"$pull": {"returns": {"key": entry["key"]}}})


def _carry_out(order_id: str, entry: dict[str, Any]) -> bool:
    key = entry["key"]
    for line in entry["lines"]:
        Sku._get_collection().update_one(
            {"_id": line["sku_id"], "returns.key": {"$ne": key}},
            {"$inc": {"stock": line["quantity"]}, "$push": {"returns": {"key": key, "order": order_id, "at": now()}}},
        )
    mine = {"_id": order_id, "stock_returns": {"$elemMatch": {"key": key, "token": entry["token"]}}}
    return bool(Order._get_collection().update_one(mine, {"$pull": {"stock_returns": {"key": key}}}).modified_count)


def _take_over(order_id: str, entry: dict[str, Any]) -> bool:
    """Carry out a return its process left unfinished for longer than the lease."""
    token = ids.new_id("tok")
    claimed = Order._get_collection().update_one(
        {"_id": order_id, "stock_returns": {"$elemMatch": {"key": entry["key"], "token": entry["token"]}}},
        {"$set": {"stock_returns.$.token": token, "stock_returns.$.at": now()}},
    )
    return bool(claimed.modified_count) and _carry_out(order_id, {**entry, "token": token})


def finish_stale(limit: int = 200) -> int:
    """The sweep: take over returns idle for longer than the lease; forget keys kept long enough.
    Returns how many returns it finished."""
    cutoff = now() - LEASE
    stale = Order._get_collection().find({"stock_returns.at": {"$lt": cutoff}}, {"stock_returns": 1}).limit(limit)
    work = [(doc["_id"], entry) for doc in stale for entry in doc["stock_returns"] if entry["at"] < cutoff]
    finished = sweeps.each(work, lambda item: _take_over(*item), what="stock return (order, entry)")
    if finished:
        log.warning("finished %d stock returns a stopped process had left", finished)
    _forget_old_keys(limit)
    return finished


def _forget_old_keys(limit: int) -> None:
    """Forget keys kept longer than KEYS_KEPT, except those of a return still on its order (one
    the sweep has not finished yet, e.g. while the worker was down): its next take-over needs them."""
    forget = now() - KEYS_KEPT
    old = Sku._get_collection().find({"returns.at": {"$lt": forget}}, {"returns": 1}).limit(limit)
    for doc in old:
        for kept in doc["returns"]:
            unfinished = {"_id": kept["order"], "stock_returns.key": kept["key"]}
            if kept["at"] < forget and Order._get_collection().find_one(unfinished, {"_id": 1}) is None:
                Sku._get_collection().update_one({"_id": doc["_id"]}, {"$pull": {"returns": {"key": kept["key"]}}})
