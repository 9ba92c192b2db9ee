"""Idempotency-Key on POSTs that create orders, payments, refunds or withdrawals.

Per caller and key, in Redis:
1. `SET NX` reserves the key (state in_flight, the request's fingerprint, an owner token, a lease of
   LEASE_SECONDS so a crashed gateway does not block the key for a day);
2. the route runs; its response (status and body) replaces the reservation for IDEMPOTENCY_TTL_SECONDS
   (24 h), but only while this request still owns it (compare-and-set in Lua);
3. a 5xx, a 429 or a request that failed validation stores nothing: the reservation is released and
   the client may retry with the same key.

A repeat with the same body (same method, path and canonical JSON) replays the stored response
with `Idempotent-Replayed: true`; a different body is a 422 `idempotency_key_reused`. A repeat
that arrives while the first is still running waits for it (up to IDEMPOTENCY_WAIT_SECONDS) and
replays its response; if it is still running after that, 409 `idempotency_key_in_progress`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute

from gateway.auth import current_caller
from gateway.errors import UnprocessableContent, on_domain_error, status_of
from mallkit.context import Caller
from mallkit.errors import DomainError, FailedPrecondition

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[A-Za-z0-9._:-]+$"
PREFIX = "gw:idem:"
LEASE_SECONDS = 60  # longer than any request may run (deadlines: a few seconds)
POLL_SECONDS = 0.05
IN_FLIGHT = "in_flight"
DONE = "done"

# Replace the reservation only while it is still ours (it may have lapsed and been taken).
FINISH = """
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current)['owner'] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""


class InProgress(FailedPrecondition):
    def __init__(self) -> None:
        super().__init__(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            "idempotency_key_in_progress",
        )
        self.headers = {"Retry-After": "1"}


@dataclass(frozen=True)
class Reservation:
    key: str
    owner: str
    fingerprint: str


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    media_type: str

    def response(self) -> Response:
        return Response(self.body, self.status, media_type=self.media_type, headers={REPLAYED_HEADER: "true"})


class Replay(Exception):
    """Control flow, not an error: answered with the stored response."""

    def __init__(self, stored: Stored) -> None:
        super().__init__("replay")
        self.stored = stored


class IdempotencyStore:
    def __init__(self, cache: aioredis.Redis, ttl_seconds: int, wait_seconds: float) -> None:
        self._cache = cache
        self._ttl_ms = ttl_seconds * 1000
        self._wait = wait_seconds
        self._finish = cache.register_script(FINISH)

    async def begin(self, scope: str, key: str, fingerprint: str) -> Reservation | Stored:
        """Reserve `key` for this request, or return the response of the request that had it."""
        redis_key = f"{PREFIX}{scope}:{key}"
        owner = secrets.token_hex(16)
        reservation = json.dumps({"state": IN_FLIGHT, "fp": fingerprint, "owner": owner})
        deadline = time.monotonic() + self._wait
        while True:
            if await self._cache.set(redis_key, reservation, nx=True, px=LEASE_SECONDS * 1000):
                return Reservation(redis_key, owner, fingerprint)
            raw = await self._cache.get(redis_key)
            if raw is None:  # finished with a 5xx or lapsed between our two calls: try again
                continue
            entry = json.loads(raw)
            if entry["fp"] != fingerprint:
                raise UnprocessableContent(
                    f"this {HEADER} was used with a different request; use a new key", "idempotency_key_reused"
                )
            if entry["state"] == DONE:
                return Stored(entry["status"], base64.b64decode(entry["body"]), entry["media_type"])
            if time.monotonic() >= deadline:
                raise InProgress()
            await asyncio.sleep(POLL_SECONDS)

    async def finish(self, reservation: Reservation, response: Response) -> None:
        entry = {
            "state": DONE,
            "fp": reservation.fingerprint,
            "owner": reservation.owner,
            "status": response.status_code,
            "body": base64.b64encode(bytes(response.body)).decode(),
            "media_type": response.media_type or response.headers.get("content-type", "application/json"),
        }
        await self._finish(keys=[reservation.key], args=[reservation.owner, json.dumps(entry), self._ttl_ms])

    async def release(self, reservation: Reservation) -> None:
        await self._finish(keys=[reservation.key], args=[reservation.owner, "", 0])


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Same request = same method, path and JSON value (key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or nested too deep to read
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


KEY_DESCRIPTION = (
    "Makes retries safe: a repeat with the same key and body (within 24 h) returns the first "
    "response (header `Idempotent-Replayed: true`) instead of acting twice; the same key with "
    "another body is a 422 `idempotency_key_reused`. A repeat sent while the first is still "
    "running waits for it, or gets 409 `idempotency_key_in_progress` after 10 s."
)
KEY_EXAMPLE = "5b1e0c9e-3f7c-4d0a-9a55-2f0f1e9d8c41"


def _key_header(description: str) -> Any:
    return Header(
        alias=HEADER,
        min_length=1,
        max_length=128,
        pattern=KEY_PATTERN,
        description=description,
        examples=[KEY_EXAMPLE],
    )


async def _reserve(request: Request, caller: Caller, key: str) -> str:
    store: IdempotencyStore = request.app.state.idempotency
    digest = fingerprint(request.method, request.url.path, await request.body())
    outcome = await store.begin(caller.user_id, key, digest)
    if isinstance(outcome, Stored):
        raise Replay(outcome)
    request.state.idempotency = outcome
    return key


async def idempotency_key(
    request: Request,
    caller: Annotated[Caller, Depends(current_caller)],
    key: Annotated[str | None, _key_header(KEY_DESCRIPTION)] = None,
) -> str | None:
    """Reserve the key before the route runs (`IdempotentRoute` stores or releases it afterwards)."""
    if key is None:
        return None
    return await _reserve(request, caller, key)


async def required_idempotency_key(
    request: Request,
    caller: Annotated[Caller, Depends(current_caller)],
    key: Annotated[str, _key_header(f"Required. {KEY_DESCRIPTION}")],
) -> str:
    """As `idempotency_key`, for operations that move money and must never run twice by accident."""
    return await _reserve(request, caller, key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
RequiredIdempotencyKey = Annotated[str, Depends(required_idempotency_key)]


def storable(status: int) -> bool:
    """Outcomes worth replaying: a retry could not change them. 5xx and 429 are transient."""
    return status < 500 and status != 429


class IdempotentRoute(APIRoute):
    """Stores the response of a request that reserved an Idempotency-Key (see `idempotency_key`)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except DomainError as exc:
                reservation = _reservation(request)
                if reservation is None:
                    raise
                if not storable(status_of(exc)):
                    await _store(request).release(reservation)
                    raise
                response = await on_domain_error(request, exc)
            except BaseException:
                if (reservation := _reservation(request)) is not None:
                    await _store(request).release(reservation)
                raise
            if (reservation := _reservation(request)) is not None:
                if storable(response.status_code):
                    await _store(request).finish(reservation, response)
                else:
                    await _store(request).release(reservation)
            return response

        return run


def _reservation(request: Request) -> Reservation | None:
    value: Any = getattr(request.state, "idempotency", None)
    return value if isinstance(value, Reservation) else None


def _store(request: Request) -> IdempotencyStore:
    store: IdempotencyStore = request.app.state.idempotency
    return store


async def on_replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.stored.response()
