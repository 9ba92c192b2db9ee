"""grpc_baseline: retail's GetProduct through the kit, against a raw grpcio echo ceiling.

Three measurements with the same client threads, in one run:
- ceiling: a bare grpcio server echoing bytes in its own process (no protobuf, interceptor or database);
- kit_constant: the kit's server (interceptor, logging, health) answering GetBrand from memory;
- value: the real retail API process's GetProduct, reading Mongo (the dev wire server here).
"""

from __future__ import annotations

import os

import grpc
import mongoengine
from harness import api_process, closed_loop, echo_ceiling

from mallkit import context, grpc_server, mongo
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

THREADS = 8
SECONDS = 3.0


class ConstantRetail(pb_grpc.RetailServiceServicer):
    def GetBrand(self, request, ctx):
        return pb.GetBrandResponse(brand=pb.Brand(id=request.brand_id, name="constant"))


def seed_product(db_name: str) -> str:
    from retail_s2b2c.domain.catalog import NewSku
    from retail_s2b2c.service import catalog

    sku = NewSku("250g", 1990, 100, supply_price_fen=1200)

    mongo.connect(db_name)
    with context.bound("bench", context.Caller("u_bench_brand", frozenset({"brand"}))):
        brand = catalog.create_brand(f"bench-{os.getpid()}")
        product, _ = catalog.create_product(brand.id, "Bench tea", "food", [sku])
    with context.bound("bench", context.Caller("u_bench_admin", frozenset({"admin"}))):
        catalog.review_product(product.id, approve=True, reason="")
    return product.id


def run() -> dict:
    ceiling = echo_ceiling(THREADS, SECONDS)

    kit_app = grpc_server.build(
        name="bench",
        port=0,
        host="127.0.0.1",
        service_names=[],
        checks={},
        register=lambda s: pb_grpc.add_RetailServiceServicer_to_server(ConstantRetail(), s),
    ).start()
    with grpc.insecure_channel(f"127.0.0.1:{kit_app.port}") as channel:
        stub = pb_grpc.RetailServiceStub(channel)
        kit_constant = closed_loop(lambda: stub.GetBrand(pb.GetBrandRequest(brand_id="b"), timeout=2), THREADS, SECONDS)
    kit_app.stop(0)

    db_name = f"bench_retail_{os.getpid()}"
    product_id = seed_product(db_name)
    wrong = []
    try:
        with api_process("retail_s2b2c.api", {"MONGO_DB": db_name}) as target, grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RetailServiceStub(channel)

            def get_product() -> None:
                reply = stub.GetProduct(pb.GetProductRequest(product_id=product_id), timeout=5)
                if reply.product.id != product_id or len(reply.product.skus) != 1:
                    wrong.append(reply)

            value = closed_loop(get_product, THREADS, SECONDS)
    finally:
        mongoengine.get_connection().drop_database(db_name)

    return {
        "name": "grpc_baseline",
        "value": round(value.per_second, 1),
        "unit": "calls/s",
        "ceiling": round(ceiling.per_second, 1),
        "ratio": round(value.per_second / ceiling.per_second, 3),
        "correct": not wrong and value.errors == 0 and value.calls > 0,
        "details": {
            "threads": THREADS,
            "seconds": SECONDS,
            "get_product": value.summary(),
            "raw_echo": ceiling.summary(),
            "kit_constant": {
                **kit_constant.summary(),
                "ratio_to_echo": round(kit_constant.per_second / ceiling.per_second, 3),
            },
            "mongo_uri": os.environ.get("MONGO_URI", ""),
        },
    }
