"""The OpenAPI document: an example for every body and response, each valid against its own schema;
every status a route can answer is documented (schemathesis checks the live platform against it)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from gateway.openapi import example_of


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def examples_of(content: dict[str, Any]) -> list[Any]:
    """A media type's example, or its named examples (never both)."""
    assert not ("example" in content and "examples" in content)
    return [content["example"]] if "example" in content else [e["value"] for e in content.get("examples", {}).values()]


def error_codes(op: dict[str, Any], status: str) -> list[str]:
    content = op["responses"].get(status, {}).get("content", {}).get("application/json", {})
    return [example["code"] for example in examples_of(content)] if content else []


def test_every_body_and_response_has_an_example_that_fits_its_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in operations(spec):
        media = []
        if "requestBody" in op:
            media.append(("request", op["requestBody"]["content"]["application/json"]))
        for status, response in op["responses"].items():
            if "application/json" in response.get("content", {}):
                media.append((status, response["content"]["application/json"]))
        for where, content in media:
            examples = examples_of(content)
            assert examples, f"{method} {path} {where} has no example"
            for example in examples:
                errors = [(e.instance_path, e.message) for e in validator(spec, content["schema"]).iter_errors(example)]
                assert not errors, f"{method} {path} {where}: example does not fit its schema: {errors}"
                checked += 1
    assert checked > 150


def test_every_api_operation_documents_its_failures(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if not path.startswith("/api/v1/") and path != "/s/{code}":
            continue
        statuses = set(op["responses"])
        assert {"422", "429"} <= statuses, f"{method} {path}: {sorted(statuses)}"
        if op.get("security"):
            assert {"401", "403"} <= statuses, f"{method} {path} needs a token but does not say 401/403"
        for status in ("429", "503"):
            if status in statuses:
                assert "Retry-After" in op["responses"][status]["headers"], f"{method} {path} {status}"


def test_a_403_example_is_the_refusal_the_route_can_give(spec: dict[str, Any]) -> None:
    """role_required only where a role is needed; elsewhere a 403 says the thing is not the caller's."""
    for method, path, op in operations(spec):
        if "403" not in op["responses"]:
            continue
        codes = error_codes(op, "403")
        needs_role = "(role" in op["summary"] or "admins may name a user" in op["summary"]
        assert codes and ("role_required" in codes) == needs_role, f"{method} {path}: {codes}"


GENERIC_CODES = {"invalid_argument", "not_found", "failed_precondition", "permission_denied", "validation_failed"}


def test_groupbuy_and_bargain_operations_name_their_refusals(spec: dict[str, Any]) -> None:
    """A front-end builds its error messages from the codes each route documents, by status."""
    for method, path, op in operations(spec):
        if not path.startswith(("/api/v1/groupbuy/", "/api/v1/bargain/")):
            continue
        named = {s: error_codes(op, s) for s in ("400", "403", "404", "409")}
        assert set().union(*named.values()) - GENERIC_CODES, f"{method} {path} names no refusal code"
        for status, codes in named.items():
            description = op["responses"].get(status, {}).get("description", "")
            assert all(f"`{code}`" in description for code in codes if code not in GENERIC_CODES), (method, path)
    paths = spec["paths"]
    for path in ("/groupbuy/teams/{team_id}/order", "/groupbuy/campaigns/{campaign_id}/solo-order"):
        assert "out_of_stock" in error_codes(paths[f"/api/v1{path}"]["post"], "409"), path
    buy, help_ = (
        paths["/api/v1/bargain/bargains/{bargain_id}/order"]["post"],
        paths["/api/v1/bargain/bargains/{bargain_id}/help"]["post"],
    )
    assert "out_of_stock" in error_codes(buy, "409")
    assert "not_initiator" in error_codes(buy, "403")
    assert "not_allowed_to_help" in error_codes(help_, "403")
    assert {"already_helped", "daily_help_limit_reached"} <= set(error_codes(help_, "409"))
    join = paths["/api/v1/groupbuy/teams/{team_id}/join"]["post"]
    assert "units_limit_exceeded" in error_codes(join, "400")
    assert {"team_full", "already_joined", "team_formed", "team_closed"} <= set(error_codes(join, "409"))


def test_every_operation_has_a_summary_a_tag_and_parameter_examples(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        assert op.get("summary") and op.get("tags"), f"{method} {path}"
        for parameter in op.get("parameters", []):
            where = f"{method} {path} {parameter['name']}"
            assert parameter.get("example") is not None, f"{where} has no example"
            assert validator(spec, parameter["schema"]).is_valid(parameter["example"]), where


ID_PREFIXES = {
    "agent_id": "agt_",
    "application_id": "app_",
    "bargain_id": "brg_",
    "brand_id": "brd_",
    "link_id": "lnk_",
    "order_id": "ord_",
    "post_id": "pst_",
    "product_id": "prd_",
    "refund_id": "rfd_",
    "sku_id": "sku_",
    "store_id": "sto_",
    "team_id": "team_",
    "user_id": "u_",
    "withdrawal_id": "wd_",
}


def test_an_id_parameter_example_is_an_id_of_its_kind(spec: dict[str, Any]) -> None:
    """Swagger's "Try it out" fills a team id into a team route, not an order id."""
    checked = 0
    for method, path, op in operations(spec):
        for parameter in op.get("parameters", []):
            name = parameter["name"]
            if not name.endswith("_id") or parameter["in"] == "header":
                continue
            kind = ("bgc_" if path.startswith("/api/v1/bargain/") else "cmp_") if name == "campaign_id" else None
            prefix = kind or ID_PREFIXES[name]
            assert parameter["example"].startswith(prefix), f"{method} {path} {name}: {parameter['example']}"
            checked += 1
    assert checked > 50


ORDER_CREATING_POSTS = (
    "/api/v1/orders",
    "/api/v1/orders/{order_id}/payments",
    "/api/v1/dev/payments/{order_id}/simulate",
    "/api/v1/groupbuy/teams/{team_id}/order",
    "/api/v1/groupbuy/campaigns/{campaign_id}/solo-order",
    "/api/v1/bargain/bargains/{bargain_id}/order",
)


def test_idempotent_posts_document_the_header(spec: dict[str, Any]) -> None:
    for path in ORDER_CREATING_POSTS:
        headers = [p["name"] for p in spec["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path


def test_a_token_is_optional_where_the_route_reads_it_if_sent(spec: dict[str, Any]) -> None:
    for path in (
        "/api/v1/groupbuy/campaigns",
        "/api/v1/groupbuy/campaigns/{campaign_id}",
        "/api/v1/groupbuy/teams/{team_id}",
    ):
        assert spec["paths"][path]["get"]["security"] == [{"bearerAuth": []}, {}], path
    assert "security" not in spec["paths"]["/api/v1/bargain/bargains/{bargain_id}"]["get"]
    assert {"groupbuy", "bargain"} <= {t["name"] for t in spec["tags"]}


def test_examples_are_built_from_the_schema() -> None:
    components = {"Money": {"type": "object", "properties": {"fen": {"type": "integer", "examples": [1990]}}}}
    schema = {
        "type": "object",
        "properties": {
            "price": {"$ref": "#/components/schemas/Money"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "paid_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "note": {"type": "string", "default": ""},
        },
    }
    assert example_of(schema, components) == {
        "price": {"fen": 1990},
        "tags": ["a"],
        "paid_at": "2025-01-31T08:00:00Z",
        "note": "",
    }
