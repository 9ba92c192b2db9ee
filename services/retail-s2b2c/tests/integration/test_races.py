"""Races with real processes against the Mongo wire server and a real RabbitMQ."""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pika
import pytest

from mallkit import context
from mallkit.testing import free_port, wait_serving
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order, Payment
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def _order_in_child(args: tuple[str, str, str, int]) -> str:
    """One buyer process: connect to the shared database and try to order."""
    mongo_uri, db_name, sku_id, buyer = args
    os.environ["MONGO_URI"] = mongo_uri
    from mallkit import mongo
    from mallkit.errors import FailedPrecondition
    from retail_s2b2c.domain.orders import Line
    from retail_s2b2c.service import orders

    mongo.connect(db_name)
    with context.bound(context.new_request_id(), context.Caller(f"u_{buyer}")):
        try:
            orders.create_order([Line(sku_id, 1)], {})
            return "ok"
        except FailedPrecondition as err:
            return err.code


def test_twenty_processes_order_the_last_five_units(mongo_db, mongo_uri, make_sku):
    sku_id = make_sku(stock=5)
    with multiprocessing.get_context("spawn").Pool(20) as pool:
        outcomes = pool.map(_order_in_child, [(mongo_uri, mongo_db, sku_id, i) for i in range(20)])
    assert outcomes.count("ok") == 5
    assert outcomes.count("out_of_stock") == 15
    assert Sku.objects.get(id=sku_id).stock == 0
    assert Order.objects(status="created").count() == 5


@pytest.fixture
def order_paid_queue(amqp_uri):
    """A private queue bound to retail.order_paid, to count what the outbox published."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("retail.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare(f"test-order-paid-{uuid.uuid4().hex[:8]}", exclusive=True).method.queue
    channel.queue_bind(queue, "retail.events", routing_key="order_paid")
    yield channel, queue
    connection.close()


def _drain(channel, queue: str, order_id: str, wait: float) -> list[dict]:
    found = []
    for _method, _props, body in channel.consume(queue, inactivity_timeout=wait):
        if body is None:
            break
        event = json.loads(body)
        if event["data"]["order_id"] == order_id:
            found.append(event)
    channel.cancel()
    return found


@pytest.fixture
def retail_api(mongo_db, infra_env, spawn):
    """A real retail API process on this test's database; returns its gRPC target."""
    port = free_port()
    api = spawn(
        "retail-api",
        ["-m", "retail_s2b2c.api"],
        {**infra_env, "MONGO_DB": mongo_db, "GRPC_PORT": str(port), "PAYMENT_HMAC_SECRET": "test-secret"},
    )
    target = f"127.0.0.1:{port}"
    wait_serving(target, timeout=30)
    return target, api


def test_fifty_concurrent_checkouts_on_stock_ten_make_ten_orders(retail_api, make_sku):
    target, _ = retail_api
    sku_id = make_sku(stock=10)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.RetailServiceStub(channel)

        def checkout(i: int) -> str:
            metadata = context.to_metadata(f"rid-{i}", context.Caller(f"u_buyer_{i}"))
            request = pb.CreateOrderRequest(lines=[pb.OrderLine(sku_id=sku_id, quantity=1)])
            try:
                stub.CreateOrder(request, metadata=metadata, timeout=30)
                return "ok"
            except grpc.RpcError as err:
                return dict(err.trailing_metadata())["error-code"]

        with ThreadPoolExecutor(50) as threads:
            outcomes = list(threads.map(checkout, range(50)))
    assert outcomes.count("ok") == 10 and outcomes.count("out_of_stock") == 40
    assert Sku.objects.get(id=sku_id).stock == 0
    assert Order.objects.count() == 10


def test_a_hundred_concurrent_callbacks_make_one_payment_and_one_event(
    retail_api, make_sku, paid_callback, order_paid_queue
):
    target, api = retail_api
    sku_id = make_sku(price_fen=2500)
    buyer = context.Caller("u_buyer", frozenset({"consumer"}))
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.RetailServiceStub(channel)
        metadata = context.to_metadata("rid-1", buyer)
        order = stub.CreateOrder(
            pb.CreateOrderRequest(lines=[pb.OrderLine(sku_id=sku_id, quantity=2)]), metadata=metadata, timeout=5
        ).order
        stub.CreatePayment(pb.CreatePaymentRequest(order_id=order.id), metadata=metadata, timeout=5)
        body, signature = paid_callback(order.id, 5000, "tx_race")
        request = pb.HandlePaymentNotifyRequest(body=body, signature=signature)
        with ThreadPoolExecutor(100) as threads:
            replies = list(threads.map(lambda _: stub.HandlePaymentNotify(request, timeout=30), range(100)))
        assert {r.ack for r in replies} == {"SUCCESS"}
        assert sum(r.newly_paid for r in replies) == 1
        paid = stub.GetOrder(pb.GetOrderRequest(order_id=order.id), metadata=metadata, timeout=5).order
        assert paid.status == pb.ORDER_STATUS_PAID
    assert [(p.status, p.transaction_id) for p in Payment.objects(order_id=order.id)] == [("paid", "tx_race")]
    channel, queue = order_paid_queue
    events = _drain(channel, queue, order.id, wait=3)
    assert len(events) == 1, api.log()
    assert events[0]["data"]["total_fen"] == 5000
    # order_paid left the outbox; order_created stays pending while no consumer is bound to it
    assert [e["type"] for e in Order.objects.get(id=order.id).outbox] == ["order_created"]
