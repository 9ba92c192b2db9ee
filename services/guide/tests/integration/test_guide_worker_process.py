"""The real guide worker process: pika-published order_paid events, delivered three times."""

import time

import pytest

from guide.documents import AttributedOrder
from mallkit.consumer import ProcessedEvent
from mallkit.testing import publish_events

pytestmark = pytest.mark.integration


def test_worker_records_one_order_for_three_deliveries(mongo_db, amqp_uri, start_worker, create_link, order_paid):
    worker = start_worker("guide", {"MONGO_DB": mongo_db})
    link = create_link("u_kol")
    event = order_paid("ord_worker_1", link.id)
    publish_events(amqp_uri, "retail", [event] * 3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ProcessedEvent.objects(event_id=event["event_id"]).first():
        time.sleep(0.2)
    time.sleep(1.0)  # let the other two deliveries finish too
    assert AttributedOrder.objects(order_id="ord_worker_1").count() == 1, worker.log()
    assert AttributedOrder.objects.get(order_id="ord_worker_1").kol_id == "u_kol"
    assert ProcessedEvent.objects(consumer="guide.order_paid", event_id=event["event_id"]).count() == 1
