"""The walking skeleton through the gateway, with all 11 processes running."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def wait_for(fetch, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        reply = fetch()
        if reply.status_code == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


BRAND_USER = "u_e2e_brand"  # owns the SKU, so it may run a campaign for it


@pytest.fixture(scope="module")
def api(platform):
    with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def sku(platform) -> dict:
    return platform.approved_sku("West Lake Longjing", 12800, 10, brand_user=BRAND_USER)


def test_order_paid_through_the_simulated_provider_reaches_groupbuy(api, platform, sku):
    buyer = platform.token("u_e2e_buyer", "consumer")
    listed = api.get("/products", params={"limit": 100})
    assert listed.status_code == 200 and any(sku["id"] in [s["id"] for s in p["skus"]] for p in listed.json()["items"])
    key = {"Idempotency-Key": uuid.uuid4().hex}
    order = api.post("/orders", json={"lines": [{"sku_id": sku["id"], "quantity": 2}]}, headers={**buyer, **key})
    assert order.status_code == 201, order.text
    again = api.post("/orders", json={"lines": [{"sku_id": sku["id"], "quantity": 2}]}, headers={**buyer, **key})
    assert again.json()["id"] == order.json()["id"]
    order_id = order.json()["id"]
    assert order.json()["total"]["fen"] == 25600 and order.json()["status"] == "created"

    payment = api.post(f"/orders/{order_id}/payments", headers=buyer)
    assert payment.status_code in (200, 201), payment.text
    assert payment.json()["amount"]["fen"] == 25600
    simulated = api.post(f"/dev/payments/{order_id}/simulate", headers=buyer)
    assert simulated.status_code == 200, simulated.text

    paid = api.get(f"/orders/{order_id}", headers=buyer)
    assert paid.json()["status"] == "paid"
    recorded = wait_for(lambda: api.get(f"/groupbuy/paid-orders/{order_id}", headers=buyer))
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["amount"]["fen"] == 25600

    other = platform.token("u_e2e_other", "consumer")
    assert api.get(f"/orders/{order_id}", headers=other).status_code == 404


def test_a_forged_payment_callback_is_refused(api, platform, sku):
    buyer = platform.token("u_e2e_forger", "consumer")
    order = api.post("/orders", json={"lines": [{"sku_id": sku["id"], "quantity": 1}]}, headers=buyer).json()
    body = f'{{"out_trade_no": "{order["id"]}", "transaction_id": "t", "amount_fen": 12800, "status": "SUCCESS"}}'
    reply = api.post(
        "/payments/notify", content=body, headers={"X-Pay-Signature": "0" * 64, "content-type": "application/json"}
    )
    assert reply.status_code in (400, 401) and reply.json()["code"] == "invalid_signature"
    assert api.get(f"/orders/{order['id']}", headers=buyer).json()["status"] == "created"


def test_every_service_slice_works_through_the_gateway(api, platform, sku):
    brand = platform.token(BRAND_USER, "brand")
    campaign = api.post(
        "/groupbuy/campaigns",
        headers=brand,
        json={"sku_id": sku["id"], "group_price_fen": 9900, "team_size": 3, "expiry_hours": 24, "publish": True},
    )
    assert campaign.status_code == 201, campaign.text
    assert api.get(f"/groupbuy/campaigns/{campaign.json()['id']}").json()["team_size"] == 3
    too_dear = api.post(
        "/groupbuy/campaigns", headers=brand, json={"sku_id": sku["id"], "group_price_fen": 99999, "team_size": 3}
    )
    assert too_dear.status_code in (400, 409) and too_dear.json()["code"] == "group_price_not_below_price"

    creator = platform.token("u_creator", "creator")
    post = api.post("/posts", headers=creator, json={"title": "Tea time", "body": "try it", "sku_ids": [sku["id"]]})
    assert post.status_code == 201, post.text
    assert api.get(f"/posts/{post.json()['id']}").json()["sku_ids"] == [sku["id"]]

    root = api.post("/agents", headers=platform.token("u_agent_root", "agent"), json={"display_name": "Lin"})
    assert root.status_code == 201, root.text
    child = api.post(
        "/agents",
        headers=platform.token("u_agent_kid", "agent"),
        json={"display_name": "Wang", "invite_code": root.json()["invite_code"]},
    )
    assert child.status_code == 201, child.text
    assert child.json()["upline_id"] == root.json()["id"] and child.json()["depth"] == 2

    kol = platform.token("u_kol", "kol")
    link = api.post("/guide/links", headers=kol, json={"sku_id": sku["id"]})
    assert link.status_code == 201, link.text
    redirect = httpx.get(f"{platform.gateway}/s/{link.json()['code']}", follow_redirects=False)
    assert redirect.status_code == 302 and sku["id"] in redirect.headers["location"]
    assert api.get(f"/guide/links/{link.json()['id']}", headers=kol).json()["clicks"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/orders", {}, 422),
        ("post", "/orders", {"lines": [{"sku_id": "sku_x", "quantity": "many"}]}, 422),
        ("post", "/orders", {"lines": [{"sku_id": "sku_does_not_exist", "quantity": 1}]}, 404),
        ("get", "/orders/ord_does_not_exist", None, 404),
        ("get", "/products/bad id!", None, 422),
        ("get", "/products/prd_does_not_exist", None, 404),
        ("get", "/nowhere", None, 404),
    ],
)
def test_bad_input_gets_a_json_4xx_never_a_500(api, platform, method, path, body, status):
    buyer = platform.token("u_e2e_bad", "consumer")
    reply = api.request(method, path, json=body, headers=buyer)
    assert reply.status_code == status, reply.text
    payload = reply.json()
    assert payload["code"] and payload["message"] and payload["request_id"]


def test_health_and_docs(platform):
    assert httpx.get(f"{platform.gateway}/healthz").status_code == 200
    assert httpx.get(f"{platform.gateway}/readyz").status_code == 200
    spec = httpx.get(f"{platform.gateway}/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/v1/orders" in spec["paths"]
    assert httpx.get(f"{platform.gateway}/docs").status_code == 200
