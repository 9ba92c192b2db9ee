"""Every error leaves the gateway as one JSON shape, mapped from the kit's domain errors in one table.

`AsyncServiceClient.call` raises `mallkit.errors` classes for gRPC failures; the gateway's own checks
(auth, edge validation) raise the same classes, so this table is the only place a status is chosen.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.openapi import EXAMPLE_REQUEST_ID
from mallkit import context, errors

log = logging.getLogger("gateway.errors")


class UnprocessableContent(errors.InvalidArgument):
    """Well-formed but unusable as sent (e.g. an Idempotency-Key reused with another body)."""

    default_code = "unprocessable"


HTTP_STATUS: dict[type[errors.DomainError], int] = {
    UnprocessableContent: 422,
    errors.InvalidArgument: 400,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.FailedPrecondition: 409,
    errors.ResourceExhausted: 429,
    errors.Unavailable: 503,
}
EXTRA_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "1"},
    503: {"Retry-After": "1"},
}
# Codes for errors Starlette raises itself (unknown route, wrong method, …).
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
INTERNAL_MESSAGE = "internal error; quote the request id when reporting it"


class ErrorBody(BaseModel):
    code: str = Field(..., description="Stable machine-readable error code.", examples=["sku_not_found"])
    message: str = Field(..., description="Human-readable explanation.", examples=["sku sku_1 not found"])
    details: dict[str, Any] = Field(default_factory=dict, examples=[{}])
    request_id: str = Field(..., examples=["5f0c6c1e9d2b4a0f8a3e2b1c4d5e6f70"])


def status_of(exc: errors.DomainError) -> int:
    """The HTTP status of a domain error; the bare base class (an unmapped upstream status) is a 500."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or context.request_id() or context.new_request_id()


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    rid = request_id_of(request)
    body = ErrorBody(code=code, message=message, details=details or {}, request_id=rid)
    return JSONResponse(
        body.model_dump(),
        status_code=status,
        headers={**EXTRA_HEADERS.get(status, {}), **(headers or {}), "X-Request-ID": rid},
    )


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    status = status_of(exc)
    if status == 500:
        log.error("unmapped upstream error %s: %s", exc.code, exc.message, extra={"error_code": exc.code})
        return error_response(request, 500, "internal", INTERNAL_MESSAGE)
    return error_response(request, status, exc.code, exc.message, exc.details, headers=getattr(exc, "headers", None))


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("gateway store unavailable on %s %s: %r", request.method, request.url.path, exc)
    return error_response(request, 503, "store_unavailable", "a gateway store is unavailable; retry shortly")


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    message = exc.detail if isinstance(exc.detail, str) else phrase
    return error_response(request, status, HTTP_CODES.get(status, f"http_{status}"), message, headers=exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # loc/msg/type only: the rejected input may be large or secret and is not echoed back.
    problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return error_response(request, 422, "validation_failed", "the request is not valid", {"errors": problems})


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal", INTERNAL_MESSAGE)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    # the gateway's own stores: accounts in Mongo; limits, codes and idempotency keys in Redis
    for store_error in errors.STORE_UNREACHABLE:
        app.add_exception_handler(store_error, on_store_error)
    app.add_exception_handler(Exception, on_unexpected_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the error body for the given statuses."""
    return {s: {"model": ErrorBody, "description": HTTPStatus(s).phrase} for s in statuses}


def error_example(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "details": {}, "request_id": EXAMPLE_REQUEST_ID}


def answers(status: int, description: str, code: str, message: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI `responses` entry for one error status, with `code` as its example."""
    example = {"application/json": {"example": error_example(code, message)}}
    return {status: {"model": ErrorBody, "description": description, "content": example}}


# A route's refusals: code → (status, an example message), as the services raise them.
Refusals = dict[str, tuple[int, str]]


def refusals(table: Refusals, *codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries naming the error codes a route answers: each status lists its codes
    in its description and offers each as a named example (a drop-down in Swagger UI)."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(table[code][0], []).append(code)
    return {
        status: {
            "model": ErrorBody,
            "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in named),
            "content": {
                "application/json": {
                    "examples": {
                        code: {"summary": table[code][1], "value": error_example(code, table[code][1])}
                        for code in named
                    }
                }
            },
        }
        for status, named in by_status.items()
    }


COMMON = responses(400, 404, 422, 429, 503)  # every area router
NOT_YOURS = (
    "Forbidden: the caller sees it, but it is not theirs to do; the code says why (`not_buyer`, `not_seller`, "
    "`not_initiator`, `not_campaign_owner`, …). What the caller may not see is a 404 instead."
)
# A route that refuses some callers names its 403 codes (`forbidden`, `refusals`); the generic one stands
# for any other (a service's own check, a stale or disabled account).
NEEDS_TOKEN = {
    **responses(401),
    **answers(403, NOT_YOURS, "permission_denied", "the caller may not do this"),
}
NEEDS_ROLE = {
    **responses(401),
    **answers(
        403,
        "Forbidden: the token lacks the role the route needs (`role_required`), or, for its owner's routes, the "
        "caller is not the owner.",
        "role_required",
        "this action needs one of the roles: brand, admin",
    ),
}
# The 403s of routes any signed-in user may call, where the thing is not the caller's (NOT_YOURS).
FORBIDDEN: Refusals = {
    "not_buyer": (403, "only the buyer pays for this order"),
    "not_seller": (403, "only the order's sellers ship it"),
    "not_store_owner": (403, "only the store's owner changes it"),
    "own_refund": (403, "you cannot decide your own refund"),
    "not_refund_reviewer": (403, "only the brand owner of every refunded item (or an admin) decides a refund"),
    "role_required": (403, "another user's wallet needs the admin role"),
}


def forbidden(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The 403 of a signed-in route that refuses some callers: the codes it answers, as `refusals`."""
    return refusals(FORBIDDEN, *codes)


WRITE = responses(400, 409)  # the service refused the input or the current state forbids it
