"""The real groupbuy worker process, fed by RabbitMQ the way retail's outbox relay publishes."""

import re
import time
import uuid

import pytest

from groupbuy.documents import PaidOrder
from mallkit.testing import publish_events

pytestmark = pytest.mark.integration


def test_three_deliveries_of_one_event_record_one_paid_order(mongo_db, amqp_uri, start_worker, order_paid):
    worker = start_worker("groupbuy", {"MONGO_DB": mongo_db})
    event = order_paid(f"ord_{uuid.uuid4().hex[:8]}", total_fen=4200, group_team_id="tm_1")
    publish_events(amqp_uri, "retail", [event] * 3)

    # Done when the record exists and the worker turned away both duplicates: by the processed-event
    # record, or (deliveries handled concurrently, both before any record) by the order_id key.
    order_id = event["data"]["order_id"]
    skipped = re.compile(rf"skipping duplicate event {event['event_id']}|order {order_id} was already recorded paid")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if PaidOrder.objects(order_id=order_id).count() and len(skipped.findall(worker.log())) == 2:
            break
        time.sleep(0.2)
    paid = PaidOrder.objects(order_id=order_id)
    assert [(p.amount_fen, p.group_team_id, p.event_id) for p in paid] == [(4200, "tm_1", event["event_id"])], (
        worker.log()
    )
    assert len(skipped.findall(worker.log())) == 2, worker.log()
