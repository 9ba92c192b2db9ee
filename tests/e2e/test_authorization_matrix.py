"""Authorization matrix on the live platform: every route that touches an owned resource, called by its
owner, by another user and, where there is one, by a related party (the order's store owner or brand
owner, another brand). Each case states who gets through and what everyone else gets, by one rule:

- a resource the caller cannot see answers 404, as if it did not exist;
- a resource the caller sees, when the action is not theirs, answers 403 with a code saying why;
- no token and every kind of bad token get 401 wherever a token is required.

Routes that act on the caller's own part of something (`/groupbuy/teams/{id}/order` and `/leave`: the
caller's seat) answer 404 `seat_not_found` when there is none, as `GET /stores/me` does. A `?user_id=`
of another user is an admin's parameter: 403 `role_required`.

A route with a path parameter or an id in its query is either in MATRIX or, with the reason, in
NOT_OWNED; `test_every_route_with_an_owner_is_in_the_matrix` fails for one that is in neither, so a
new owned route cannot be forgotten.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from gateway.app import API_PREFIX, create_app
from gateway.settings import DEV_JWT_SECRET

pytestmark = pytest.mark.e2e

JWT_SECRET = os.environ.get("JWT_SECRET", DEV_JWT_SECRET)  # the platform's gateway runs with this

Expect = tuple[int, str]  # an answer: status and error code
Body = Callable[[dict[str, str]], dict[str, Any]]
ROLE_REQUIRED: Expect = (403, "role_required")
NOT_STORE_OWNER: Expect = (403, "not_store_owner")
NOT_BUYER: Expect = (403, "not_buyer")
NOT_SELLER: Expect = (403, "not_seller")
NOT_CAMPAIGN_OWNER: Expect = (403, "not_campaign_owner")
ORDER_NOT_FOUND: Expect = (404, "order_not_found")
REFUND_NOT_FOUND: Expect = (404, "refund_not_found")
CAMPAIGN_NOT_FOUND: Expect = (404, "campaign_not_found")


@dataclass(frozen=True)
class Case:
    """One call on an owned resource. Parties: owner and stranger (two real accounts), seller (owner of
    the store the orders are attributed to), brand (owner of the SKUs' brand and of the campaigns),
    other_brand (a brand that owns none of it)."""

    method: str
    route: str  # as the app declares it, under /api/v1
    allowed: tuple[str, ...]  # who the action is for, in the order they try it; () when not tried here
    denied: dict[str, Expect]
    ids: dict[str, str] = field(default_factory=dict)  # path parameter → fixture id, where the names differ
    query: dict[str, str] = field(default_factory=dict)  # query parameter → fixture id
    body: Body | None = None
    key: bool = False  # sends a fresh Idempotency-Key
    ok: int = 200

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}"

    def call(self, api: httpx.Client, ids: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        path = self.route.format_map({**ids, **{param: ids[source] for param, source in self.ids.items()}})
        extra = {"Idempotency-Key": uuid.uuid4().hex} if self.key else {}
        return api.request(
            self.method,
            path,
            params={param: ids[source] for param, source in self.query.items()},
            json=self.body(ids) if self.body else None,
            headers={**headers, **extra},
        )


def shipment(ids: dict[str, str]) -> dict[str, Any]:
    return {"carrier": "SF Express", "tracking_number": f"SF{ids['paid_order_id'][-10:]}"}


def product_of_the_brand(ids: dict[str, str]) -> dict[str, Any]:
    sku = {"spec": "25g", "price_fen": PRICE_FEN, "supply_price_fen": 600, "stock": 5}
    return {"brand_id": ids["brand_id"], "title": "Matrix tea, second flush", "category": "tea", "skus": [sku]}


def group_terms(ids: dict[str, str]) -> dict[str, Any]:
    return {"sku_id": ids["sku_id"], "group_price_fen": 890, "team_size": 3}


def bargain_terms(ids: dict[str, str]) -> dict[str, Any]:
    return {"sku_id": ids["sku_id"], "original_price_fen": 990, "floor_price_fen": 490, "helpers_needed": 3}


def one_unit_back(ids: dict[str, str]) -> dict[str, Any]:
    return {"lines": [{"sku_id": ids["sku_id"], "quantity": 1}], "reason": "arrived damaged"}


NOT_SKU_OWNER = (403, "not_sku_owner")
PAID = {"order_id": "paid_order_id"}
DRAFT = {"campaign_id": "draft_id"}
PENDING_SKU = {"sku_id": "pending_sku_id"}
OWNER_WALLET = {"user_id": "owner_id"}
WALLET_OF_ANOTHER = {"stranger": ROLE_REQUIRED, "seller": ROLE_REQUIRED}

# In the order the allowed parties try them: reads first, then the paid order's life (ship, receive,
# refund), then what ends something (publishing and ending the draft, delisting).
MATRIX = [
    # orders: seen by their buyer, their sellers (the attributed store's owner, the items' brand owner), admins
    Case("GET", "/orders/{order_id}", ("owner", "seller", "brand"), {"stranger": ORDER_NOT_FOUND}),
    Case(
        "GET",
        "/orders",
        ("seller",),
        {"owner": NOT_STORE_OWNER, "stranger": NOT_STORE_OWNER},
        query={"store_id": "store_id"},
    ),
    Case(
        "POST",
        "/orders/{order_id}/payments",
        ("owner",),
        {"stranger": ORDER_NOT_FOUND, "seller": NOT_BUYER, "brand": NOT_BUYER},
        ok=201,
    ),
    Case("POST", "/orders/{order_id}/payments", ("owner",), {"stranger": ORDER_NOT_FOUND}, key=True, ok=201),
    # paying would end the checks on the unpaid order; test_readme_flow pays through it
    Case("POST", "/dev/payments/{order_id}/simulate", (), {"stranger": ORDER_NOT_FOUND, "seller": NOT_BUYER}),
    Case(
        "GET",
        "/groupbuy/paid-orders/{order_id}",
        ("owner",),
        {"stranger": (404, "paid_order_not_found"), "seller": (404, "paid_order_not_found")},
        ids=PAID,
    ),
    Case(
        "GET",
        "/orders/{order_id}/refunds",
        ("owner", "seller", "brand"),
        {"stranger": ORDER_NOT_FOUND},
        ids={"order_id": "refund_order_id"},
    ),
    # wallet: a beneficiary sees their own payouts of an order; ?user_id= of another user is for admins
    Case(
        "GET",
        "/wallet/orders/{order_id}/payouts",
        ("seller",),
        {"owner": (404, "order_payouts_not_found"), "stranger": (404, "order_payouts_not_found")},
        ids=PAID,
    ),
    Case("GET", "/wallet/balance", ("owner",), WALLET_OF_ANOTHER, query=OWNER_WALLET),
    Case("GET", "/wallet/entries", ("owner",), WALLET_OF_ANOTHER, query=OWNER_WALLET),
    Case("GET", "/wallet/withdrawals", ("owner",), WALLET_OF_ANOTHER, query=OWNER_WALLET),
    # catalog: a product pending review is seen by its brand's owner (and admins) only
    Case(
        "GET",
        "/products/{product_id}",
        ("brand",),
        {"stranger": (404, "product_not_found"), "other_brand": (404, "product_not_found")},
        ids={"product_id": "pending_product_id"},
    ),
    Case(
        "GET",
        "/skus/{sku_id}",
        ("brand",),
        {"stranger": (404, "sku_not_found"), "other_brand": (404, "sku_not_found")},
        ids=PENDING_SKU,
    ),
    Case(
        "POST",
        "/skus/{sku_id}/stock-adjustments",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": (403, "not_brand_owner")},
        body=lambda ids: {"delta": 1, "reason": "matrix restock"},
    ),
    Case(
        "POST",
        "/skus/{sku_id}/stock-adjustments",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": (404, "sku_not_found")},
        ids=PENDING_SKU,
        body=lambda ids: {"delta": 1, "reason": "matrix restock"},
    ),
    # what a brand creates names its own brand, or a SKU of its own
    Case(
        "POST",
        "/products",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": (403, "not_brand_owner")},
        body=product_of_the_brand,
        ok=201,
    ),
    Case(
        "POST",
        "/groupbuy/campaigns",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": NOT_SKU_OWNER},
        body=group_terms,
        ok=201,
    ),
    Case(
        "POST",
        "/bargain/campaigns",
        (),  # the world's bargain campaign is the brand's call
        {"stranger": ROLE_REQUIRED, "other_brand": NOT_SKU_OWNER},
        body=bargain_terms,
    ),
    # agents, KOL links, role applications: their owner's (and admins') only
    Case("GET", "/agents/{agent_id}", ("owner",), {"stranger": (404, "agent_not_found")}),
    Case("GET", "/guide/links/{link_id}", ("owner",), {"stranger": (404, "link_not_found")}),
    Case("GET", "/role-applications/{application_id}", ("owner",), {"stranger": (404, "application_not_found")}),
    Case(
        "POST",
        "/admin/role-applications/{application_id}/approve",
        (),
        {"owner": ROLE_REQUIRED, "stranger": ROLE_REQUIRED},
    ),
    Case(
        "POST",
        "/admin/role-applications/{application_id}/reject",
        (),
        {"owner": ROLE_REQUIRED, "stranger": ROLE_REQUIRED},
        body=lambda ids: {"reason": "not mine to decide"},
    ),
    # groupbuy: a draft campaign is its brand's (and admins'); a seat and a bargain are their holder's
    Case(
        "GET",
        "/groupbuy/campaigns/{campaign_id}",
        ("brand",),
        {"stranger": CAMPAIGN_NOT_FOUND, "other_brand": CAMPAIGN_NOT_FOUND},
        ids=DRAFT,
    ),
    Case(
        "GET",
        "/groupbuy/campaigns/{campaign_id}/funnel",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": CAMPAIGN_NOT_FOUND},
        ids=DRAFT,
    ),
    Case(
        "GET",
        "/groupbuy/campaigns/{campaign_id}/funnel",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": NOT_CAMPAIGN_OWNER},
    ),
    Case("POST", "/groupbuy/teams/{team_id}/order", ("owner",), {"stranger": (404, "seat_not_found")}, ok=201),
    # leaving would end the team the other checks need; test_groupbuy_flow leaves one
    Case("POST", "/groupbuy/teams/{team_id}/leave", (), {"stranger": (404, "seat_not_found")}),
    Case(
        "POST",
        "/bargain/bargains/{bargain_id}/order",
        ("owner",),
        {"stranger": (403, "not_initiator")},  # a bargain is public: what a shared link opens
        key=True,
        ok=201,
    ),
    # the paid order's life: the seller ships, the buyer confirms receipt and asks for money back,
    # the brand decides the refund already asked for on another order
    Case(
        "POST",
        "/orders/{order_id}/shipment",
        ("seller", "brand"),
        {"owner": NOT_SELLER, "stranger": ORDER_NOT_FOUND},
        ids=PAID,
        body=shipment,
    ),
    Case(
        "POST",
        "/orders/{order_id}/receipt",
        ("owner",),
        {"seller": NOT_BUYER, "brand": NOT_BUYER, "stranger": ORDER_NOT_FOUND},
        ids=PAID,
    ),
    Case(
        "POST",
        "/orders/{order_id}/refunds",
        ("owner",),
        {"seller": NOT_BUYER, "brand": NOT_BUYER, "stranger": ORDER_NOT_FOUND},
        ids=PAID,
        body=one_unit_back,
        key=True,
        ok=201,
    ),
    Case(
        "POST",
        "/refunds/{refund_id}/review",
        ("brand",),
        {"owner": (403, "own_refund"), "seller": (403, "not_refund_reviewer"), "stranger": REFUND_NOT_FOUND},
        body=lambda ids: {"approve": True},
    ),
    # stores are public; only their owner changes them
    Case(
        "PUT",
        "/stores/{store_id}",
        ("seller",),
        {"owner": NOT_STORE_OWNER, "stranger": NOT_STORE_OWNER},
        body=lambda ids: {"name": "Matrix corner"},
    ),
    Case(
        "PUT",
        "/stores/{store_id}/products/{sku_id}",
        ("seller",),
        {"owner": NOT_STORE_OWNER, "stranger": NOT_STORE_OWNER},
        body=lambda ids: {"price_fen": PRICE_FEN},
    ),
    Case(
        "DELETE",
        "/stores/{store_id}/products/{sku_id}",
        ("seller",),
        {"owner": NOT_STORE_OWNER, "stranger": NOT_STORE_OWNER},
        ok=204,
    ),
    # publishing and ending: the draft by its brand; the published campaign is only tried by others
    Case(
        "POST",
        "/groupbuy/campaigns/{campaign_id}/publish",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": CAMPAIGN_NOT_FOUND},
        ids=DRAFT,
    ),
    Case("POST", "/groupbuy/campaigns/{campaign_id}/publish", (), {"other_brand": NOT_CAMPAIGN_OWNER}),
    Case(
        "POST",
        "/groupbuy/campaigns/{campaign_id}/end",
        ("brand",),
        {"stranger": ROLE_REQUIRED, "other_brand": CAMPAIGN_NOT_FOUND},
        ids=DRAFT,
    ),
    Case("POST", "/groupbuy/campaigns/{campaign_id}/end", (), {"other_brand": NOT_CAMPAIGN_OWNER}),
]

# Routes with a path parameter or an id in the query or the body that touch nothing owned, and why.
NOT_OWNED = {
    "GET /s/{code}": "a short link's redirect: public",
    "GET /brands/{brand_id}": "public",
    "GET /products": "brand_id filters the public catalog (approved products only)",
    "POST /admin/products/{product_id}/review": "role admin; anyone else gets 403 role_required",
    "POST /admin/withdrawals/{withdrawal_id}/review": "role admin; anyone else gets 403 role_required",
    "GET /stores/{store_id}": "public (what a share link opens)",
    "GET /stores/{store_id}/products": "public",
    "GET /stores/{store_id}/share": "public",
    "GET /groupbuy/campaigns": "sku_id filters; drafts are listed to their owner only",
    "GET /groupbuy/campaigns/{campaign_id}/teams": "public",
    "POST /groupbuy/campaigns/{campaign_id}/teams": "anyone signed in opens a team in a live campaign",
    "POST /groupbuy/campaigns/{campaign_id}/solo-order": "anyone signed in buys alone",
    "POST /groupbuy/teams/{team_id}/join": "anyone signed in joins a shared team",
    "GET /groupbuy/teams/{team_id}": "shared: anyone sees it, signed in or not; its seats only members (checked below)",
    "POST /groupbuy/teams/{team_id}/share": "the caller's own share code for a team anyone may join",
    "GET /groupbuy/shares/{share_code}": "what a shared link opens, as GET /groupbuy/teams/{team_id}",
    "GET /bargain/campaigns": "public; sku_id filters (a bargain campaign has no draft)",
    "GET /bargain/campaigns/{campaign_id}": "public",
    "POST /bargain/campaigns/{campaign_id}/bargains": "anyone signed in starts their own bargain",
    "GET /bargain/bargains/{bargain_id}": "public (what a shared link opens)",
    "POST /bargain/bargains/{bargain_id}/help": "anyone signed in cuts a bargain once",
    "GET /bargain/bargains/{bargain_id}/helps": "public",
    "GET /posts/{post_id}": "public",
    "GET /dev/codes/{phone}": "development only",
    "POST /dev/tokens": "development only: mints a token for any user_id",
    "POST /orders": "sku ids name public SKUs; attribution ids name who is credited (a store, whose price "
    "applies, a link, post, agent, team or bargain) and act on none of them",
    "POST /guide/links": "sku_id names a public SKU (role kol)",
}


@dataclass
class User:
    id: str
    headers: dict[str, str]
    refresh_token: str


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


TAG = secrets.token_hex(3)
BRAND_USER = f"u_matrix_brand_{TAG}"
PRICE_FEN = 990


def ok(reply: httpx.Response, status: int = 201) -> Any:
    assert reply.status_code == status, f"{reply.request.method} {reply.request.url}: {reply.text}"
    return reply.json() if reply.content else None


def wait_for(what: str, call: Callable[[], httpx.Response]) -> None:
    """Until `call` answers 200: the workers record events a moment after they happen."""
    deadline = time.monotonic() + 15
    while call().status_code != 200:
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


@dataclass
class World:
    parties: dict[str, dict[str, str]]  # party → its headers
    ids: dict[str, str]


@pytest.fixture(scope="module")
def world(api: httpx.Client, platform: Any, users: tuple[User, User]) -> World:
    """The owner's orders (bought in the seller's store from the brand), refund, agent, link, role
    application, seat and bargain; the brand's product pending review and its draft campaign."""
    admin = platform.token(f"u_matrix_admin_{TAG}", "admin")
    brand = platform.token(BRAND_USER, "brand")
    seller = platform.token(f"u_matrix_seller_{TAG}", "consumer")
    sku = platform.approved_sku("Matrix tea", PRICE_FEN, 100, brand_user=BRAND_USER)
    brand_id = ok(api.get(f"/products/{sku['product_id']}"), 200)["brand_id"]
    store_id = ok(api.post("/stores", json={"name": "Matrix corner"}, headers=seller))["id"]
    ok(api.put(f"/stores/{store_id}/products/{sku['id']}", json={"price_fen": PRICE_FEN}, headers=seller), 200)

    owner = users[0].headers
    in_store = {"lines": [{"sku_id": sku["id"], "quantity": 1}], "attribution": {"store_id": store_id}}
    order, paid, refunded = (ok(api.post("/orders", json=in_store, headers=owner))["id"] for _ in range(3))
    for order_id in (paid, refunded):
        ok(api.post(f"/dev/payments/{order_id}/simulate", headers=owner), 200)
    refund = api.post(
        f"/orders/{refunded}/refunds",
        json={"lines": [{"sku_id": sku["id"], "quantity": 1}], "reason": "changed my mind"},
        headers={**owner, "Idempotency-Key": uuid.uuid4().hex},
    )
    wait_for("groupbuy recorded the paid order", lambda: api.get(f"/groupbuy/paid-orders/{paid}", headers=owner))
    wait_for("the store's commission", lambda: api.get(f"/wallet/orders/{paid}/payouts", headers=seller))

    # agents and KOL links need roles granted by approval: apply, an admin approves, refresh the token
    for role in ("agent", "kol"):
        applied = ok(api.post("/role-applications", json={"role": role}, headers=owner))
        ok(api.post(f"/admin/role-applications/{applied['id']}/approve", json={}, headers=admin), 200)
    refreshed = ok(api.post("/auth/refresh", json={"refresh_token": users[0].refresh_token}), 200)
    owner = {"Authorization": f"Bearer {refreshed['access_token']}"}
    agent = ok(api.post("/agents", json={"display_name": "Owner"}, headers=owner))
    link = ok(api.post("/guide/links", json={"sku_id": sku["id"]}, headers=owner))
    application = ok(api.post("/role-applications", json={"role": "brand"}, headers=owner))

    group = group_terms({"sku_id": sku["id"]})
    campaign = ok(api.post("/groupbuy/campaigns", json={**group, "publish": True}, headers=brand))
    draft = ok(api.post("/groupbuy/campaigns", json={**group, "publish": False}, headers=brand))
    bargain_campaign = ok(api.post("/bargain/campaigns", json=bargain_terms({"sku_id": sku["id"]}), headers=brand))
    team = ok(api.post(f"/groupbuy/campaigns/{campaign['id']}/teams", headers=owner))
    bargain = ok(api.post(f"/bargain/campaigns/{bargain_campaign['id']}/bargains", headers=owner))

    pending_sku = {"spec": "50g", "price_fen": PRICE_FEN, "supply_price_fen": 600, "stock": 5}
    pending = {"brand_id": brand_id, "title": "Matrix tea, unreviewed", "category": "tea", "skus": [pending_sku]}
    pending_product = ok(api.post("/products", json=pending, headers=brand))
    return World(
        parties={
            "owner": owner,
            "stranger": users[1].headers,
            "seller": seller,
            "brand": brand,
            "other_brand": platform.token(f"u_matrix_other_brand_{TAG}", "brand"),
        },
        ids={
            "owner_id": users[0].id,
            "order_id": order,
            "paid_order_id": paid,
            "refund_order_id": refunded,
            "refund_id": ok(refund)["id"],
            "store_id": store_id,
            "brand_id": brand_id,
            "sku_id": sku["id"],
            "pending_product_id": pending_product["id"],
            "pending_sku_id": pending_product["skus"][0]["id"],
            "agent_id": agent["id"],
            "link_id": link["id"],
            "application_id": application["id"],
            "campaign_id": campaign["id"],
            "draft_id": draft["id"],
            "team_id": team["team"]["id"],
            "bargain_id": bargain["id"],
        },
    )


