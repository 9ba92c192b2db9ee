"""Each area's routes translate JSON to the service's proto and back."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import datetime

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.routes.dev import provider_http
from gateway.tests.conftest import PAYMENT_SECRET, new_key
from gateway.tests.gateway_fakes import LINK_TARGET, PAYMENT_AMOUNT_FEN, UNIT_PRICE_FEN, UNSAFE_CODE, Plan


def test_create_brand_and_product(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    brand = client.post("/api/v1/brands", json={"name": "Rose & Co"}, headers=auth("u_b", "brand"))
    assert brand.status_code == 201
    assert brand.json() == {
        "id": "brand_1",
        "owner_id": "u_b",
        "name": "Rose & Co",
        "created_at": "2025-01-31T08:00:00Z",
    }
    body = {
        "brand_id": "brand_1",
        "title": "Mist",
        "category": "beauty",
        "skus": [
            {"spec": "100ml", "price_fen": 1990, "stock": 5, "supply_price_fen": 1200, "price_min_fen": 1800},
            {"spec": "200ml", "price_fen": 2990, "stock": 0},
        ],
    }
    product = client.post("/api/v1/products", json=body, headers=auth("u_b", "brand"))
    assert product.status_code == 201, product.text
    assert [(s["spec"], s["price"]["display"], s["stock"]) for s in product.json()["skus"]] == [
        ("100ml", "¥19.90", 5),
        ("200ml", "¥29.90", 0),
    ]
    sent = plan.calls_to("CreateProduct")[0].request
    assert [(s.price.fen, s.stock) for s in sent.skus] == [(1990, 5), (2990, 0)]
    assert (sent.skus[0].supply_price.fen, sent.skus[0].price_min.fen, sent.skus[0].HasField("price_max")) == (
        1200,
        1800,
        False,
    )
    assert not sent.skus[1].HasField("supply_price")


def test_admins_review_products(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    path = "/api/v1/admin/products/prd_1/review"
    assert client.post(path, json={"approve": True}, headers=auth("u_b", "brand")).status_code == 403
    approved = client.post(path, json={"approve": True}, headers=auth("u_a", "admin"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["skus"][0]["sellable"] is True
    rejected = client.post(path, json={"approve": False, "reason": "blurry photos"}, headers=auth("u_a", "admin"))
    assert (rejected.json()["status"], rejected.json()["reject_reason"]) == ("rejected", "blurry photos")
    sent = plan.calls_to("ReviewProduct")[-1].request
    assert (sent.product_id, sent.approve, sent.reason) == ("prd_1", False, "blurry photos")


def test_list_products_pages_with_a_cursor(client: TestClient, plan: Plan) -> None:
    first = client.get("/api/v1/products", params={"limit": 2, "brand_id": "brand_1"}).json()
    assert [p["id"] for p in first["items"]] == ["prd_1", "prd_2"]
    assert first["next_cursor"] == "cHJkXzI"
    last = client.get("/api/v1/products", params={"cursor": first["next_cursor"]}).json()
    assert last["next_cursor"] is None
    requests = [c.request for c in plan.calls_to("ListProducts")]
    assert [(r.page.cursor, r.page.limit, r.brand_id) for r in requests] == [("", 2, "brand_1"), ("cHJkXzI", 20, "")]


def test_get_product_brand_sku(client: TestClient) -> None:
    assert client.get("/api/v1/products/prd_9").json()["id"] == "prd_9"
    assert client.get("/api/v1/brands/brand_9").json()["id"] == "brand_9"
    assert client.get("/api/v1/skus/sku_9").json()["id"] == "sku_9"


def test_create_order(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    body = {"lines": [{"sku_id": "sku_1", "quantity": 2}], "attribution": {"store_id": "st_1", "kol_link_id": "lnk_1"}}
    key = new_key()
    response = client.post("/api/v1/orders", json=body, headers={**auth("u_buyer"), "Idempotency-Key": key})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "created"
    assert order["buyer_id"] == "u_buyer"
    assert order["total"] == {"fen": 2 * UNIT_PRICE_FEN, "display": "¥39.80"}
    assert order["items"][0]["unit_price"]["fen"] == UNIT_PRICE_FEN
    assert order["attribution"]["store_id"] == "st_1"
    assert order["attribution"]["post_id"] is None
    assert order["attribution"]["group_campaign_id"] is None
    assert order["paid_at"] is None
    sent = plan.calls_to("CreateOrder")[0].request
    assert sent.idempotency_key == key
    assert (sent.attribution.store_id, sent.attribution.kol_link_id, sent.attribution.agent_id) == ("st_1", "lnk_1", "")


def test_integral_json_numbers_are_integers(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan
) -> None:
    """JSON Schema counts 2.0 as an integer, so the API does too; "2", true and 2.5 stay refused."""
    assert client.post(
        "/api/v1/orders", json={"lines": [{"sku_id": "sku_1", "quantity": 2.0}]}, headers=auth()
    ).is_success
    assert plan.calls_to("CreateOrder")[0].request.lines[0].quantity == 2
    for loose in ("2", True, 2.5):
        body = {"lines": [{"sku_id": "sku_1", "quantity": loose}]}
        assert client.post("/api/v1/orders", json=body, headers=auth()).status_code == 422


def test_order_without_idempotency_key(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    body = {"lines": [{"sku_id": "sku_1", "quantity": 1}]}
    assert client.post("/api/v1/orders", json=body, headers=auth()).status_code == 201
    assert plan.calls_to("CreateOrder")[0].request.idempotency_key == ""
    bad_key = client.post("/api/v1/orders", json=body, headers={**auth(), "Idempotency-Key": "a b"})
    assert bad_key.status_code == 422


def test_get_paid_order_has_lower_case_status_and_utc_times(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    order = client.get("/api/v1/orders/ord_1", headers=auth()).json()
    assert order["status"] == "paid"
    assert order["paid_at"] == "2025-01-31T08:05:00Z"
    assert datetime.fromisoformat(order["created_at"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_create_payment(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/api/v1/orders/ord_1/payments", headers=auth())
    assert response.status_code == 201, response.text
    assert response.json() == {
        "payment_id": "pay_1",
        "order_id": "ord_1",
        "amount": {"fen": PAYMENT_AMOUNT_FEN, "display": "¥39.80"},
        "provider_params": {"provider": "simulated", "prepay_id": "pay_1"},
    }


# ── the payment provider's callback ──────────────────────────────────────────────────────────


def test_notify_passes_body_and_signature_verbatim(client: TestClient, plan: Plan) -> None:
    raw = b'{"out_trade_no": "ord_1",  "amount_fen": 3980, "note": "\xe4\xb8\xad"}\n'
    response = client.post("/api/v1/payments/notify", content=raw, headers={"X-Pay-Signature": " ABCdef01 "})
    assert response.status_code == 200, response.text
    assert response.json() == {"code": "SUCCESS"}
    (call,) = plan.calls_to("HandlePaymentNotify")
    assert (call.request.body, call.request.signature) == (raw, " ABCdef01 ")
    assert "x-user-id" not in call.metadata


def test_a_refused_callback_is_a_mapped_json_error(client: TestClient, plan: Plan) -> None:
    plan.fail("HandlePaymentNotify", grpc.StatusCode.UNAUTHENTICATED, "signature mismatch", "invalid_signature")
    response = client.post("/api/v1/payments/notify", content=b"{}", headers={"X-Pay-Signature": "00"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"


def test_notify_without_signature_or_too_large_never_reaches_retail(client: TestClient, plan: Plan) -> None:
    assert client.post("/api/v1/payments/notify", content=b"{}").json()["code"] == "missing_signature"
    huge = client.post("/api/v1/payments/notify", content=b"x" * 70_000, headers={"X-Pay-Signature": "00"})
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")
    assert plan.calls == []


@pytest.fixture
def loopback_provider(client: TestClient) -> Iterator[None]:
    """The simulated provider reaches this app in-process instead of over GATEWAY_PUBLIC_URL."""
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
    client.app.dependency_overrides[provider_http] = lambda: http  # type: ignore[attr-defined]
    yield
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


@pytest.mark.usefixtures("loopback_provider")
def test_simulated_payment_posts_a_signed_callback_to_notify(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan
) -> None:
    response = client.post("/api/v1/dev/payments/ord_1/simulate", headers={**auth("u_buyer"), "X-Request-ID": "sim-1"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["amount"] == {"fen": PAYMENT_AMOUNT_FEN, "display": "¥39.80"}
    assert result["notify"] == {"status_code": 200, "body": {"code": "SUCCESS"}}

    assert plan.calls_to("CreatePayment")[0].metadata["x-user-id"] == "u_buyer"
    (notify,) = plan.calls_to("HandlePaymentNotify")
    body = notify.request.body
    assert notify.request.signature == hmac.new(PAYMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    callback = json.loads(body)
    assert callback["out_trade_no"] == "ord_1"
    assert callback["amount_fen"] == PAYMENT_AMOUNT_FEN
    assert callback["status"] == "SUCCESS"
    assert callback["transaction_id"] == result["transaction_id"]
    assert callback["transaction_id"].startswith("sim_") and len(callback["transaction_id"]) == 36
    assert datetime.fromisoformat(callback["paid_at"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert notify.metadata["x-request-id"] == "sim-1"  # the callback carries the simulation's request id


@pytest.mark.usefixtures("loopback_provider")
def test_simulated_payment_returns_a_refused_callbacks_error(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan
) -> None:
    plan.fail("HandlePaymentNotify", grpc.StatusCode.INVALID_ARGUMENT, "amount mismatch", "amount_mismatch")
    response = client.post("/api/v1/dev/payments/ord_1/simulate", headers=auth())
    assert response.status_code == 400
    assert response.json()["code"] == "amount_mismatch"


def test_simulated_payment_when_the_gateway_url_is_unreachable(
    make_client: Callable[..., TestClient], auth: Callable[..., dict[str, str]]
) -> None:
    client = make_client({"GATEWAY_PUBLIC_URL": "http://127.0.0.1:9"})
    response = client.post("/api/v1/dev/payments/ord_1/simulate", headers=auth())
    assert (response.status_code, response.json()["code"]) == (503, "notify_unreachable")


# ── content, agent, guide ────────────────────────────────────────────────────────────────────────


def test_content_routes(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    body = {"title": "Routine", "body": "Three steps", "sku_ids": ["sku_1", "sku_2"]}
    post = client.post("/api/v1/posts", json=body, headers=auth("u_w"))
    assert post.status_code == 201, post.text
    assert (post.json()["author_id"], post.json()["sku_ids"]) == ("u_w", ["sku_1", "sku_2"])
    assert client.post("/api/v1/posts", json={**body, "sku_ids": []}, headers=auth()).status_code == 422
    assert client.post("/api/v1/posts", json={**body, "sku_ids": ["s"] * 10}, headers=auth()).status_code == 422
    assert client.get("/api/v1/posts/post_3").json()["id"] == "post_3"


def test_agent_routes(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    refused = client.post("/api/v1/agents", json={"display_name": "Li"}, headers=auth("u_a"))
    assert (refused.status_code, refused.json()["code"], plan.calls) == (403, "role_required", [])
    root = client.post("/api/v1/agents", json={"display_name": "Li"}, headers=auth("u_a", "agent"))
    assert root.status_code == 201, root.text
    assert (root.json()["upline_id"], root.json()["depth"]) == (None, 1)
    invite = {"display_name": "Wang", "invite_code": "K7Q2ZP"}
    invited = client.post("/api/v1/agents", json=invite, headers=auth("u_b", "agent"))
    assert (invited.json()["upline_id"], invited.json()["depth"]) == ("agt_0", 2)
    assert [c.request.invite_code for c in plan.calls_to("RegisterAgent")] == ["", "K7Q2ZP"]
    assert client.get("/api/v1/agents/agt_1", headers=auth()).json()["id"] == "agt_1"
    assert client.get("/api/v1/agents/agt_1").status_code == 401


def test_guide_link_routes(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    refused = client.post("/api/v1/guide/links", json={"sku_id": "sku_1"}, headers=auth("u_kol"))
    assert (refused.status_code, refused.json()["code"], plan.calls) == (403, "role_required", [])
    link = client.post("/api/v1/guide/links", json={"sku_id": "sku_1"}, headers=auth("u_kol", "kol"))
    assert link.status_code == 201, link.text
    assert (link.json()["kol_id"], link.json()["target_url"]) == ("u_kol", LINK_TARGET)
    assert client.get("/api/v1/guide/links/lnk_1", headers=auth()).json()["id"] == "lnk_1"


def test_short_link_redirects_and_sets_a_visitor_cookie(client: TestClient, plan: Plan) -> None:
    response = client.get("/s/aZ3k9Q")
    assert response.status_code == 302
    assert response.headers["Location"] == LINK_TARGET
    cookie = response.headers["Set-Cookie"]
    visitor = cookie.split(";")[0].removeprefix("sm_vid=")
    assert len(visitor) == 32 and int(visitor, 16) >= 0
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "max-age=31536000", "path=/"} <= attributes
    (call,) = plan.calls_to("ResolveLink")
    assert (call.request.code, call.request.visitor_id) == ("aZ3k9Q", visitor)


def test_short_link_keeps_a_known_visitor(client: TestClient, plan: Plan) -> None:
    visitor = "0123456789abcdef0123456789abcdef"
    response = client.get("/s/aZ3k9Q", headers={"Cookie": f"sm_vid={visitor}"})
    assert response.status_code == 302
    assert "set-cookie" not in response.headers
    assert plan.calls_to("ResolveLink")[0].request.visitor_id == visitor


def test_short_link_replaces_a_forged_visitor_cookie(client: TestClient, plan: Plan) -> None:
    response = client.get("/s/aZ3k9Q", headers={"Cookie": "sm_vid=" + "x" * 500})
    assert response.headers["Set-Cookie"].startswith("sm_vid=")
    assert len(plan.calls_to("ResolveLink")[0].request.visitor_id) == 32


def test_short_link_errors(client: TestClient, plan: Plan) -> None:
    plan.fail("ResolveLink", grpc.StatusCode.NOT_FOUND, "no such link", "link_not_found")
    assert client.get("/s/nope").json()["code"] == "link_not_found"
    plan.failures.clear()
    assert client.get(f"/s/{UNSAFE_CODE}").status_code == 500  # never redirect to javascript:


# ── OpenAPI ───────────────────────────────────────────────────────────────────────────────────


def test_openapi_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert (spec["info"]["title"], spec["info"]["version"]) == ("SocialMall API", "v1")
    assert "Authorization: Bearer" in spec["info"]["description"]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["paths"]["/api/v1/orders"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/api/v1/brands/{brand_id}"]["get"]
    assert {"retail", "payments", "groupbuy", "content", "agent", "guide", "dev"} <= {t["name"] for t in spec["tags"]}
    schemas = spec["components"]["schemas"]
    assert schemas["NewOrderLine"]["properties"]["quantity"]["examples"] == [2]
    assert schemas["Money"]["properties"]["display"]["examples"] == ["¥19.90"]
    assert spec["paths"]["/api/v1/orders"]["post"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert client.get("/docs").status_code == 200
