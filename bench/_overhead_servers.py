"""The two servers `gateway_overhead` starts beside the gateway, each in its own process.

`grpc PORT`: retail's GetOrder answered from memory by the kit's gRPC server.
`bare PORT`: a bare FastAPI app under uvicorn with `GET /constant` and `GET /relay/{order_id}` (one
grpc.aio GetOrder to RETAIL_GRPC_TARGET, nothing else).
"""

from __future__ import annotations

import os
import sys
import time

CONSTANT_ORDER = {"id": "ord_bench", "status": "paid", "total": {"fen": 3980, "display": "¥39.80"}}


def serve_grpc(port: int) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    from mallkit import context, grpc_server
    from socialmall.common.v1 import money_pb2
    from socialmall.retail.v1 import retail_pb2 as pb
    from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

    created = Timestamp(seconds=1738310400)

    class ConstantRetail(pb_grpc.RetailServiceServicer):
        def GetOrder(self, request, ctx):
            buyer = context.caller().user_id  # the kit's interceptor bound the gateway's metadata
            item = pb.OrderItem(
                sku_id="sku_bench", quantity=2, unit_price=money_pb2.Money(fen=1990), amount=money_pb2.Money(fen=3980)
            )
            order = pb.Order(
                id=request.order_id,
                buyer_id=buyer,
                items=[item],
                total=money_pb2.Money(fen=3980),
                status=pb.ORDER_STATUS_PAID,
                created_at=created,
                paid_at=created,
            )
            return pb.GetOrderResponse(order=order)

    app = grpc_server.build(
        name="bench-retail",
        port=port,
        host="127.0.0.1",
        service_names=[],
        checks={},
        register=lambda s: pb_grpc.add_RetailServiceServicer_to_server(ConstantRetail(), s),
    ).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        app.stop(0)


def serve_bare(port: int) -> None:
    import grpc
    import uvicorn
    from fastapi import FastAPI

    from socialmall.retail.v1 import retail_pb2 as pb
    from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

    app = FastAPI()
    target = os.environ.get("RETAIL_GRPC_TARGET", "")
    stubs: list[pb_grpc.RetailServiceStub] = []

    @app.get("/constant")
    async def constant() -> dict[str, object]:
        return CONSTANT_ORDER

    @app.get("/relay/{order_id}")
    async def relay(order_id: str) -> dict[str, object]:
        """No auth, limits or models: the least a gateway route to retail can do."""
        if not stubs:
            stubs.append(pb_grpc.RetailServiceStub(grpc.aio.insecure_channel(target)))
        metadata = [("x-request-id", "bench"), ("x-user-id", "u_bench_0"), ("x-user-roles", "consumer")]
        reply = await stubs[0].GetOrder(pb.GetOrderRequest(order_id=order_id), timeout=3, metadata=metadata)
        return {"id": reply.order.id, "buyer_id": reply.order.buyer_id, "total_fen": reply.order.total.fen}

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    {"grpc": serve_grpc, "bare": serve_bare}[kind](port)
