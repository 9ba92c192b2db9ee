"""retail_checkout: checkout + pay (CreateOrder, then the signed payment callback) through the real
retail API process, against a grpcio echo ceiling measured in the same run.

ceiling: echo calls/s ÷ 2, i.e. checkouts/s if each of the two RPCs were a bare echo.
correct: stock and payments reconcile exactly — every unit that left stock is in exactly one
paid order, every paid order has its payment, and stock never went negative.
"""

from __future__ import annotations

import itertools
import json
import os
import threading

import grpc
import mongoengine
from harness import api_process, closed_loop, echo_ceiling

from mallkit import context, mongo
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

THREADS = 8
SECONDS = 4.0
STOCK = 1_000_000
SECRET = "bench-secret"


def seed_sku(db_name: str) -> str:
    from retail_s2b2c.domain.catalog import NewSku
    from retail_s2b2c.service import catalog

    sku = NewSku("250g", 1990, STOCK, supply_price_fen=1200)

    mongo.connect(db_name)
    with context.bound("bench", context.Caller("u_bench_brand", frozenset({"brand"}))):
        brand = catalog.create_brand(f"bench-checkout-{os.getpid()}")
        product, skus = catalog.create_product(brand.id, "Bench tea", "food", [sku])
    with context.bound("bench", context.Caller("u_bench_admin", frozenset({"admin"}))):
        catalog.review_product(product.id, approve=True, reason="")
    return skus[0].id


def reconcile(sku_id: str, checkouts: int) -> dict[str, int | bool]:
    from retail_s2b2c.documents.catalog import Sku
    from retail_s2b2c.documents.orders import Order, Payment

    stock = Sku.objects.get(id=sku_id).stock
    paid = Order.objects(status="paid").count()
    units = sum(item["quantity"] for o in Order.objects(status="paid").only("items") for item in o.to_mongo()["items"])
    unpaid = Order.objects(status="created").count()
    payments = Payment.objects(status="paid").count()
    return {
        "stock_left": stock,
        "paid_orders": paid,
        "unpaid_orders": unpaid,
        "paid_payments": payments,
        "reconciles": stock >= 0 and STOCK - stock == units + unpaid and paid == checkouts and payments <= paid,
    }


def run() -> dict:
    from retail_s2b2c.domain.payments import sign

    ceiling = echo_ceiling(THREADS, SECONDS)
    db_name = f"bench_checkout_{os.getpid()}"
    sku_id = seed_sku(db_name)
    counter = itertools.count()
    lock = threading.Lock()
    checkouts = 0
    try:
        env = {"MONGO_DB": db_name, "PAYMENT_HMAC_SECRET": SECRET}
        with api_process("retail_s2b2c.api", env) as target, grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RetailServiceStub(channel)

            def checkout() -> None:
                nonlocal checkouts
                n = next(counter)
                metadata = context.to_metadata(f"bench-{n}", context.Caller(f"u_bench_{n}"))
                order = stub.CreateOrder(
                    pb.CreateOrderRequest(lines=[pb.OrderLine(sku_id=sku_id, quantity=1)]),
                    metadata=metadata,
                    timeout=10,
                ).order
                body = json.dumps(
                    {
                        "out_trade_no": order.id,
                        "transaction_id": f"tx_{n}",
                        "amount_fen": order.total.fen,
                        "status": "SUCCESS",
                    }
                ).encode()
                reply = stub.HandlePaymentNotify(
                    pb.HandlePaymentNotifyRequest(body=body, signature=sign(body, SECRET)), timeout=10
                )
                if reply.newly_paid:
                    with lock:
                        checkouts += 1

            value = closed_loop(checkout, THREADS, SECONDS)
        books = reconcile(sku_id, checkouts)
    finally:
        mongoengine.get_connection().drop_database(db_name)
    pair_ceiling = ceiling.per_second / 2
    return {
        "name": "retail_checkout",
        "value": round(value.per_second, 1),
        "unit": "checkouts/s",
        "ceiling": round(pair_ceiling, 1),
        "ratio": round(value.per_second / pair_ceiling, 3),
        "correct": bool(books["reconciles"]) and value.errors == 0,
        "details": {
            "threads": THREADS,
            "seconds": SECONDS,
            "checkout": value.summary(),
            "raw_echo": ceiling.summary(),
            "books": books,
        },
    }
