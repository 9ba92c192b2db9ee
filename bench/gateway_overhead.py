"""gateway_overhead: an authenticated GET through the gateway to a gRPC service, against a bare
FastAPI constant route measured in the same run.

- value: `GET /api/v1/orders/{id}` on the real gateway process (`python -m gateway`, uvicorn): bearer
  JWT verified, the per-IP and per-user rate limits charged in Redis (Lua), retail's GetOrder called
  over gRPC with the caller as metadata, the reply converted to JSON (Money, UTC times). The retail
  behind it is the kit's gRPC server answering from memory, so the database is not what is measured.
  The gateway runs as deployed (JSON access log on, to /dev/null here); the limits are raised so that
  the closed loop measures their cost, not their refusals.
- ceiling: a bare FastAPI app returning a constant dict, served by uvicorn the same way.
- details.bare_relay: the same bare app relaying to the same gRPC server with one grpc.aio call and
  nothing else: what any HTTP→gRPC hop costs here; `ratio_to_relay` is the gateway's own share.

Every server is its own process; the load comes from client threads here, each on its own keep-alive
connection. `correct`: every response was a 200 with the right body (the order asked for, bought by
the token's user; the constant; the relayed order).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jwt
import mongoengine
from harness import Load, closed_loop, process

from gateway.settings import DEV_JWT_SECRET
from mallkit import mongo
from mallkit.testing import free_port, wait_serving

THREADS = 8
SECONDS = 5.0
USERS = 16
HERE = Path(__file__).resolve().parent
SERVERS = HERE / "_overhead_servers.py"
EXPECTED_CONSTANT = {"id": "ord_bench", "status": "paid", "total": {"fen": 3980, "display": "¥39.80"}}


def wait_http(port: int, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered 200 on :{port}{path} within {timeout}s")


def load(port: int, request: Callable[[int], tuple[str, dict[str, str], Callable[[dict], bool]]]) -> tuple[Load, int]:
    """Closed-loop GETs from THREADS threads; `request(n)` gives path, headers and a body check."""
    local = threading.local()
    wrong = [0]
    counter = iter(range(10**9))

    def call() -> None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        path, headers, check = request(next(counter))
        try:
            local.connection.request("GET", path, headers=headers)
            response = local.connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            local.connection.close()
            del local.connection
            raise
        if response.status != 200 or not check(json.loads(body)):
            wrong[0] += 1
            raise AssertionError(f"{response.status} {body[:200]!r}")

    return closed_loop(call, THREADS, SECONDS), wrong[0]


def tokens(secret: str) -> list[tuple[str, str]]:
    now = int(time.time())
    users = [f"u_bench_{i}" for i in range(USERS)]
    claims = {"roles": ["consumer"], "iss": "socialmall", "iat": now, "exp": now + 3600}
    return [(user, jwt.encode({**claims, "sub": user}, secret, algorithm="HS256")) for user in users]


def run() -> dict:
    grpc_port, gateway_port, bare_port = free_port(), free_port(), free_port()
    db_name = f"bench_gateway_{os.getpid()}"
    secret = os.environ.get("JWT_SECRET", DEV_JWT_SECRET)
    signed = tokens(secret)
    gateway_env = {
        "SOCIALMALL_ENV": "dev",
        "GATEWAY_PORT": str(gateway_port),
        "RETAIL_GRPC_TARGET": f"127.0.0.1:{grpc_port}",
        "MONGO_DB": db_name,
        "JWT_SECRET": secret,
        "RATE_LIMIT_IP": "100000000/60",
        "RATE_LIMIT_USER": "100000000/60",
    }

    def order_request(n: int) -> tuple[str, dict[str, str], Callable[[dict], bool]]:
        user, token = signed[n % USERS]
        order_id = f"ord_{n % 1000}"
        headers = {"Authorization": f"Bearer {token}"}
        return f"/api/v1/orders/{order_id}", headers, lambda b: b["id"] == order_id and b["buyer_id"] == user

    def constant_request(_: int) -> tuple[str, dict[str, str], Callable[[dict], bool]]:
        return "/constant", {}, lambda b: b == EXPECTED_CONSTANT

    def relay_request(n: int) -> tuple[str, dict[str, str], Callable[[dict], bool]]:
        order_id = f"ord_{n % 1000}"
        return f"/relay/{order_id}", {}, lambda b: b == {"id": order_id, "buyer_id": "u_bench_0", "total_fen": 3980}

    grpc_env = {"LOG_LEVEL": "WARNING"}
    bare_env = {"RETAIL_GRPC_TARGET": f"127.0.0.1:{grpc_port}"}
    try:
        with process([str(SERVERS), "grpc", str(grpc_port)], grpc_env):
            wait_serving(f"127.0.0.1:{grpc_port}")
            with process([str(SERVERS), "bare", str(bare_port)], bare_env):
                wait_http(bare_port, "/constant")
                ceiling, wrong_ceiling = load(bare_port, constant_request)
                relay, wrong_relay = load(bare_port, relay_request)
            with process(["-m", "gateway"], gateway_env):
                wait_http(gateway_port, "/healthz")
                value, wrong_value = load(gateway_port, order_request)
    finally:
        mongo.connect(db_name)
        mongoengine.get_connection().drop_database(db_name)

    correct = (
        value.calls > 0
        and ceiling.calls > 0
        and relay.calls > 0
        and value.errors == ceiling.errors == relay.errors == 0
        and wrong_value == wrong_ceiling == wrong_relay == 0
    )
    return {
        "name": "gateway_overhead",
        "value": round(value.per_second, 1),
        "unit": "requests/s",
        "ceiling": round(ceiling.per_second, 1),
        "ratio": round(value.per_second / ceiling.per_second, 3) if ceiling.calls else 0.0,
        "correct": correct,
        "details": {
            "threads": THREADS,
            "seconds": SECONDS,
            "users": USERS,
            "gateway": {**value.summary(), "wrong": wrong_value, "route": "GET /api/v1/orders/{order_id}"},
            "bare_fastapi": {**ceiling.summary(), "wrong": wrong_ceiling, "route": "GET /constant"},
            "bare_relay": {**relay.summary(), "wrong": wrong_relay, "route": "GET /relay/{order_id}"},
            "ratio_to_relay": round(value.per_second / relay.per_second, 3) if relay.calls else 0.0,
            "run_id": uuid.uuid4().hex[:8],
        },
    }
