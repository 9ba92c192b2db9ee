"""A service that is down or stuck gives a quick 503; readiness reports every service."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from gateway.clients import READINESS_TIMEOUT_SECONDS
from gateway.tests.conftest import DEADLINE_SECONDS, closed_port_target
from gateway.tests.gateway_fakes import FakeService, Plan
from mallkit import mongo

ORDER_BODY = {"lines": [{"sku_id": "sku_1", "quantity": 1}]}


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def test_a_service_with_nothing_listening_is_a_fast_503(
    make_client: Callable[..., TestClient], auth: Callable[..., dict[str, str]]
) -> None:
    client = make_client({"RETAIL_GRPC_TARGET": closed_port_target()})
    for call in (
        lambda: client.get("/api/v1/skus/sku_1"),  # retried twice (idempotent)
        lambda: client.post("/api/v1/orders", json=ORDER_BODY, headers=auth()),  # not retried
    ):
        response, elapsed = timed(call)
        assert response.status_code == 503, response.text  # type: ignore[attr-defined]
        assert response.json()["code"] == "unavailable"  # type: ignore[attr-defined]
        assert response.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
        assert elapsed < 2 * DEADLINE_SECONDS
    # the other services are unaffected
    assert client.get("/api/v1/posts/post_1").status_code == 200


def test_a_stuck_service_is_a_503_after_one_deadline(client: TestClient, plan: Plan) -> None:
    plan.hang.add("GetSku")
    response, elapsed = timed(lambda: client.get("/api/v1/skus/sku_1"))
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.json()["code"] == "deadline_exceeded"  # type: ignore[attr-defined]
    assert DEADLINE_SECONDS * 0.9 <= elapsed < 2 * DEADLINE_SECONDS
    assert len(plan.calls_to("GetSku")) == 1  # a deadline is not retried


def test_liveness_is_always_ok(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"GUIDE_GRPC_TARGET": closed_port_target()})
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_every_service_serves(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "services": dict.fromkeys(("retail", "groupbuy", "content", "agent", "guide"), "SERVING"),
        "stores": {"mongo": "ok", "redis": "ok"},
    }


def test_not_ready_when_a_service_is_not_serving_or_down(
    make_client: Callable[..., TestClient], fakes: dict[str, FakeService]
) -> None:
    fakes["content"].set_serving(False)
    client = make_client({"GUIDE_GRPC_TARGET": closed_port_target()})
    response, elapsed = timed(lambda: client.get("/readyz"))
    assert response.status_code == 503  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == "not_ready"
    assert (body["services"]["retail"], body["services"]["content"], body["services"]["guide"]) == (
        "SERVING",
        "NOT_SERVING",
        "UNAVAILABLE",
    )
    assert elapsed < 2 * READINESS_TIMEOUT_SECONDS  # the down service costs one probe timeout, not a hang


def test_without_redis_reads_go_on_and_what_needs_it_is_a_503(
    make_client: Callable[..., TestClient], auth: Callable[..., dict[str, str]]
) -> None:
    """The general rate limits fail open; codes, sign-in limits and idempotency keys fail closed."""
    client = make_client({"REDIS_URL": f"redis://{closed_port_target()}/0", "RATE_LIMIT_IP": "100/60"})
    assert client.get("/api/v1/skus/sku_1").status_code == 200
    assert client.get("/api/v1/orders/ord_1", headers=auth()).status_code == 200
    for response in (
        client.post("/api/v1/auth/codes", json={"phone": "+8613912345678"}),
        client.post("/api/v1/orders", json=ORDER_BODY, headers={**auth(), "Idempotency-Key": "k-1"}),
    ):
        assert response.status_code == 503, response.text  # type: ignore[attr-defined]
        assert response.json()["code"] == "store_unavailable"  # type: ignore[attr-defined]
        assert response.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["stores"]["mongo"]) == (503, "ok")
    assert ready.json()["stores"]["redis"] != "ok"


def test_without_its_mongo_the_account_routes_are_a_quick_503(
    client: TestClient, mongo_db: str, mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB going away after start-up: sign-in fails within the server selection timeout."""
    monkeypatch.setattr(mongo, "SERVER_SELECTION_TIMEOUT_MS", 500)  # the default, shortened for the test
    monkeypatch.setenv("MONGO_URI", f"mongodb://{closed_port_target()}/?directConnection=true")
    mongo.connect(mongo_db)
    try:
        login = {"phone": "+8613912345678", "password": "a password 1"}
        response, elapsed = timed(lambda: client.post("/api/v1/auth/login/password", json=login))
    finally:
        monkeypatch.setenv("MONGO_URI", mongo_uri)
        mongo.connect(mongo_db)
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.json()["code"] == "store_unavailable"  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    assert elapsed < 3
