"""Store routes: open, read, edit, list products at the store's price, share, bind."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from fastapi.testclient import TestClient

from gateway.tests.gateway_fakes import SHARE_CODE, STORE_PRICE_FEN, Plan

Auth = Callable[..., dict[str, str]]


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_open_a_store_with_an_invite_code(client: TestClient, auth: Auth, plan: Plan) -> None:
    body = {"name": "Li's Tea", "intro": "Tea I drink", "invite_code": SHARE_CODE}
    opened = client.post("/api/v1/stores", json=body, headers=auth("u_o"))
    assert opened.status_code == 201, opened.text
    assert opened.json() == {
        "id": "sto_1",
        "owner_id": "u_o",
        "name": "Li's Tea",
        "avatar_url": None,
        "intro": "Tea I drink",
        "share_code": SHARE_CODE,
        "upline_owner_id": "u_upline",
        "created_at": "2025-01-31T08:00:00Z",
    }
    sent = plan.calls_to("OpenStore")[0].request
    assert (sent.name, sent.avatar_url, sent.invite_code) == ("Li's Tea", "", SHARE_CODE)
    root = client.post("/api/v1/stores", json={"name": "Solo"}, headers=auth("u_p")).json()
    assert root["upline_owner_id"] is None
    assert client.post("/api/v1/stores", json={"name": "x" * 31}, headers=auth()).status_code == 422
    assert client.post("/api/v1/stores", json={"name": "A", "invite_code": "no way"}, headers=auth()).status_code == 422
    assert error_of(client.post("/api/v1/stores", json={"name": "A"})) == (401, "missing_token")


def test_a_second_store_is_a_409(client: TestClient, auth: Auth, plan: Plan) -> None:
    plan.fail("OpenStore", grpc.StatusCode.ALREADY_EXISTS, "you already have a store", "already_has_store")
    assert error_of(client.post("/api/v1/stores", json={"name": "Again"}, headers=auth())) == (409, "already_has_store")


def test_read_and_edit_stores(client: TestClient, auth: Auth, plan: Plan) -> None:
    mine = client.get("/api/v1/stores/me", headers=auth("u_o"))
    assert (mine.status_code, mine.json()["owner_id"]) == (200, "u_o")
    shared = client.get("/api/v1/stores/sto_7", params={"share": SHARE_CODE})
    assert (shared.status_code, shared.json()["id"]) == (200, "sto_7")
    assert "x-user-id" not in plan.calls_to("GetStore")[0].metadata
    assert client.get("/api/v1/stores/sto_7", params={"share": "<script>"}).status_code == 422
    body = {"name": "New name", "avatar_url": "https://example.com/a.png"}
    edited = client.put("/api/v1/stores/sto_1", json=body, headers=auth("u_o"))
    assert (edited.status_code, edited.json()["avatar_url"], edited.json()["intro"]) == (
        200,
        "https://example.com/a.png",
        "",
    )
    plan.fail("UpdateStore", grpc.StatusCode.PERMISSION_DENIED, "not yours", "not_store_owner")
    assert error_of(client.put("/api/v1/stores/sto_1", json=body, headers=auth("u_x"))) == (403, "not_store_owner")
    plan.fail("GetMyStore", grpc.StatusCode.NOT_FOUND, "you have no store yet", "store_not_found")
    assert error_of(client.get("/api/v1/stores/me", headers=auth("u_none"))) == (404, "store_not_found")


def test_store_products(client: TestClient, auth: Auth, plan: Plan) -> None:
    listed = client.put("/api/v1/stores/sto_1/products/sku_1", json={"price_fen": 13800}, headers=auth("u_o"))
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "store_id": "sto_1",
        "sku_id": "sku_1",
        "product_id": "prd_1",
        "title": "Longjing",
        "spec": "250g",
        "price": {"fen": 13800, "display": "¥138.00"},
    }
    assert plan.calls_to("PutStoreProduct")[0].request.price.fen == 13800
    page = client.get("/api/v1/stores/sto_1/products", params={"limit": 2}).json()
    assert [p["sku_id"] for p in page["items"]] == ["sku_1", "sku_2"] and page["next_cursor"] == "c3RwXzI"
    assert page["items"][1]["price"]["fen"] == STORE_PRICE_FEN
    removed = client.delete("/api/v1/stores/sto_1/products/sku_1", headers=auth("u_o"))
    assert (removed.status_code, removed.content) == (204, b"")
    assert plan.calls_to("RemoveStoreProduct")[0].request.sku_id == "sku_1"
    assert client.delete("/api/v1/stores/sto_1/products/sku_1").status_code == 401


def test_a_price_outside_the_band_is_a_400(client: TestClient, auth: Auth, plan: Plan) -> None:
    plan.fail("PutStoreProduct", grpc.StatusCode.INVALID_ARGUMENT, "outside the band", "price_outside_band")
    response = client.put("/api/v1/stores/sto_1/products/sku_1", json={"price_fen": 1}, headers=auth("u_o"))
    assert error_of(response) == (400, "price_outside_band")
    for loose in (0, "12800", 12.5):
        bad = client.put("/api/v1/stores/sto_1/products/sku_1", json={"price_fen": loose}, headers=auth("u_o"))
        assert bad.status_code == 422


def test_share_and_bind(client: TestClient, auth: Auth, plan: Plan) -> None:
    share = client.get("/api/v1/stores/sto_1/share").json()
    assert share["share_code"] == SHARE_CODE and share["link"].endswith(f"/api/v1/stores/sto_1?share={SHARE_CODE}")
    bound = client.post("/api/v1/bindings", json={"share_code": SHARE_CODE}, headers=auth("u_buyer"))
    assert bound.status_code == 200, bound.text
    assert bound.json() == {
        "binding": {
            "consumer_id": "u_buyer",
            "store_id": "sto_1",
            "bound_at": "2025-01-31T08:00:00Z",
            "expires_at": "2025-03-02T08:00:00Z",
        },
        "newly_bound": True,
    }
    mine = client.get("/api/v1/bindings/me", headers=auth("u_buyer")).json()
    assert (mine["store_id"], mine["expires_at"]) == ("sto_1", None)
    plan.fail("BindConsumer", grpc.StatusCode.FAILED_PRECONDITION, "own store", "self_binding")
    assert error_of(client.post("/api/v1/bindings", json={"share_code": SHARE_CODE}, headers=auth("u_o"))) == (
        409,
        "self_binding",
    )
    plan.fail("GetMyBinding", grpc.StatusCode.NOT_FOUND, "not bound", "no_binding")
    assert error_of(client.get("/api/v1/bindings/me", headers=auth("u_new"))) == (404, "no_binding")
    assert client.get("/api/v1/bindings/me").status_code == 401
