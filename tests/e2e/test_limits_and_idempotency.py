"""Rate limits and Idempotency-Key on the live platform (real Redis, real retail, real stock)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def new_address() -> str:
    """A client address of its own (documentation range): buckets of earlier runs never apply."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


@pytest.fixture(scope="module")
def api(platform: Any) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=20, trust_env=False, limits=limits) as client:
        yield client


@pytest.fixture(scope="module")
def sku_id(platform: Any) -> str:
    return platform.approved_sku("Idempotent tea", 500, 100)["id"]


def test_twenty_concurrent_orders_with_one_key_make_one_order(api: httpx.Client, platform: Any, sku_id: str) -> None:
    buyer = {**platform.token(f"u_idem_{uuid.uuid4().hex[:8]}", "consumer"), "Idempotency-Key": uuid.uuid4().hex}
    body = {"lines": [{"sku_id": sku_id, "quantity": 3}]}
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: api.post("/orders", json=body, headers=buyer), range(20)))
    assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies if r.status_code != 201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in replies) == 19
    assert api.get(f"/skus/{sku_id}").json()["stock"] == 97  # the stock moved once: one order

    other_body = api.post("/orders", json={"lines": [{"sku_id": sku_id, "quantity": 1}]}, headers=buyer)
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")

    order_id = replies[0].json()["id"]
    pay = {**buyer, "Idempotency-Key": uuid.uuid4().hex}
    with ThreadPoolExecutor(max_workers=5) as pool:
        paid = list(pool.map(lambda _: api.post(f"/dev/payments/{order_id}/simulate", headers=pay), range(5)))
    assert [p.status_code for p in paid] == [200] * 5
    assert len({p.json()["transaction_id"] for p in paid}) == 1  # the provider was played once
    assert api.get(f"/orders/{order_id}", headers=buyer).json()["status"] == "paid"


def test_codes_are_limited_per_phone_with_retry_after(api: httpx.Client) -> None:
    phone = f"+86136{secrets.randbelow(10**8):08d}"
    via = {"X-Forwarded-For": new_address()}
    assert api.post("/auth/codes", json={"phone": phone}, headers=via).status_code == 202
    again = api.post("/auth/codes", json={"phone": phone}, headers=via)
    assert (again.status_code, again.json()["code"]) == (429, "rate_limited")
    assert 50 <= int(again.headers["retry-after"]) <= 60


def test_sign_in_attempts_are_limited_per_client_address(api: httpx.Client) -> None:
    """30 attempts a minute from one address (X-Forwarded-For, trusted from loopback as from an ingress)."""
    address = new_address()

    def attempt(via: str) -> httpx.Response:
        phone = f"+86136{secrets.randbelow(10**8):08d}"
        return api.post(
            "/auth/login/password", json={"phone": phone, "password": "guess"}, headers={"X-Forwarded-For": via}
        )

    # the bucket holds 30 and gives one attempt back every 2 s (GCRA): on a slow runner the 30
    # attempts take longer than that, so a few more may pass before the first 429
    started, statuses = time.monotonic(), []
    while 429 not in statuses and len(statuses) < 60:
        statuses.append(attempt(address).status_code)
    given_back = int((time.monotonic() - started) / 2) + 1
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
    assert 30 <= len(statuses) - 1 <= 30 + given_back, (statuses, given_back)
    assert attempt(new_address()).status_code == 401  # another address is not affected
