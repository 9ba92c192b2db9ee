"""Rate limits: per IP, per user, stricter for sign-in and codes; 429 with Retry-After; atomic."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimited, RateLimiter
from gateway.settings import Limit
from gateway.tests.conftest import new_phone
from gateway.tests.test_gateway_accounts import PASSWORD, bearer, register

Auth = Callable[..., dict[str, str]]
SKU = "/api/v1/skus/sku_1"


def assert_limited(reply, at_most: int) -> None:
    assert reply.status_code == 429, reply.text
    assert reply.json()["code"] == "rate_limited"
    assert 1 <= int(reply.headers["Retry-After"]) <= at_most


def test_per_ip_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_IP": "3/60"})
    assert [client.get(SKU).status_code for _ in range(3)] == [200] * 3
    assert_limited(client.get(SKU), 20)  # one request refills every 20 s
    neighbour = make_client({"RATE_LIMIT_IP": "3/60"})  # another address has its own bucket
    assert neighbour.get(SKU).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes are not limited


def test_an_ipv6_client_is_limited_by_its_64(make_client: Callable[..., TestClient]) -> None:
    prefix = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    env = {"RATE_LIMIT_IP": "2/60"}
    same_subscriber = [make_client(env, ip=f"{prefix}::{i}") for i in range(1, 4)]
    assert [c.get(SKU).status_code for c in same_subscriber[:2]] == [200, 200]
    assert_limited(same_subscriber[2].get(SKU), 30)
    assert make_client(env, ip=f"2001:db8:{uuid.uuid4().hex[:4]}::1").get(SKU).status_code == 200


def test_per_user_limit_follows_the_user_across_addresses(make_client: Callable[..., TestClient], auth: Auth) -> None:
    env = {"RATE_LIMIT_USER": "2/60"}
    first, second = make_client(env), make_client(env)
    user, other = auth(f"u_{uuid.uuid4().hex[:8]}"), auth(f"u_{uuid.uuid4().hex[:8]}")
    assert first.get("/api/v1/orders/ord_1", headers=user).status_code == 200
    assert second.get("/api/v1/orders/ord_1", headers=user).status_code == 200
    assert_limited(second.get("/api/v1/orders/ord_1", headers=user), 30)
    assert second.get("/api/v1/orders/ord_1", headers=other).status_code == 200


def test_failed_authentication_counts_against_the_address(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_IP": "2/60"})
    for _ in range(2):
        assert client.get("/api/v1/orders/ord_1", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert_limited(client.get(SKU), 30)


def test_a_bucket_refills(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_IP": "2/4"})  # 3 requests well within 2 s, even on a slow runner
    assert [client.get(SKU).status_code for _ in range(2)] == [200, 200]
    assert client.get(SKU).status_code == 429
    time.sleep(2.05)  # one request every 2 s
    assert client.get(SKU).status_code == 200


def test_one_code_per_phone_per_minute(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_CODE_PHONE": "1/60", "RATE_LIMIT_CODE_IP": "10/600"})
    phone = new_phone()
    assert client.post("/api/v1/auth/codes", json={"phone": phone}).status_code == 202
    again = client.post("/api/v1/auth/codes", json={"phone": phone})
    assert_limited(again, 60)
    assert int(again.headers["Retry-After"]) >= 55
    assert client.post("/api/v1/auth/codes", json={"phone": new_phone()}).status_code == 202


def test_codes_per_address(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_CODE_IP": "3/600"})
    assert [client.post("/api/v1/auth/codes", json={"phone": new_phone()}).status_code for _ in range(3)] == [202] * 3
    assert_limited(client.post("/api/v1/auth/codes", json={"phone": new_phone()}), 200)


def test_password_guessing_is_limited_per_phone(make_client: Callable[..., TestClient]) -> None:
    env = {"RATE_LIMIT_AUTH_PHONE": "3/900"}
    phone = new_phone()
    guesses = [
        make_client(env).post("/api/v1/auth/login/password", json={"phone": phone, "password": f"guess {i}"})
        for i in range(3)
    ]
    assert [g.status_code for g in guesses] == [401] * 3  # from three addresses
    assert_limited(make_client(env).post("/api/v1/auth/login/password", json={"phone": phone, "password": "x"}), 300)


def test_password_confirmations_are_limited_per_account(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_AUTH_PHONE": "3/900"})
    tokens = register(client)
    change = "/api/v1/me/password"
    guesses = [
        client.post(
            change, json={"current_password": f"guess {i}", "new_password": "a new password"}, headers=bearer(tokens)
        )
        for i in range(3)
    ]
    assert [g.status_code for g in guesses] == [403] * 3
    right = {"current_password": PASSWORD, "new_password": "a new password"}
    assert_limited(client.post(change, json=right, headers=bearer(tokens)), 300)


def test_sign_in_attempts_are_limited_per_address(make_client: Callable[..., TestClient]) -> None:
    client = make_client({"RATE_LIMIT_AUTH_IP": "2/60"})
    for _ in range(2):
        client.post("/api/v1/auth/login/password", json={"phone": new_phone(), "password": "x"})
    assert_limited(client.post("/api/v1/auth/login/password", json={"phone": new_phone(), "password": "x"}), 30)


@pytest.mark.parametrize(("spec", "limit"), [("10/60", Limit(10, 60)), (" 1 / 0.5 ", Limit(1, 0.5)), ("off", None)])
def test_limit_settings(spec: str, limit: Limit | None) -> None:
    assert Limit.parse("X", spec) == limit


@pytest.mark.parametrize("spec", ["10", "0/60", "10/0", "ten/60", ""])
def test_bad_limit_settings_stop_the_start(spec: str) -> None:
    with pytest.raises(ValueError, match="COUNT/SECONDS"):
        Limit.parse("RATE_LIMIT_IP", spec)


def test_the_limiter_is_exact_under_concurrency(redis_url: str) -> None:
    """50 simultaneous hits on a bucket of 10: exactly 10 pass; a refused hit charges no bucket."""

    async def scenario() -> tuple[int, int]:
        cache = aioredis.Redis.from_url(redis_url, decode_responses=True)
        limiter = RateLimiter(cache)
        tight, loose = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"

        async def one() -> bool:
            try:
                await limiter.hit((Limit(10, 60), tight), (Limit(100, 60), loose))
            except RateLimited:
                return False
            return True

        passed = sum(await asyncio.gather(*(one() for _ in range(50))))
        left = 0  # the loose bucket was charged only by the 10 that passed: 90 more fit
        for _ in range(95):
            try:
                await limiter.hit((Limit(100, 60), loose))
                left += 1
            except RateLimited:
                break
        await cache.aclose()
        return passed, left

    assert asyncio.run(scenario()) == (10, 90)


def test_payment_callbacks_have_a_bucket_of_their_own(make_client: Callable[..., TestClient]) -> None:
    provider = make_client({"RATE_LIMIT_IP": "2/60", "RATE_LIMIT_NOTIFY_IP": "4/60"})

    def notify():
        return provider.post("/api/v1/payments/notify", content=b"{}", headers={"X-Pay-Signature": "00"})

    # a burst beyond the per-IP bucket still reaches retail (here the tests' stand-in)
    assert [notify().status_code for _ in range(4)] == [200] * 4
    assert_limited(notify(), 15)
    assert [provider.get(SKU).status_code for _ in range(2)] == [200, 200]  # the IP's own bucket is untouched
