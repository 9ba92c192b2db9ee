"""Domain errors. Each carries a stable machine code; entrypoints map the class to a status.

Raise these from domain and service code; `mallkit.grpc_server` turns them into gRPC statuses
(code string in the `error-code` trailer, `details` as JSON in `error-details`) and the gateway
turns those into HTTP (`details` is the error body's).
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
import pymongo.errors
import redis.exceptions


class DomainError(Exception):
    status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    default_code = "failed_precondition"

    def __init__(self, message: str, code: str | None = None, details: Mapping[str, str | int] | None = None) -> None:
        """`details`: what a program needs to act on the error (e.g. the id of what already exists)."""
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = dict(details or {})


class InvalidArgument(DomainError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    default_code = "invalid_argument"


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND
    default_code = "not_found"


class AlreadyExists(DomainError):
    status = grpc.StatusCode.ALREADY_EXISTS
    default_code = "already_exists"


class FailedPrecondition(DomainError):
    """The request is valid but the current state forbids it (e.g. out of stock)."""


class PermissionDenied(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED
    default_code = "permission_denied"


class Unauthenticated(DomainError):
    status = grpc.StatusCode.UNAUTHENTICATED
    default_code = "unauthenticated"


class ResourceExhausted(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_code = "resource_exhausted"


class Unavailable(DomainError):
    """A dependency (another service, the broker) cannot be reached right now; retry later."""

    status = grpc.StatusCode.UNAVAILABLE
    default_code = "unavailable"


class Internal(DomainError):
    """Another service failed in a way that is not the caller's doing (INTERNAL, UNKNOWN,
    UNIMPLEMENTED, ...): answered as an internal error, its details only logged."""

    status = grpc.StatusCode.INTERNAL
    default_code = "internal"


ERROR_CODE_TRAILER = "error-code"
ERROR_DETAILS_TRAILER = "error-details"

# A process's own MongoDB or Redis cannot be reached right now (down, failing over, timing out): not a
# bug, and a retry may succeed, so it is answered as unavailable (gRPC UNAVAILABLE, HTTP 503).
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    pymongo.errors.ConnectionFailure,  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
)
