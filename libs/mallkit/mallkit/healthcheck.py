"""Container health probe without extra tools: `python -m mallkit.healthcheck [grpc|http|auto]`.

grpc: grpc.health.v1 Check on $GRPC_PORT must say SERVING (an API says so only while Mongo,
Redis and RabbitMQ answer). http: the worker's /healthz on $HEALTH_PORT must answer 200.
auto (the image default, as one image runs either process): grpc, and if nothing listens there,
http. Exit code 0 means healthy. Kubernetes uses its own probes instead.
"""

from __future__ import annotations

import os
import sys
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def grpc_serving(port: str) -> bool | None:
    """True/False for SERVING or not; None when nothing listens on the port."""
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)]) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.RpcError as exc:
            return None if exc.code() == grpc.StatusCode.UNAVAILABLE else False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_ok(port: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=3) as reply:
            return reply.status == 200
    except OSError:
        return False


def healthy(mode: str, grpc_port: str, health_port: str) -> bool:
    if mode == "http":
        return http_ok(health_port)
    serving = grpc_serving(grpc_port)
    if serving is None:
        return mode == "auto" and http_ok(health_port)
    return serving


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "auto"
    sys.exit(0 if healthy(mode, os.environ.get("GRPC_PORT", ""), os.environ.get("HEALTH_PORT", "")) else 1)
