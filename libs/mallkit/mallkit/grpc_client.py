"""gRPC clients: a deadline on every call, identity propagated, retries only when safe.

Every call carries the current request id and caller as metadata and a deadline (default
GRPC_DEADLINE_SECONDS). Only idempotent methods (Get*/List* and those named `idempotent`, e.g.
calls that carry an idempotency key) are retried, and only on UNAVAILABLE. Errors come back as
`mallkit.errors` classes, so service code handles one kind of failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from mallkit import context, errors
from mallkit.config import KitSettings

_STATUS_TO_ERROR: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    # a server stopping cancels what it still serves, and during a rolling deploy the old version
    # lacks the new methods: both pass, so the caller hears "retry shortly", not "internal error"
    grpc.StatusCode.CANCELLED: errors.Unavailable,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unavailable,
}

RETRY_BACKOFF = (0.05, 0.2)
IDEMPOTENT_PREFIXES = ("Get", "List")


def error_code(err: grpc.RpcError) -> str:
    for key, value in err.trailing_metadata() or ():
        if key == errors.ERROR_CODE_TRAILER:
            return value
    return err.code().name.lower()


def error_details(err: grpc.RpcError) -> dict:
    """What the service put in the error's details; {} if nothing (or nothing readable)."""
    for key, value in err.trailing_metadata() or ():
        if key == errors.ERROR_DETAILS_TRAILER:
            try:
                details = json.loads(value)
            except ValueError:
                return {}
            return details if isinstance(details, dict) else {}
    return {}


def to_domain_error(err: grpc.RpcError) -> errors.DomainError:
    cls = _STATUS_TO_ERROR.get(err.code())
    if cls is None:
        return errors.Internal(f"upstream failed: {err.code().name}: {err.details()}", "upstream_error")
    return cls(err.details() or err.code().name, error_code(err), error_details(err))


def _retry(code: grpc.StatusCode, attempt: int, backoffs: tuple[float, ...], ends: float) -> bool:
    """Another attempt after UNAVAILABLE, if one is left and its backoff ends before the deadline."""
    return (
        code == grpc.StatusCode.UNAVAILABLE and attempt < len(backoffs) and time.monotonic() + backoffs[attempt] < ends
    )


Invoker = Callable[[Any, Any, float, list[tuple[str, str]]], Any]


def blocking_invoke(multicallable: Any, request: Any, timeout: float, metadata: list[tuple[str, str]]) -> Any:
    return multicallable(request, timeout=timeout, metadata=metadata)


class ServiceClient:
    """`client.GetSku(request)` calls the stub with a deadline, metadata and safe retries."""

    def __init__(
        self,
        stub_class: type,
        target: str,
        *,
        deadline: float | None = None,
        idempotent: Iterable[str] = (),
        invoker: Invoker = blocking_invoke,
        caller_service: str = "",
    ) -> None:
        self.target = target
        self.caller_service = caller_service
        self.channel = grpc.insecure_channel(target)
        self.stub = stub_class(self.channel)
        self.deadline = deadline or KitSettings.from_env().grpc_deadline_seconds
        self.idempotent = set(idempotent)
        self.invoker = invoker

    def retries_for(self, method: str) -> tuple[float, ...]:
        return RETRY_BACKOFF if method.startswith(IDEMPOTENT_PREFIXES) or method in self.idempotent else ()

    def __getattr__(self, method: str) -> Callable[[Any], Any]:
        multicallable = getattr(self.stub, method)
        backoffs = self.retries_for(method)

        def call(request: Any, *, timeout: float | None = None) -> Any:
            who = context.caller()
            if self.caller_service:
                who = dataclasses.replace(who, service=self.caller_service)
            metadata = context.to_metadata(context.request_id(), who, context.trace())
            # one deadline for the call, retries included, and never past the one of the call served
            ends = time.monotonic() + (timeout or self.deadline)
            if (served := context.deadline()) is not None:
                ends = min(ends, served)
            if ends <= time.monotonic():
                raise errors.Unavailable("the caller stopped waiting before this call", "deadline_exceeded")
            for attempt in range(len(backoffs) + 1):
                try:
                    return self.invoker(multicallable, request, ends - time.monotonic(), metadata)
                except grpc.RpcError as err:
                    if not _retry(err.code(), attempt, backoffs, ends):
                        raise to_domain_error(err) from err
                    time.sleep(backoffs[attempt])
            raise AssertionError("unreachable")

        return call

    def close(self) -> None:
        self.channel.close()


class AsyncServiceClient:
    """The grpc.aio twin of ServiceClient for asyncio callers (the gateway).

    Metadata is passed explicitly because the gateway speaks for the HTTP caller.
    """

    def __init__(
        self, stub_class: type, target: str, *, deadline: float | None = None, idempotent: Iterable[str] = ()
    ) -> None:
        self.target = target
        self.channel = grpc.aio.insecure_channel(target)
        self.stub = stub_class(self.channel)
        self.deadline = deadline or KitSettings.from_env().grpc_deadline_seconds
        self.idempotent = set(idempotent)

    async def call(
        self, method: str, request: Any, metadata: list[tuple[str, str]], timeout: float | None = None
    ) -> Any:
        multicallable = getattr(self.stub, method)
        backoffs = RETRY_BACKOFF if method.startswith(IDEMPOTENT_PREFIXES) or method in self.idempotent else ()
        ends = time.monotonic() + (timeout or self.deadline)  # one deadline for the call, retries included
        for attempt in range(len(backoffs) + 1):
            try:
                return await multicallable(request, timeout=ends - time.monotonic(), metadata=metadata)
            except grpc.aio.AioRpcError as err:
                if not _retry(err.code(), attempt, backoffs, ends):
                    raise to_domain_error(err) from err
                await asyncio.sleep(backoffs[attempt])
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.channel.close()
