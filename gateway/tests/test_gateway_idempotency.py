"""Idempotency-Key: replay, reuse with another body, concurrency, and what is (not) stored."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from gateway.idempotency import PREFIX, fingerprint
from gateway.routes.dev import provider_http
from gateway.tests.conftest import new_key
from gateway.tests.gateway_fakes import Plan

ORDER = {"lines": [{"sku_id": "sku_1", "quantity": 2}]}
Auth = Callable[..., dict[str, str]]


def post_order(client: TestClient, headers: dict[str, str], key: str, body: Any = None, **kwargs: Any) -> Any:
    return client.post(
        "/api/v1/orders", json=ORDER if body is None else body, headers={**headers, "Idempotency-Key": key}, **kwargs
    )


def test_a_repeat_replays_the_first_response(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_idem")
    first = post_order(client, user, key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post_order(client, user, key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert len(plan.calls_to("CreateOrder")) == 1


def test_the_same_json_written_differently_is_the_same_request(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_idem")
    assert post_order(client, user, key).status_code == 201
    spaced = b'{ "lines" : [ { "quantity": 2, "sku_id": "sku_1" } ] }'
    again = client.post(
        "/api/v1/orders", content=spaced, headers={**user, "Idempotency-Key": key, "Content-Type": "application/json"}
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert len(plan.calls_to("CreateOrder")) == 1
    assert fingerprint("POST", "/p", b'{"a":1,"b":2}') == fingerprint("POST", "/p", b'{"b": 2, "a": 1}')
    assert fingerprint("POST", "/p", b"{}") != fingerprint("POST", "/q", b"{}")


def test_the_same_key_with_another_body_is_a_422(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_idem")
    assert post_order(client, user, key).status_code == 201
    other = post_order(client, user, key, {"lines": [{"sku_id": "sku_1", "quantity": 3}]})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    elsewhere = client.post("/api/v1/orders/ord_1/payments", headers={**user, "Idempotency-Key": key})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "idempotency_key_reused")
    assert len(plan.calls_to("CreateOrder")) == 1


def test_keys_belong_to_their_user(client: TestClient, auth: Auth, plan: Plan) -> None:
    key = new_key()
    mine = post_order(client, auth("u_one"), key)
    theirs = post_order(client, auth("u_two"), key)
    assert (mine.json()["buyer_id"], theirs.json()["buyer_id"]) == ("u_one", "u_two")
    assert "Idempotent-Replayed" not in theirs.headers
    assert len(plan.calls_to("CreateOrder")) == 2


def test_twenty_concurrent_requests_with_one_key_make_one_order(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_race")
    plan.hang.add("CreateOrder")  # the first request stays in flight while the others arrive
    threading.Timer(0.4, plan.release.set).start()
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: post_order(client, user, key), range(20)))
    assert len(plan.calls_to("CreateOrder")) == 1
    assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies if r.status_code != 201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 19


def test_a_duplicate_that_cannot_wait_is_a_409(make_client: Callable[..., TestClient], auth: Auth, plan: Plan) -> None:
    client = make_client({"IDEMPOTENCY_WAIT_SECONDS": "0", "GRPC_DEADLINE_SECONDS": "3"})
    key, user = new_key(), auth("u_wait")
    plan.hang.add("CreateOrder")
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(post_order, client, user, key)
        while not plan.calls_to("CreateOrder"):
            threading.Event().wait(0.01)
        duplicate = post_order(client, user, key)
        assert (duplicate.status_code, duplicate.json()["code"]) == (409, "idempotency_key_in_progress")
        assert duplicate.headers["Retry-After"] == "1"
        plan.release.set()
        assert first.result().status_code == 201


def test_a_5xx_is_not_stored_so_a_retry_runs_again(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_retry")
    plan.fail("CreateOrder", grpc.StatusCode.UNAVAILABLE, "retail is restarting")
    assert post_order(client, user, key).status_code == 503
    plan.failures.clear()
    retry = post_order(client, user, key)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert len(plan.calls_to("CreateOrder")) == 2


def test_a_refusal_is_stored_and_replayed(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_refused")
    plan.fail("CreateOrder", grpc.StatusCode.FAILED_PRECONDITION, "only 1 left", "out_of_stock")
    first = post_order(client, user, key)
    assert (first.status_code, first.json()["code"]) == (409, "out_of_stock")
    plan.failures.clear()
    again = post_order(client, user, key)
    assert (again.status_code, again.json()) == (409, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(plan.calls_to("CreateOrder")) == 1


def test_an_invalid_request_does_not_take_the_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_invalid")
    bad = post_order(client, user, key, {"lines": []})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    assert post_order(client, user, key).status_code == 201


def test_replies_are_kept_for_a_day(client: TestClient, auth: Auth, redis_url: str) -> None:
    key = new_key()
    post_order(client, auth("u_ttl"), key)
    ttl = redis.Redis.from_url(redis_url).ttl(f"{PREFIX}u_ttl:{key}")
    assert 24 * 3600 - 60 < ttl <= 24 * 3600


def test_payments_replay_too(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_pay")
    first = client.post("/api/v1/orders/ord_1/payments", headers={**user, "Idempotency-Key": key})
    again = client.post("/api/v1/orders/ord_1/payments", headers={**user, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert len(plan.calls_to("CreatePayment")) == 1


def test_a_body_nested_too_deep_to_read_is_fingerprinted_as_bytes(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user, deep = new_key(), auth("u_deep"), b"[" * 5000 + b"]" * 5000  # a route that reads no body
    first = client.post("/api/v1/orders/ord_1/payments", content=deep, headers={**user, "Idempotency-Key": key})
    again = client.post("/api/v1/orders/ord_1/payments", content=deep, headers={**user, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()


@pytest.fixture
def loopback_provider(client: TestClient) -> Iterator[None]:
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
    client.app.dependency_overrides[provider_http] = lambda: http  # type: ignore[attr-defined]
    yield
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


@pytest.mark.usefixtures("loopback_provider")
def test_a_simulated_payment_replays(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_sim")
    first = client.post("/api/v1/dev/payments/ord_1/simulate", headers={**user, "Idempotency-Key": key})
    again = client.post("/api/v1/dev/payments/ord_1/simulate", headers={**user, "Idempotency-Key": key})
    assert first.status_code == 200 and again.json()["transaction_id"] == first.json()["transaction_id"]
    assert len(plan.calls_to("HandlePaymentNotify")) == 1


@pytest.mark.parametrize("key", ["a b", "", "k" * 129, "key/with/slashes"])
def test_malformed_keys_are_422(client: TestClient, auth: Auth, key: str, plan: Plan) -> None:
    reply = client.post("/api/v1/orders", json=ORDER, headers={**auth(), "Idempotency-Key": key})
    assert reply.status_code == 422
    assert plan.calls == []
