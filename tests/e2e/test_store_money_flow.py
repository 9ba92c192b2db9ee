"""A store's money, end to end through the gateway: open with an invite code, list, share, bind, buy,
pay, commissions on two levels, ship, receive, a partial refund clawing back in proportion, and the
refusals a front-end shows (a withdrawal below the minimum, a price outside the band)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

PRICE_FEN = 12800
QUANTITY = 2
PAID_FEN = PRICE_FEN * QUANTITY
LEVEL1_BP, LEVEL2_BP = 1000, 500  # the default payout policy: 10 % to the store, 5 % to its upline


@pytest.fixture(scope="module")
def api(platform: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=10) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def frozen_becomes(api: httpx.Client, headers: dict[str, str], fen: int, timeout: float = 15.0) -> dict[str, Any]:
    """Poll the balance until its frozen part is `fen` (the retail worker books from events)."""
    deadline = time.monotonic() + timeout
    while True:
        balance = ok(api.get("/wallet/balance", headers=headers))
        if balance["frozen"]["fen"] == fen or time.monotonic() > deadline:
            return balance
        time.sleep(0.25)


def test_a_store_sale_pays_two_levels_and_a_refund_claws_back_in_proportion(api: httpx.Client, platform: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    token: Callable[..., dict[str, str]] = platform.token
    upline, owner, buyer = (token(f"u_{who}_{tag}", "consumer") for who in ("upline", "owner", "buyer"))
    sku = platform.approved_sku("Anji White Tea", PRICE_FEN, 10)

    # U opens a store; O opens one with U's share code as invite code: U is O's upline
    u_store = ok(api.post("/stores", json={"name": f"U {tag}"}, headers=upline), 201)
    o_store = ok(
        api.post("/stores", json={"name": f"O {tag}", "invite_code": u_store["share_code"]}, headers=owner), 201
    )
    assert o_store["upline_owner_id"] == u_store["owner_id"] and u_store["upline_owner_id"] is None
    assert ok(api.get("/stores/me", headers=owner))["id"] == o_store["id"]

    # O lists the SKU inside its band; outside it is refused
    outside = api.put(
        f"/stores/{o_store['id']}/products/{sku['id']}", json={"price_fen": PRICE_FEN + 100}, headers=owner
    )
    assert (outside.status_code, outside.json()["code"]) == (400, "price_outside_band")
    listed = ok(api.put(f"/stores/{o_store['id']}/products/{sku['id']}", json={"price_fen": PRICE_FEN}, headers=owner))
    assert listed["price"]["fen"] == PRICE_FEN
    products = ok(api.get(f"/stores/{o_store['id']}/products"))
    assert [p["sku_id"] for p in products["items"]] == [sku["id"]]

    # the buyer follows O's share link, binds, and buys from the store
    share = ok(api.get(f"/stores/{o_store['id']}/share"))
    assert ok(api.get(share["link"].split("/api/v1", 1)[1]))["id"] == o_store["id"]
    bound = ok(api.post("/bindings", json={"share_code": share["share_code"]}, headers=buyer))
    assert bound["newly_bound"] and bound["binding"]["store_id"] == o_store["id"]
    assert ok(api.get("/bindings/me", headers=buyer))["store_id"] == o_store["id"]
    order = ok(
        api.post(
            "/orders",
            json={"lines": [{"sku_id": sku["id"], "quantity": QUANTITY}], "attribution": {"store_id": o_store["id"]}},
            headers={**buyer, "Idempotency-Key": f"order-{tag}"},
        ),
        201,
    )
    assert order["total"]["fen"] == PAID_FEN
    ok(api.post(f"/dev/payments/{order['id']}/simulate", headers=buyer))

    # commissions: frozen until the order completes
    o_balance = frozen_becomes(api, owner, PAID_FEN * LEVEL1_BP // 10_000)
    u_balance = frozen_becomes(api, upline, PAID_FEN * LEVEL2_BP // 10_000)
    assert o_balance["frozen"]["fen"] == PAID_FEN // 10 and o_balance["available"]["fen"] == 0
    assert u_balance["frozen"]["fen"] == PAID_FEN // 20
    entries = ok(api.get("/wallet/entries", params={"order_id": order["id"]}, headers=owner))["items"]
    assert [(e["kind"], e["state"]) for e in entries] == [("commission_l1", "frozen")]
    store_orders = ok(api.get("/orders", params={"store_id": o_store["id"]}, headers=owner))["items"]
    assert [o["id"] for o in store_orders] == [order["id"]]

    # the seller ships, the buyer confirms receipt
    shipment = {"carrier": "SF Express", "tracking_number": f"SF{tag}"}
    shipped = ok(api.post(f"/orders/{order['id']}/shipment", json=shipment, headers=owner))
    assert (shipped["status"], shipped["tracking_number"]) == ("shipped", f"SF{tag}")
    received = ok(api.post(f"/orders/{order['id']}/receipt", headers=buyer))
    assert received["status"] == "received" and received["received_at"]

    # a partial refund, approved by the brand: the commissions shrink in proportion
    refund = ok(
        api.post(
            f"/orders/{order['id']}/refunds",
            json={"lines": [{"sku_id": sku["id"], "quantity": 1}], "reason": "one tin arrived crushed"},
            headers={**buyer, "Idempotency-Key": f"refund-{tag}"},
        ),
        201,
    )
    assert (refund["status"], refund["amount"]["fen"]) == ("requested", PRICE_FEN)
    brand_id = ok(api.get(f"/products/{sku['product_id']}"))["brand_id"]
    brand = token(ok(api.get(f"/brands/{brand_id}"))["owner_id"], "brand")
    approved = ok(api.post(f"/refunds/{refund['id']}/review", json={"approve": True}, headers=brand))
    assert approved["status"] == "refunded"
    after = ok(api.get(f"/orders/{order['id']}", headers=buyer))
    assert (after["status"], after["refunded"]["fen"]) == ("partially_refunded", PRICE_FEN)
    kept = (PAID_FEN - PRICE_FEN) * LEVEL1_BP // 10_000
    assert frozen_becomes(api, owner, kept)["frozen"]["fen"] == kept
    assert frozen_becomes(api, upline, kept // 2)["frozen"]["fen"] == kept // 2

    # refusals a front-end shows
    small = api.post("/wallet/withdrawals", json={"amount_fen": 100}, headers={**owner, "Idempotency-Key": f"wd-{tag}"})
    assert (small.status_code, small.json()["code"]) == (400, "below_minimum")
