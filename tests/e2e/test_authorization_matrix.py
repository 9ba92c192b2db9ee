"""Authorization matrix on the live platform: two real accounts, every route that touches an owned
resource. The owner gets through; the other user always gets 404 (as if it did not exist); no token
and every kind of bad token get 401.

Owned resources that exist today: orders, payments (start and the dev simulation), groupbuy's
paid-order records, team seats and bargains, agents, KOL links, role applications.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from gateway.settings import DEV_JWT_SECRET

pytestmark = pytest.mark.e2e

JWT_SECRET = os.environ.get("JWT_SECRET", DEV_JWT_SECRET)  # the platform's gateway runs with this


@dataclass
class User:
    id: str
    headers: dict[str, str]
    refresh_token: str


@dataclass
class Owned:
    order_id: str  # created, unpaid
    paid_order_id: str
    agent_id: str
    link_id: str
    application_id: str
    team_id: str  # the owner holds its seat 1
    bargain_id: str  # the owner started it


def sign_up(api: httpx.Client) -> dict[str, Any]:
    """A new account, signed up from an address of its own (X-Forwarded-For, documentation range)."""
    phone = f"+86135{secrets.randbelow(10**8):08d}"
    via = {"X-Forwarded-For": f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"}
    assert api.post("/auth/codes", json={"phone": phone}, headers=via).status_code == 202
    code = api.get(f"/dev/codes/{phone}").json()["code"]
    reply = api.post("/auth/register", json={"phone": phone, "code": code, "password": "matrix pass 1"}, headers=via)
    assert reply.status_code == 201, reply.text
    tokens: dict[str, Any] = reply.json()
    return tokens


@pytest.fixture(scope="module")
def api(platform: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=15, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def users(api: httpx.Client) -> tuple[User, User]:
    found = []
    for _ in (1, 2):
        tokens = sign_up(api)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        found.append(User(tokens["account"]["id"], bearer, tokens["refresh_token"]))
    return found[0], found[1]


BRAND_USER = f"u_matrix_brand_{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def sku_id(platform: Any) -> str:
    return platform.approved_sku("Matrix tea", 990, 100, brand_user=BRAND_USER)["id"]


def promotions(api: httpx.Client, platform: Any, sku_id: str) -> tuple[str, str]:
    """A live 拼团 campaign and a 砍价 campaign on the SKU: (groupbuy campaign id, bargain campaign id)."""
    brand = platform.token(BRAND_USER, "brand")
    group = {"sku_id": sku_id, "group_price_fen": 890, "team_size": 3, "publish": True}
    campaign = api.post("/groupbuy/campaigns", json=group, headers=brand)
    bargain = {"sku_id": sku_id, "original_price_fen": 990, "floor_price_fen": 490, "helpers_needed": 3}
    bargain_campaign = api.post("/bargain/campaigns", json=bargain, headers=brand)
    assert (campaign.status_code, bargain_campaign.status_code) == (201, 201), campaign.text + bargain_campaign.text
    return campaign.json()["id"], bargain_campaign.json()["id"]


@pytest.fixture(scope="module")
def owned(api: httpx.Client, platform: Any, users: tuple[User, User], sku_id: str) -> Owned:
    owner = users[0].headers
    lines = {"lines": [{"sku_id": sku_id, "quantity": 1}]}
    order = api.post("/orders", json=lines, headers=owner).json()
    paid = api.post("/orders", json=lines, headers=owner).json()
    assert api.post(f"/dev/payments/{paid['id']}/simulate", headers=owner).status_code == 200
    deadline = time.monotonic() + 15
    while api.get(f"/groupbuy/paid-orders/{paid['id']}", headers=owner).status_code != 200:
        assert time.monotonic() < deadline, "groupbuy never recorded the paid order"
        time.sleep(0.2)
    # agents and KOL links need roles granted by approval: apply, an admin approves, refresh the token
    admin = platform.token(f"u_matrix_admin_{secrets.token_hex(3)}", "admin")
    for role in ("agent", "kol"):
        applied = api.post("/role-applications", json={"role": role}, headers=owner)
        assert applied.status_code == 201, applied.text
        decided = api.post(f"/admin/role-applications/{applied.json()['id']}/approve", json={}, headers=admin)
        assert decided.status_code == 200, decided.text
    refreshed = api.post("/auth/refresh", json={"refresh_token": users[0].refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    owner = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    agent = api.post("/agents", json={"display_name": "Owner"}, headers=owner)
    link = api.post("/guide/links", json={"sku_id": sku_id}, headers=owner)
    application = api.post("/role-applications", json={"role": "brand"}, headers=owner)
    assert (agent.status_code, link.status_code, application.status_code) == (201, 201, 201)
    group_campaign, bargain_campaign = promotions(api, platform, sku_id)
    team = api.post(f"/groupbuy/campaigns/{group_campaign}/teams", headers=owner)
    bargain = api.post(f"/bargain/campaigns/{bargain_campaign}/bargains", headers=owner)
    assert (team.status_code, bargain.status_code) == (201, 201), team.text + bargain.text
    return Owned(
        order["id"],
        paid["id"],
        agent.json()["id"],
        link.json()["id"],
        application.json()["id"],
        team.json()["team"]["id"],
        bargain.json()["id"],
    )


def owned_routes(owned: Owned) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, extra headers): every route that reads or acts on one of the owner's resources."""
    return [
        ("GET", f"/orders/{owned.order_id}", {}),
        ("POST", f"/orders/{owned.order_id}/payments", {}),
        ("POST", f"/orders/{owned.order_id}/payments", {"Idempotency-Key": uuid.uuid4().hex}),
        ("POST", f"/dev/payments/{owned.order_id}/simulate", {}),
        ("GET", f"/groupbuy/paid-orders/{owned.paid_order_id}", {}),
        ("GET", f"/agents/{owned.agent_id}", {}),
        ("GET", f"/guide/links/{owned.link_id}", {}),
        ("GET", f"/role-applications/{owned.application_id}", {}),
        ("POST", f"/groupbuy/teams/{owned.team_id}/order", {}),
        ("POST", f"/groupbuy/teams/{owned.team_id}/leave", {}),
        ("POST", f"/bargain/bargains/{owned.bargain_id}/order", {"Idempotency-Key": uuid.uuid4().hex}),
    ]


