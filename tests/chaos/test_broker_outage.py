"""RabbitMQ unreachable for retail during a payment: the event waits in the outbox and is
delivered once the broker is back, with exactly one effect at the consumer."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlparse

import grpc
import pymongo
import pytest

from mallkit import context
from mallkit.testing import TcpProxy, free_port, wait_serving
from retail_s2b2c.domain import payments
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

SECRET = "chaos-secret"


def poll(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_event_waits_in_the_outbox_while_the_broker_is_away(mongo_uri, amqp_uri, infra_env, spawn, start_worker):
    broker = urlparse(amqp_uri)
    proxy = TcpProxy((broker.hostname, broker.port or 5672)).start()
    retail_db, groupbuy_db = f"test_{uuid.uuid4().hex[:8]}_retail", f"test_{uuid.uuid4().hex[:8]}_groupbuy"
    port = free_port()
    spawn(
        "retail-api",
        ["-m", "retail_s2b2c.api"],
        {
            **infra_env,
            "MONGO_DB": retail_db,
            "GRPC_PORT": str(port),
            "PAYMENT_HMAC_SECRET": SECRET,
            "AMQP_URI": broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}").geturl(),
        },
    )
    # started and healthy first: its queue is bound before the outage, as a deployed consumer's is
    worker = start_worker("groupbuy", {"MONGO_DB": groupbuy_db})
    target = f"127.0.0.1:{port}"
    wait_serving(target, timeout=30)
    mongo = pymongo.MongoClient(mongo_uri)
    try:
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RetailServiceStub(channel)
            brand_md = context.to_metadata("chaos", context.Caller("u_brand", frozenset({"brand"})))
            buyer_md = context.to_metadata("chaos", context.Caller("u_buyer"))
            brand = stub.CreateBrand(pb.CreateBrandRequest(name="Chaos"), metadata=brand_md, timeout=5).brand
            sku = pb.NewSku(spec="s", price=money_pb2.Money(fen=100), supply_price=money_pb2.Money(fen=60), stock=5)
            product = stub.CreateProduct(
                pb.CreateProductRequest(brand_id=brand.id, title="t", skus=[sku]), metadata=brand_md, timeout=5
            ).product
            admin_md = context.to_metadata("chaos", context.Caller("u_admin", frozenset({"admin"})))
            stub.ReviewProduct(
                pb.ReviewProductRequest(product_id=product.id, approve=True), metadata=admin_md, timeout=5
            )
            order = stub.CreateOrder(
                pb.CreateOrderRequest(lines=[pb.OrderLine(sku_id=product.skus[0].id, quantity=1)]),
                metadata=buyer_md,
                timeout=5,
            ).order

            proxy.cut()
            body = json.dumps(
                {"out_trade_no": order.id, "transaction_id": "tx_chaos", "amount_fen": 100, "status": "SUCCESS"}
            ).encode()
            reply = stub.HandlePaymentNotify(
                pb.HandlePaymentNotifyRequest(body=body, signature=payments.sign(body, SECRET)), timeout=5
            )
            assert reply.newly_paid

        orders = mongo[retail_db]["orders"]
        paid_orders = mongo[groupbuy_db]["paid_orders"]

        def pending_types() -> list[str]:
            return [e["type"] for e in orders.find_one({"_id": order.id})["outbox"]]

        time.sleep(2)
        assert "order_paid" in pending_types()
        assert paid_orders.count_documents({"order_id": order.id}) == 0

        proxy.restore()
        assert poll(lambda: paid_orders.count_documents({"order_id": order.id}) == 1, 30), worker.log()
        assert poll(lambda: "order_paid" not in pending_types(), 10)
        time.sleep(1)
        assert paid_orders.count_documents({"order_id": order.id}) == 1
    finally:
        proxy.cut()
        for db in (retail_db, groupbuy_db):
            mongo.drop_database(db)
        mongo.close()
