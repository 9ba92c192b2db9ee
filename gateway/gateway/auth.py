"""Identity at the edge: HS256 access tokens and the dependencies that say who may call a route.

Every route takes exactly one of `public`, `optionally_authenticated`, `authenticated` or `role(...)`
as its `Rpc` dependency, so the access rule sits in the route's signature and the verified caller
rides on every gRPC call.
The same dependencies charge the request to the per-IP and per-user rate limits.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.clients import Clients, Rpc
from gateway.ratelimit import RateLimiter, subject
from gateway.roles import ROLES, Role
from gateway.settings import GatewaySettings
from mallkit import errors
from mallkit.context import ANONYMOUS, Caller
from mallkit.ids import ID_PATTERN

ISSUER = "socialmall"
ALGORITHM = "HS256"

__all__ = [
    "OPTIONAL_TOKEN",
    "ROLES",
    "Role",
    "VerifiedTokens",
    "authenticated",
    "client_ip",
    "current_caller",
    "issue_token",
    "optionally_authenticated",
    "public",
    "role",
]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="`Authorization: Bearer <access token>` (HS256 JWT issued by the gateway).",
)


def issue_token(settings: GatewaySettings, user_id: str, roles: Iterable[str], now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": user_id,
        "roles": sorted(set(roles)),
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + timedelta(seconds=settings.access_token_ttl),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def verify_token(settings: GatewaySettings, token: str) -> tuple[Caller, float]:
    """The caller a token speaks for and its expiry (a Unix time); any doubt (signature, expiry,
    algorithm, claims) is a 401."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _expired() from exc
    except jwt.InvalidTokenError as exc:
        raise errors.Unauthenticated("the access token is not valid", "invalid_token") from exc
    user_id, roles = claims["sub"], claims.get("roles", [])
    if not isinstance(user_id, str) or not ID_PATTERN.match(user_id):
        raise errors.Unauthenticated("the access token has a malformed subject", "invalid_token")
    if not isinstance(roles, list) or not all(isinstance(r, str) and r in ROLES for r in roles):
        raise errors.Unauthenticated("the access token has malformed roles", "invalid_token")
    return Caller(user_id, frozenset(roles)), float(claims["exp"])


def _expired() -> errors.Unauthenticated:
    return errors.Unauthenticated("the access token has expired", "token_expired")


class VerifiedTokens:
    """Access tokens this process has verified, each with its caller and expiry.

    Verifying costs ~70 µs (HMAC, base64, JSON, claim checks), about 7 % of an authenticated GET
    through the gateway, and a client sends the same token on every request of its lifetime; so a
    token is verified once and looked up after that. Only tokens that passed are kept, expiry is
    checked on every use, and when full the oldest entry goes first.
    """

    def __init__(self, settings: GatewaySettings, size: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.size = size
        self.clock = clock
        self._callers: dict[str, tuple[Caller, float]] = {}

    def caller(self, token: str) -> Caller:
        if (known := self._callers.get(token)) is None:
            known = verify_token(self.settings, token)
            if len(self._callers) >= self.size:
                del self._callers[next(iter(self._callers))]
            self._callers[token] = known
        caller, expires_at = known
        if self.clock() >= expires_at:
            del self._callers[token]
            raise _expired()
        return caller


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def client_ip(request: Request) -> str:
    """The peer address; behind a proxy listed in FORWARDED_ALLOW_IPS, uvicorn puts the client's here.
    An IPv6 address stands for its /64, which one subscriber holds whole, so that rotating through
    it does not give a client a fresh rate limit bucket per request."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return str(ipaddress.ip_network(f"{address}/64", strict=False)) if address.version == 6 else host


async def charge(request: Request, caller: Caller) -> None:
    """One request against the caller's IP bucket and, when signed in, their user bucket."""
    limiter: RateLimiter = request.app.state.limiter
    limits = _settings(request).rate_limits
    buckets = [(limits.ip, subject("ip", client_ip(request)))]
    if caller.authenticated:
        buckets.append((limits.user, subject("user", caller.user_id)))
    await limiter.hit(*buckets, fail_open=True)


def _rpc(request: Request, caller: Caller) -> Rpc:
    clients: Clients = request.app.state.clients
    return Rpc(clients, request.state.request_id, caller, request.state.trace)


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    try:
        if credentials is None:
            raise errors.Unauthenticated("a bearer access token is required", "missing_token")
        caller = request.app.state.verified_tokens.caller(credentials.credentials)
    except errors.Unauthenticated:
        await charge(request, ANONYMOUS)  # failed attempts count against the IP too
        raise
    request.state.user_id = caller.user_id  # for the access log, even when a role check then refuses
    return caller


async def public(request: Request) -> Rpc:
    """Anyone may call; no identity is read or forwarded."""
    await charge(request, ANONYMOUS)
    return _rpc(request, ANONYMOUS)


async def public_provider_callback(request: Request) -> Rpc:
    """The payment provider's callback: anyone may call, trusted only by its signature (retail checks
    it). Its own per-IP bucket (RATE_LIMIT_NOTIFY_IP): a provider's bursts from a few addresses would
    empty the bucket sized for a browser, and a refused callback delays a payment by the provider's
    retry schedule."""
    limiter: RateLimiter = request.app.state.limiter
    limit = _settings(request).rate_limits.notify_ip
    await limiter.hit((limit, subject("notify-ip", client_ip(request))), fail_open=True)
    return _rpc(request, ANONYMOUS)


async def optionally_authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Rpc:
    """Anyone may call; a token, when sent, must be valid (else 401) and its caller is forwarded, so the
    service can show its owner more (e.g. their own drafts)."""
    caller = ANONYMOUS if credentials is None else await current_caller(request, credentials)
    await charge(request, caller)
    return _rpc(request, caller)


# `openapi_extra` for routes on `optionally_authenticated`: FastAPI lists the bearer scheme as
# required; appending the empty requirement makes it optional in the document.
OPTIONAL_TOKEN = {"security": [{}]}


async def authenticated(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Rpc:
    """Any holder of a valid access token."""
    await charge(request, caller)
    return _rpc(request, caller)


def role(*allowed: Role) -> Callable[..., Awaitable[Rpc]]:
    """A valid access token carrying at least one of `allowed`."""
    names = ", ".join(allowed)

    async def dependency(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Rpc:
        await charge(request, caller)
        if not caller.roles & set(allowed):
            raise errors.PermissionDenied(f"this action needs one of the roles: {names}", "role_required")
        return _rpc(request, caller)

    dependency.__name__ = f"role_{'_or_'.join(allowed)}"
    return dependency