def openapi() -> dict[str, Any]:
    return create_app(configure_logging=False).openapi()


def operations() -> dict[str, dict[str, Any]]:
    """Every operation of the gateway's OpenAPI document, by "METHOD /route" (under /api/v1)."""
    return {
        f"{method.upper()} {path.removeprefix(API_PREFIX)}": operation
        for path, operations in openapi()["paths"].items()
        for method, operation in operations.items()
    }


def body_ids(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The `*_id` fields anywhere in the operation's JSON body (nested objects and lists included)."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    found: set[str] = set()
    pending, expanded = [body], set()
    while pending:
        schema = pending.pop()
        if ref := schema.get("$ref"):
            if ref not in expanded:
                expanded.add(ref)
                pending.append(schemas[ref.rsplit("/", 1)[1]])
            continue
        pending += [*schema.get("anyOf", []), *schema.get("allOf", []), *schema.get("oneOf", [])]
        pending += [schema["items"]] if "items" in schema else []
        for name, prop in schema.get("properties", {}).items():
            found |= {name} if name.endswith("_id") else set()
            pending.append(prop)
    return found


def test_every_route_with_an_owner_is_in_the_matrix() -> None:
    schemas = openapi()["components"]["schemas"]

    def addresses_something(operation: dict[str, Any]) -> bool:
        return bool(body_ids(operation, schemas)) or any(
            p["in"] == "path" or (p["in"] == "query" and p["name"].endswith("_id"))
            for p in operation.get("parameters", [])
        )

    candidates = {name for name, operation in operations().items() if addresses_something(operation)}
    listed = {case.name for case in MATRIX} | NOT_OWNED.keys()
    assert candidates - listed == set(), "add these to MATRIX, or to NOT_OWNED with the reason"
    assert listed - candidates == set(), "these routes are gone, or address nothing any more"


def test_each_party_gets_its_answer(api: httpx.Client, users: tuple[User, User], world: World) -> None:
    """First everything refused (which changes nothing), then the calls of the parties each action is
    for, in MATRIX's order."""
    security = {name: operation.get("security") for name, operation in operations().items()}
    for case in MATRIX:
        for party, expected in case.denied.items():
            reply = case.call(api, world.ids, world.parties[party])
            assert (reply.status_code, reply.json()["code"]) == expected, f"{case.name} as {party}: {reply.text}"
        refused_without_a_valid_token(api, case, world, users[0], security[case.name])
    # nothing anyone else tried changed the owner's things
    owner = world.parties["owner"]
    assert api.get(f"/orders/{world.ids['order_id']}", headers=owner).json()["status"] == "created"
    team = api.get(f"/groupbuy/teams/{world.ids['team_id']}", headers=owner).json()
    assert (team["status"], [s["user_id"] for s in team["seats"]]) == ("forming", [world.ids["owner_id"]])
    assert api.get(f"/groupbuy/teams/{world.ids['team_id']}", headers=world.parties["stranger"]).json()["seats"] == []
    anonymous = api.get(f"/groupbuy/teams/{world.ids['team_id']}")  # a shared link opened before signing in
    assert (anonymous.status_code, anonymous.json()["status"], anonymous.json()["seats"]) == (200, "forming", []), (
        anonymous.text
    )
    assert api.get(f"/bargain/bargains/{world.ids['bargain_id']}").json()["order_id"] is None

    for case in MATRIX:
        for party in case.allowed:
            reply = case.call(api, world.ids, world.parties[party])
            assert reply.status_code == case.ok, f"{case.name} as {party}: {reply.text}"


def refused_without_a_valid_token(
    api: httpx.Client, case: Case, world: World, owner: User, security: list[dict[str, Any]] | None
) -> None:
    """No token: 401 where one is required, else what the stranger gets. A bad token: 401 wherever a
    token is read (required or optional); public routes read none."""
    anonymous = (401, "missing_token") if security == [{"bearerAuth": []}] else case.denied["stranger"]
    reply = case.call(api, world.ids, {})
    assert (reply.status_code, reply.json()["code"]) == anonymous, f"{case.name}: {reply.text}"
    for name, token in bad_tokens(owner).items():
        reply = case.call(api, world.ids, {"Authorization": f"Bearer {token}"})
        if security is None:
            assert (reply.status_code, reply.json()["code"]) == anonymous, f"{case.name}: {reply.text}"
        else:
            assert reply.status_code == 401, f"{case.name} with a {name} token: {reply.text}"
            assert reply.json()["code"] in ("invalid_token", "token_expired"), f"{name}: {reply.text}"


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
