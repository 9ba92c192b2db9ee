"""The real groupbuy worker process, fed by RabbitMQ the way retail's outbox relay publishes."""

import json
import re
import time
import urllib.request

import pika
import pika.exceptions
import pytest

from groupbuy.documents import PaidOrder
from mallkit.testing import ServiceProcess, free_port

pytestmark = pytest.mark.integration


def wait_healthy(worker: ServiceProcess, port: int, timeout: float = 30.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.process.poll() is None, worker.log()
        try:
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"worker not healthy within {timeout}s:\n{worker.log()}")


def publish(amqp_uri: str, envelope: dict, times: int, timeout: float = 10.0) -> None:
    """Publish as the outbox relay does (confirmed, mandatory); retry while nameko has not bound
    its queue yet, since the broker would otherwise drop the message."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("retail.events", exchange_type="topic", durable=True)
        properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
        deadline = time.monotonic() + timeout
        sent = 0
        while sent < times:
            try:
                channel.basic_publish(
                    "retail.events", "order_paid", json.dumps(envelope).encode(), properties, mandatory=True
                )
                sent += 1
            except pika.exceptions.UnroutableError:
                assert time.monotonic() < deadline, "no queue bound to retail.events/order_paid"
                time.sleep(0.1)
    finally:
        connection.close()


def test_three_deliveries_of_one_event_record_one_paid_order(mongo_db, infra_env, amqp_uri, spawn, order_paid):
    port = free_port()
    worker = spawn(
        "groupbuy-worker",
        ["-m", "mallkit.worker", "groupbuy.worker"],
        {**infra_env, "MONGO_DB": mongo_db, "HEALTH_PORT": str(port)},
    )
    wait_healthy(worker, port)
    event = order_paid(f"ord_{port}", total_fen=4200, group_team_id="tm_1")
    publish(amqp_uri, event, times=3)

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
