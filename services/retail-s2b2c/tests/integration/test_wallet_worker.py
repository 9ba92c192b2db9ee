"""The retail worker process books, reverses and releases payouts from real RabbitMQ events,
whatever order the three queues deliver them in, and each event once."""

from __future__ import annotations

import time

import pytest

from mallkit import ids
from mallkit.clock import now
from mallkit.events import new_event
from mallkit.testing import publish_events
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.documents.stores import Store
from retail_s2b2c.documents.wallet import LedgerEntry
from retail_s2b2c.domain.ledger import Balance
from retail_s2b2c.service.ledger import balance

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_settles_the_worked_example_from_events(mongo_db, start_worker, amqp_uri):
    store_id, order_id = ids.new_id("sto"), ids.new_id("ord")
    Store._get_collection().insert_one(
        {"_id": store_id, "owner_id": "u_O", "name": "S", "share_code": store_id, "upline_owner_id": "u_U"}
    )
    items = [{"sku_id": "sku_1", "quantity": 2, "unit_price_fen": 5000, "amount_fen": 10_000}]
    data = {
        "order_id": order_id,
        "buyer_id": "u_B",
        "total_fen": 10_000,
        "items": items,
        "attribution": {"store_id": store_id},
    }
    Order._get_collection().insert_one(
        {
            "_id": order_id,
            "buyer_id": "u_B",
            "items": items,
            "total_fen": 10_000,
            "status": "completed",
            "completed_at": now(),
            "attribution": {"store_id": store_id},
            "idempotency_key": order_id,
            "outbox": [],
        }
    )
    paid = new_event("retail", "order_paid", {**data, "transaction_id": "tx", "paid_at": now().isoformat()})
    refunded = new_event(
        "retail", "order_refunded", {**data, "refund_id": "rf_1", "amount_fen": 4000, "refunded_total_fen": 4000}
    )
    completed = new_event("retail", "order_completed", {**data, "completed_at": now().isoformat()})

    worker = start_worker("retail_s2b2c", {"MONGO_DB": mongo_db})
    publish_events(amqp_uri, "retail", [completed, refunded, paid, paid, refunded])  # out of order, twice

    def settled() -> bool:
        return balance("u_O") == Balance(available_fen=600) and balance("u_U") == Balance(available_fen=300)

    assert wait_for(settled), worker.log()
    time.sleep(1)  # the duplicates had time to arrive: they changed nothing
    assert settled()
    assert LedgerEntry.objects(order_id=order_id).count() == 4
