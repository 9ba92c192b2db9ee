"""Order lifecycle routes: listing, shipping, receipt, refunds, and stock adjustments."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from fastapi.testclient import TestClient

from gateway.tests.conftest import new_key
from gateway.tests.gateway_fakes import PAYMENT_AMOUNT_FEN, UNIT_PRICE_FEN, Plan
from socialmall.retail.v1 import retail_pb2

Auth = Callable[..., dict[str, str]]
REFUND = {"lines": [{"sku_id": "sku_1", "quantity": 1}], "reason": "arrived damaged"}


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_list_orders_pages_and_filters(client: TestClient, auth: Auth, plan: Plan) -> None:
    first = client.get(
        "/api/v1/orders", params={"limit": 2, "status": "paid", "store_id": "sto_1"}, headers=auth("u_o")
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [o["id"] for o in page["items"]] == ["ord_2", "ord_1"] and page["next_cursor"] == "b3JkXzI"
    order = page["items"][0]
    assert (order["status"], order["attribution"]["store_id"], order["refunded"]) == (
        "paid",
        "sto_1",
        {"fen": 0, "display": "¥0.00"},
    )
    assert (order["shipped_at"], order["carrier"], order["tracking_number"]) == (None, None, None)
    last = client.get("/api/v1/orders", params={"cursor": "b3JkXzI"}, headers=auth("u_o")).json()
    assert last["next_cursor"] is None
    sent = [c.request for c in plan.calls_to("ListOrders")]
    assert [(r.page.cursor, r.page.limit, r.store_id, r.status) for r in sent] == [
        ("", 2, "sto_1", retail_pb2.ORDER_STATUS_PAID),
        ("b3JkXzI", 20, "", retail_pb2.ORDER_STATUS_UNSPECIFIED),
    ]
    assert client.get("/api/v1/orders", params={"status": "refund_requested"}, headers=auth()).status_code == 422


def test_someone_elses_store_orders_are_403(client: TestClient, auth: Auth, plan: Plan) -> None:
    plan.fail("ListOrders", grpc.StatusCode.PERMISSION_DENIED, "only the owner", "not_store_owner")
    response = client.get("/api/v1/orders", params={"store_id": "sto_9"}, headers=auth())
    assert error_of(response) == (403, "not_store_owner")


def test_ship_and_confirm_receipt(client: TestClient, auth: Auth, plan: Plan) -> None:
    body = {"carrier": "SF Express", "tracking_number": "SF1234567890"}
    shipped = client.post("/api/v1/orders/ord_1/shipment", json=body, headers=auth("u_seller"))
    assert shipped.status_code == 200, shipped.text
    order = shipped.json()
    assert (order["status"], order["carrier"], order["tracking_number"], order["shipped_at"]) == (
        "shipped",
        "SF Express",
        "SF1234567890",
        "2025-02-01T09:00:00Z",
    )
    call = plan.calls_to("ShipOrder")[0]
    assert (call.request.order_id, call.request.carrier, call.metadata["x-user-id"]) == (
        "ord_1",
        "SF Express",
        "u_seller",
    )
    received = client.post("/api/v1/orders/ord_1/receipt", headers=auth("u_buyer"))
    assert (received.status_code, received.json()["status"], received.json()["received_at"]) == (
        200,
        "received",
        "2025-02-03T09:00:00Z",
    )
    short = {"carrier": "SF", "tracking_number": "123"}
    assert client.post("/api/v1/orders/ord_1/shipment", json=short, headers=auth()).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body", "rpc", "code", "status", "error"),
    [
        (
            "POST",
            "/api/v1/orders/ord_1/shipment",
            {"carrier": "SF", "tracking_number": "SF12"},
            "ShipOrder",
            grpc.StatusCode.FAILED_PRECONDITION,
            409,
            "order_not_shippable",
        ),
        (
            "POST",
            "/api/v1/orders/ord_1/receipt",
            None,
            "ConfirmReceipt",
            grpc.StatusCode.NOT_FOUND,
            404,
            "order_not_found",
        ),
        ("GET", "/api/v1/orders/ord_1/refunds", None, "ListRefunds", grpc.StatusCode.NOT_FOUND, 404, "order_not_found"),
        (
            "POST",
            "/api/v1/refunds/rfd_1/review",
            {"approve": True},
            "ReviewRefund",
            grpc.StatusCode.FAILED_PRECONDITION,
            409,
            "refund_already_decided",
        ),
    ],
)
def test_refusals_keep_their_code(
    client: TestClient, auth: Auth, plan: Plan, method: str, path: str, body, rpc: str, code, status: int, error: str
) -> None:
    plan.fail(rpc, code, "refused", error)
    assert error_of(client.request(method, path, json=body, headers=auth())) == (status, error)


def test_request_refund_needs_an_idempotency_key_and_passes_it_on(client: TestClient, auth: Auth, plan: Plan) -> None:
    path = "/api/v1/orders/ord_1/refunds"
    missing = client.post(path, json=REFUND, headers=auth("u_buyer"))
    assert error_of(missing) == (422, "validation_failed")
    assert plan.calls_to("RequestRefund") == []
    key = new_key()
    created = client.post(path, json=REFUND, headers={**auth("u_buyer"), "Idempotency-Key": key})
    assert created.status_code == 201, created.text
    refund = created.json()
    assert (refund["id"], refund["status"], refund["amount"]["fen"], refund["buyer_id"]) == (
        "rfd_1",
        "requested",
        UNIT_PRICE_FEN,
        "u_buyer",
    )
    assert refund["lines"] == [
        {"sku_id": "sku_1", "quantity": 1, "amount": {"fen": UNIT_PRICE_FEN, "display": "¥19.90"}}
    ]
    again = client.post(path, json=REFUND, headers={**auth("u_buyer"), "Idempotency-Key": key})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == refund
    (call,) = plan.calls_to("RequestRefund")
    sent = call.request
    assert (sent.order_id, sent.idempotency_key, sent.reason) == ("ord_1", key, "arrived damaged")
    assert [(line.sku_id, line.quantity) for line in sent.lines] == [("sku_1", 1)]


def test_a_refused_refund_request_is_stored_under_its_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    plan.fail("RequestRefund", grpc.StatusCode.FAILED_PRECONDITION, "under review", "refund_pending")
    headers = {**auth("u_buyer"), "Idempotency-Key": new_key()}
    assert error_of(client.post("/api/v1/orders/ord_1/refunds", json=REFUND, headers=headers)) == (
        409,
        "refund_pending",
    )


def test_list_and_review_refunds(client: TestClient, auth: Auth, plan: Plan) -> None:
    listed = client.get("/api/v1/orders/ord_1/refunds", headers=auth("u_buyer")).json()
    assert [r["id"] for r in listed["items"]] == ["rfd_1"] and listed["next_cursor"] is None
    approved = client.post("/api/v1/refunds/rfd_1/review", json={"approve": True}, headers=auth("u_brand", "brand"))
    assert (approved.status_code, approved.json()["status"], approved.json()["refunded_at"]) == (
        200,
        "refunded",
        "2025-01-31T08:00:00Z",
    )
    rejected = client.post(
        "/api/v1/refunds/rfd_1/review", json={"approve": False, "reason": "used"}, headers=auth("u_brand")
    ).json()
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "used")
    sent = [c.request for c in plan.calls_to("ReviewRefund")]
    assert [(r.refund_id, r.approve, r.reason) for r in sent] == [("rfd_1", True, ""), ("rfd_1", False, "used")]


def test_adjust_stock(client: TestClient, auth: Auth, plan: Plan) -> None:
    path = "/api/v1/skus/sku_1/stock-adjustments"
    body = {"delta": -3, "reason": "damaged in storage"}
    assert error_of(client.post(path, json=body, headers=auth("u_c", "consumer"))) == (403, "role_required")
    assert error_of(client.post(path, json=body)) == (401, "missing_token")
    adjusted = client.post(path, json=body, headers=auth("u_b", "brand"))
    assert (adjusted.status_code, adjusted.json()["stock"]) == (200, 4)
    key = new_key()
    assert client.post(path, json=body, headers={**auth("u_b", "brand"), "Idempotency-Key": key}).status_code == 200
    sent = [c.request for c in plan.calls_to("AdjustStock")]
    assert [(r.sku_id, r.delta, r.reason, r.idempotency_key) for r in sent] == [
        ("sku_1", -3, "damaged in storage", ""),
        ("sku_1", -3, "damaged in storage", key),
    ]
    plan.fail("AdjustStock", grpc.StatusCode.FAILED_PRECONDITION, "only 7", "insufficient_stock")
    assert error_of(client.post(path, json={**body, "delta": -99}, headers=auth("u_b", "admin"))) == (
        409,
        "insufficient_stock",
    )
    assert client.post(path, json={**body, "delta": 10**9}, headers=auth("u_b", "brand")).status_code == 422


def test_get_order_shows_the_refunded_amount(client: TestClient, auth: Auth) -> None:
    order = client.get("/api/v1/orders/ord_1", headers=auth()).json()
    assert order["total"]["fen"] == PAYMENT_AMOUNT_FEN and order["refunded"]["fen"] == 0
