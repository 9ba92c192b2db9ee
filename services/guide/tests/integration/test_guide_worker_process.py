"""The real guide worker process: pika-published order_paid events, delivered three times."""

import json
import time
import urllib.request

import pika
import pytest

from guide.documents import AttributedOrder
from mallkit.consumer import ProcessedEvent
from mallkit.testing import free_port

pytestmark = pytest.mark.integration


def wait_healthy(port: int, timeout: float = 30.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"worker health on :{port} did not answer 200 within {timeout}s")


def publish(amqp_uri: str, event: dict, times: int) -> None:
    """Publish with confirms; mandatory, so a publish no queue receives fails instead of vanishing."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("retail.events", exchange_type="topic", durable=True)
        for _ in range(times):
            channel.basic_publish(
                exchange="retail.events",
                routing_key="order_paid",
                body=json.dumps(event).encode(),
                properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
                mandatory=True,
            )
    finally:
        connection.close()


def test_worker_records_one_order_for_three_deliveries(mongo_db, infra_env, amqp_uri, spawn, create_link, order_paid):
    health_port = free_port()
    worker = spawn(
        "guide-worker",
        ["-m", "mallkit.worker", "guide.worker"],
        {**infra_env, "MONGO_DB": mongo_db, "HEALTH_PORT": str(health_port)},
    )
    link = create_link("u_kol")
    event = order_paid("ord_worker_1", link.id)
    wait_healthy(health_port)
    publish(amqp_uri, event, times=3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ProcessedEvent.objects(event_id=event["event_id"]).first():
        time.sleep(0.2)
    time.sleep(1.0)  # let the other two deliveries finish too
    assert AttributedOrder.objects(order_id="ord_worker_1").count() == 1, worker.log()
    assert AttributedOrder.objects.get(order_id="ord_worker_1").kol_id == "u_kol"
    assert ProcessedEvent.objects(consumer="guide.order_paid", event_id=event["event_id"]).count() == 1
