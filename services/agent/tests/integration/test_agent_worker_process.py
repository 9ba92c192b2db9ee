"""The real agent worker process: pika-published order_paid events, delivered three times."""

import time

import pytest

from agent.documents import AgentSale
from mallkit.consumer import ProcessedEvent
from mallkit.testing import publish_events

pytestmark = pytest.mark.integration


def test_worker_records_one_sale_for_three_deliveries(mongo_db, amqp_uri, start_worker, register, order_paid):
    worker = start_worker("agent", {"MONGO_DB": mongo_db})
    agent = register("u_agent")
    event = order_paid("ord_worker_1", agent.id)
    publish_events(amqp_uri, "retail", [event] * 3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ProcessedEvent.objects(event_id=event["event_id"]).first():
        time.sleep(0.2)
    time.sleep(1.0)  # let the other two deliveries finish too
    assert AgentSale.objects(order_id="ord_worker_1").count() == 1, worker.log()
    assert AgentSale.objects.get(order_id="ord_worker_1").agent_id == agent.id
    assert ProcessedEvent.objects(consumer="agent.order_paid", event_id=event["event_id"]).count() == 1
