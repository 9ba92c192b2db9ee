"""The OpenAPI document, completed with an example for every parameter, request body and response.

Examples are built from the field examples the models declare (so they change with the models);
error responses get an ErrorBody example with the code their status usually carries, unless the route
names its own codes (`errors.refusals`). A test checks that every example validates against its own schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_CODES = {
    400: ("invalid_argument", "the request was refused by the service"),
    401: ("missing_token", "a bearer access token is required"),
    403: ("role_required", "this action needs one of the roles: brand, admin"),
    404: ("not_found", "it does not exist, or the caller cannot see it"),
    409: ("failed_precondition", "the current state does not allow this"),
    413: ("payload_too_large", "the callback body is too large"),
    422: ("validation_failed", "the request is not valid"),
    429: ("rate_limited", "too many requests; retry in 12 s"),
    503: ("unavailable", "retail is unavailable"),
}
EXAMPLE_REQUEST_ID = "5f0c6c1e9d2b4a0f8a3e2b1c4d5e6f70"
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "1",
    }
}
STRING_FORMATS = {"date-time": "2025-01-31T08:00:00Z", "uri": "https://example.com/"}
MAX_DEPTH = 24


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_examples(generate())  # FastAPI's document, cached in app.openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_examples(spec: dict[str, Any]) -> None:
    components = spec.get("components", {}).get("schemas", {})
    for operations in spec["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if "example" not in parameter and "schema" in parameter:
                    parameter["example"] = example_of(parameter["schema"], components)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "example" not in body and "schema" in body:
                body["example"] = example_of(body["schema"], components)
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if media is None or "schema" not in media:
                    continue
                is_error = media["schema"].get("$ref", "").endswith("/ErrorBody")
                if is_error and status in ("429", "503"):
                    response.setdefault("headers", RETRY_AFTER)
                if "example" in media or "examples" in media:  # the route's own
                    continue
                if is_error and status.isdigit() and int(status) in ERROR_CODES:
                    code, message = ERROR_CODES[int(status)]
                    media["example"] = {
                        "code": code,
                        "message": message,
                        "details": {},
                        "request_id": EXAMPLE_REQUEST_ID,
                    }
                else:
                    media["example"] = example_of(media["schema"], components)


def example_of(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A value for `schema` from its own examples, else its parts' (first branch, first enum value)."""
    if depth > MAX_DEPTH:
        return None
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"] or schema[combinator]
            return example_of(options[0], components, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_of(part, components, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if properties:
            return {name: example_of(sub, components, depth + 1) for name, sub in properties.items()}
        extra = schema.get("additionalProperties")
        return {"key": example_of(extra, components, depth + 1)} if isinstance(extra, dict) else {}
    if kind == "array":
        return [example_of(schema.get("items", {}), components, depth + 1)]
    if kind == "string":
        return STRING_FORMATS.get(schema.get("format", ""), "string")
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return None
