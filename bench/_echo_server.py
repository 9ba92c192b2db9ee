"""The echo ceiling's server, in its own process like every API it is compared with:
`python bench/_echo_server.py PORT` serves `/bench.Echo/Echo` (the request bytes back: no protobuf,
interceptor or database) and grpc.health.v1 so the harness knows when it is up."""

from __future__ import annotations

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2_grpc


def serve(port: int) -> None:
    echo = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, _ctx: request)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((echo,))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
