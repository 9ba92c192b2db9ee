"""One JSON error shape for everything: upstream gRPC failures, validation, unknown routes, bugs."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from fastapi.testclient import TestClient

from gateway.tests.gateway_fakes import Plan

SKU_URL = "/api/v1/skus/sku_1"
ORDER_BODY = {"lines": [{"sku_id": "sku_1", "quantity": 2}]}


def assert_error(response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "request_id"}
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.mark.parametrize(
    ("grpc_code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
    ],
)
def test_grpc_status_maps_to_http_with_the_services_error_code(
    client: TestClient, plan: Plan, grpc_code: grpc.StatusCode, status: int
) -> None:
    plan.fail("GetSku", grpc_code, "sku sku_1 is unhappy", "sku_specific_code")
    body = assert_error(client.get(SKU_URL), status, "sku_specific_code")
    assert body["message"] == "sku sku_1 is unhappy"
    assert body["details"] == {}


def test_what_a_service_says_about_its_refusal_is_the_bodys_details(client: TestClient, plan: Plan) -> None:
    plan.fail("GetSku", grpc.StatusCode.ALREADY_EXISTS, "exists", "sku_exists", '{"sku_id":"sku_1","left":2}')
    assert assert_error(client.get(SKU_URL), 409, "sku_exists")["details"] == {"sku_id": "sku_1", "left": 2}
    plan.fail("GetSku", grpc.StatusCode.ALREADY_EXISTS, "exists", "sku_exists", "not json")
    assert assert_error(client.get(SKU_URL), 409, "sku_exists")["details"] == {}  # unreadable: left out


def test_unavailable_says_when_to_retry(client: TestClient, plan: Plan) -> None:
    plan.fail("GetSku", grpc.StatusCode.UNAVAILABLE, "retail is restarting", "unavailable")
    response = client.get(SKU_URL)
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("grpc_code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS])
def test_other_upstream_failures_are_500_without_leaking_details(
    client: TestClient, plan: Plan, grpc_code: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    plan.fail("GetSku", grpc_code, "stack trace with secrets", "internal")
    body = assert_error(client.get(SKU_URL), 500, "internal")
    assert "secrets" not in str(body["message"])
    assert any("stack trace with secrets" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_only_idempotent_calls_are_retried(client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan) -> None:
    for method in ("GetSku", "CreateOrder", "CreatePayment"):
        plan.fail(method, grpc.StatusCode.UNAVAILABLE, "down", "unavailable")
    assert client.get(SKU_URL).status_code == 503
    assert client.post("/api/v1/orders", json=ORDER_BODY, headers=auth()).status_code == 503
    assert client.post("/api/v1/orders/ord_1/payments", headers=auth()).status_code == 503
    assert [len(plan.calls_to(m)) for m in ("GetSku", "CreateOrder", "CreatePayment")] == [3, 1, 3]


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    body = assert_error(client.get("/api/v1/nope"), 404, "not_found")
    assert body["details"] == {}


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.delete("/api/v1/skus/sku_1")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "lines"]),
        ({"lines": []}, ["body", "lines"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": 2}] * 51}, ["body", "lines"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": 0}]}, ["body", "lines", 0, "quantity"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": 1000}]}, ["body", "lines", 0, "quantity"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": "2"}]}, ["body", "lines", 0, "quantity"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": 2.5}]}, ["body", "lines", 0, "quantity"]),
        ({"lines": [{"sku_id": "sku 1", "quantity": 2}]}, ["body", "lines", 0, "sku_id"]),
        ({"lines": [{"sku_id": "s" * 65, "quantity": 2}]}, ["body", "lines", 0, "sku_id"]),
        ({"lines": [{"sku_id": "", "quantity": 2}]}, ["body", "lines", 0, "sku_id"]),
        ({"lines": [{"sku_id": 7, "quantity": 2}]}, ["body", "lines", 0, "sku_id"]),
        ({"lines": [{"sku_id": "sku_1", "quantity": 2, "price_fen": 1}]}, ["body", "lines", 0, "price_fen"]),
        ({**ORDER_BODY, "attribution": {"store_id": "../x"}}, ["body", "attribution", "store_id"]),
        ({**ORDER_BODY, "attribution": {"store": "st_1"}}, ["body", "attribution", "store"]),
        ([1, 2], ["body"]),
    ],
)
def test_bad_order_bodies_are_422_with_the_problems_listed(
    client: TestClient, auth: Callable[..., dict[str, str]], plan: Plan, body: object, loc: list[object]
) -> None:
    response = client.post("/api/v1/orders", json=body, headers=auth())
    problems = assert_error(response, 422, "validation_failed")["details"]["errors"]  # type: ignore[index]
    assert loc in [p["loc"] for p in problems]
    assert plan.calls == []


def test_malformed_json_is_422(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.post(
        "/api/v1/orders", content=b'{"lines": [', headers={**auth(), "Content-Type": "application/json"}
    )
    assert_error(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "body",
    [
        {"brand_id": "b_1", "title": "T", "category": "c", "skus": [{"spec": "s", "price_fen": 0, "stock": 1}]},
        {"brand_id": "b_1", "title": "T", "category": "c", "skus": [{"spec": "s", "price_fen": -5, "stock": 1}]},
        {"brand_id": "b_1", "title": "T", "category": "c", "skus": [{"spec": "s", "price_fen": 10**20, "stock": 1}]},
        {"brand_id": "b_1", "title": "T", "category": "c", "skus": [{"spec": "s", "price_fen": 100, "stock": -1}]},
        {"brand_id": "b_1", "title": "T", "category": "c", "skus": []},
        {"brand_id": "b_1", "title": "", "category": "c", "skus": [{"spec": "s", "price_fen": 100, "stock": 1}]},
        {"brand_id": "b_1", "title": "T" * 101, "category": "c", "skus": [{"spec": "s", "price_fen": 1, "stock": 1}]},
    ],
)
def test_bad_money_and_strings_are_422(
    client: TestClient, auth: Callable[..., dict[str, str]], body: dict[str, object]
) -> None:
    assert_error(client.post("/api/v1/products", json=body, headers=auth("u_1", "brand")), 422, "validation_failed")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/skus/bad%20id",
        "/api/v1/skus/a.b",
        "/api/v1/skus/" + "x" * 65,
        "/api/v1/products/%F0%9F%98%80",
        "/api/v1/brands/a;b",
        "/api/v1/products?limit=0",
        "/api/v1/products?limit=101",
        "/api/v1/products?limit=ten",
        "/api/v1/products?cursor=%7Bx%7D",
        "/api/v1/products?brand_id=a%2Fb",
        "/s/bad!code",
    ],
)
def test_bad_ids_and_query_params_are_422(client: TestClient, plan: Plan, url: str) -> None:
    assert_error(client.get(url), 422, "validation_failed")
    assert plan.calls == []


def test_request_id_is_echoed_and_forwarded(client: TestClient, plan: Plan) -> None:
    response = client.get(SKU_URL, headers={"X-Request-ID": "trace-123"})
    assert response.headers["X-Request-ID"] == "trace-123"
    assert plan.calls_to("GetSku")[0].metadata["x-request-id"] == "trace-123"
    error = client.get("/api/v1/nope", headers={"X-Request-ID": "trace-456"})
    assert error.headers["X-Request-ID"] == error.json()["request_id"] == "trace-456"


def test_a_w3c_trace_is_echoed_and_forwarded(client: TestClient, plan: Plan) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.get(SKU_URL, headers={"traceparent": parent, "tracestate": "congo=t61rcWkgMzE"})
    assert (response.headers["traceparent"], response.headers["tracestate"]) == (parent, "congo=t61rcWkgMzE")
    [call] = plan.calls_to("GetSku")
    assert (call.metadata["traceparent"], call.metadata["tracestate"]) == (parent, "congo=t61rcWkgMzE")
    error = client.get("/api/v1/nope", headers={"traceparent": parent})
    assert error.headers["traceparent"] == parent  # errors too
    # one not well formed is neither echoed nor passed on
    malformed = client.get(SKU_URL, headers={"traceparent": "00-not-a-trace-01", "tracestate": "congo=1"})
    assert "traceparent" not in malformed.headers and "tracestate" not in malformed.headers
    assert "traceparent" not in plan.calls_to("GetSku")[1].metadata


def test_a_new_request_id_replaces_a_missing_or_unsafe_one(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"}).headers["X-Request-ID"]
    assert len({first, second}) == 2
    assert all(len(rid) == 32 for rid in (first, second))


def test_one_access_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gateway.access")
    client.get(SKU_URL, headers={"X-Request-ID": "log-me"})
    (line,) = [r for r in caplog.records if r.name == "gateway.access"]
    assert (line.request_id, line.http_method, line.path, line.status) == ("log-me", "GET", SKU_URL, 200)  # type: ignore[attr-defined]


def test_a_gateway_bug_is_a_json_500(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    app = client.app
    clients = app.state.clients  # type: ignore[attr-defined]
    app.state.clients = None  # type: ignore[attr-defined]  # every Rpc dependency now raises AttributeError
    try:
        response = TestClient(app, raise_server_exceptions=False).get(SKU_URL, headers={"X-Request-ID": "bug-1"})
    finally:
        app.state.clients = clients  # type: ignore[attr-defined]
    body = assert_error(response, 500, "internal")
    assert body["request_id"] == "bug-1"
    assert any(r.exc_info for r in caplog.records if r.name == "gateway.errors")