def test_the_owner_gets_through(api: httpx.Client, users: tuple[User, User], owned: Owned) -> None:
    owner = users[0].headers
    for method, path, extra in owned_routes(owned):
        if path.endswith(("/simulate", "/leave")):
            continue  # paying or leaving would end what the other checks need; both are checked elsewhere
        reply = api.request(method, path, headers={**owner, **extra})
        assert reply.status_code in (200, 201), f"{method} {path}: {reply.text}"


def test_another_user_never_sees_or_touches_them(api: httpx.Client, users: tuple[User, User], owned: Owned) -> None:
    owner, other = users
    for method, path, extra in owned_routes(owned):
        reply = api.request(method, path, headers={**other.headers, **extra})
        assert reply.status_code == 404, f"{method} {path} as another user: {reply.status_code} {reply.text}"
        assert reply.json()["code"].endswith("_not_found"), f"{method} {path}: {reply.text}"
    # nothing the other user tried changed the owner's order
    assert api.get(f"/orders/{owned.order_id}", headers=owner.headers).json()["status"] == "created"
    team = api.get(f"/groupbuy/teams/{owned.team_id}", headers=owner.headers).json()
    assert (team["status"], [s["user_id"] for s in team["seats"]]) == ("forming", [owner.id])
    bought = api.get(f"/bargain/bargains/{owned.bargain_id}").json()["order_id"]  # only by the owner, if at all
    assert bought is None or api.get(f"/orders/{bought}", headers=owner.headers).json()["buyer_id"] == owner.id
    # and they cannot decide the owner's application
    decide = api.post(f"/admin/role-applications/{owned.application_id}/approve", headers=other.headers)
    assert (decide.status_code, decide.json()["code"]) == (403, "role_required")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256(signing_input: str, key: str) -> str:
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def bad_tokens(owner: User) -> dict[str, str]:
    """Tokens that speak for the owner (as admin, even) but that the gateway never issued."""
    now = datetime.now(UTC)
    claims = {"sub": owner.id, "roles": ["admin", "consumer"], "iss": "socialmall"}
    fresh = {**claims, "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
    header, _, signature = owner.headers["Authorization"].removeprefix("Bearer ").split(".")
    as_rs256 = f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(fresh)}"
    as_hs256 = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(fresh)}"
    public_key = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
    return {
        "tampered": f"{header}.{b64(fresh)}.{signature}",
        "expired": jwt.encode(
            {**claims, "iat": now - timedelta(hours=1), "exp": now - timedelta(minutes=1)}, JWT_SECRET, "HS256"
        ),
        "alg-none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(fresh)}.",
        "rs256-header-hmac-signed": f"{as_rs256}.{hs256(as_rs256, JWT_SECRET)}",
        "hs256-keyed-with-a-public-key": f"{as_hs256}.{hs256(as_hs256, public_key)}",
        "wrong-key": jwt.encode(fresh, "another-secret-0123456789abcdef0123456789", "HS256"),
        "wrong-issuer": jwt.encode({**fresh, "iss": "someone-else"}, JWT_SECRET, "HS256"),
        "garbage": "not-a-jwt",
    }


def test_missing_and_bad_tokens_are_401_everywhere(api: httpx.Client, users: tuple[User, User], owned: Owned) -> None:
    owner = users[0]
    for method, path, extra in owned_routes(owned):
        reply = api.request(method, path, headers=extra)
        assert (reply.status_code, reply.json()["code"]) == (401, "missing_token"), f"{method} {path}"
        for name, token in bad_tokens(owner).items():
            reply = api.request(method, path, headers={**extra, "Authorization": f"Bearer {token}"})
            assert reply.status_code == 401, f"{method} {path} with a {name} token: {reply.text}"
            assert reply.json()["code"] in ("invalid_token", "token_expired"), f"{name}: {reply.text}"
