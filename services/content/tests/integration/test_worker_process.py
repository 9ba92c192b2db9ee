"""The real content worker process, fed by RabbitMQ the way retail's outbox relay publishes."""

import json
import re
import time
import urllib.request

import pika
import pika.exceptions
import pytest

from content import service
from content.documents import Post
from mallkit import context
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


def publish(amqp_uri: str, envelopes: list[dict], timeout: float = 10.0) -> None:
    """Publish as the outbox relay does (confirmed, mandatory); retry while nameko has not bound
    its queue yet, since the broker would otherwise drop the message."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("retail.events", exchange_type="topic", durable=True)
        properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
        deadline = time.monotonic() + timeout
        pending = list(envelopes)
        while pending:
            try:
                body = json.dumps(pending[0]).encode()
                channel.basic_publish("retail.events", "order_paid", body, properties, mandatory=True)
                pending.pop(0)
            except pika.exceptions.UnroutableError:
                assert time.monotonic() < deadline, "no queue bound to retail.events/order_paid"
                time.sleep(0.1)
    finally:
        connection.close()


def test_duplicate_deliveries_credit_a_post_once(mongo_db, infra_env, amqp_uri, spawn, fake_retail, order_paid):
    with context.bound("rid", context.Caller("u_author")):
        post_id = service.create_post(fake_retail, "Rose mist", "", ["sku_mist"]).id
    port = free_port()
    worker = spawn(
        "content-worker",
        ["-m", "mallkit.worker", "content.worker"],
        {**infra_env, "MONGO_DB": mongo_db, "HEALTH_PORT": str(port)},
    )
    wait_healthy(worker, port)
    first = order_paid("ord_1", post_id=post_id)
    publish(amqp_uri, [first, first, order_paid("ord_1", post_id=post_id), order_paid("ord_2", post_id=post_id)])

    # Done when both orders are credited and the worker turned away both duplicates: by the
    # processed-event record, or (deliveries handled concurrently) by the order key on the post.
    turned_away = re.compile(rf"skipping duplicate event {first['event_id']}|order ord_1: post {post_id} is unknown")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if Post.objects.get(id=post_id).purchases >= 2 and len(turned_away.findall(worker.log())) == 2:
            break
        time.sleep(0.2)
    post = Post.objects.get(id=post_id)
    assert (post.purchases, sorted(post.purchase_order_ids)) == (2, ["ord_1", "ord_2"]), worker.log()
    assert len(turned_away.findall(worker.log())) == 2, worker.log()
