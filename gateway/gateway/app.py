"""The gateway application: routers, error mapping, request ids and traces, and one gRPC client per service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from gateway import errors, openapi
from gateway.auth import VerifiedTokens
from gateway.clients import Clients
from gateway.codes import Codes
from gateway.documents import DOCUMENTS
from gateway.idempotency import IdempotencyStore, Replay, on_replay
from gateway.middleware import RequestContextMiddleware
from gateway.ratelimit import RateLimiter
from gateway.routes import (
    agent,
    auth,
    bargain,
    content,
    dev,
    groupbuy,
    guide,
    health,
    orders,
    payments,
    retail,
    roles,
    stores,
    wallet,
)
from gateway.settings import GatewaySettings
from mallkit import logs, mongo, redis_conn

API_PREFIX = "/api/v1"
ROOT_ROUTERS = (health.router, guide.redirect_router)
# Matched in this order, route by route: the busiest (catalog, orders) first.
API_ROUTERS = (
    retail.router,
    orders.router,
    payments.router,
    stores.router,
    wallet.router,
    groupbuy.router,
    bargain.router,
    content.router,
    agent.router,
    guide.router,
    auth.router,
    roles.router,
)
DEV_ROUTERS = (dev.router,)
SIMULATED_PROVIDER_TIMEOUT_SECONDS = 10.0

DESCRIPTION = """
The public REST/JSON API of SocialMall, a social e-commerce platform.

**Accounts.** Ask for a one-time code (`POST /api/v1/auth/codes`), then register
(`POST /api/v1/auth/register`, optionally with a password) or log in with the code or the password.
Every sign-in answers an access token (an HS256 JWT, valid 15 minutes) and a refresh token (30 days,
single use: `POST /api/v1/auth/refresh` spends it and returns the next pair; presenting a spent one
again ends the whole session). In development the code is in the gateway's log and at
`GET /api/v1/dev/codes/{phone}`, and `POST /api/v1/dev/tokens` issues a token for any user and roles;
neither exists in production.

**Authorization.** Send `Authorization: Bearer <access token>`. Each operation says who may call it:
public, any authenticated user, or one of the roles consumer, store_owner, brand, agent, kol,
creator, admin. Everyone is a consumer; store_owner and creator are self-assigned
(`POST /api/v1/me/roles`); brand, kol, agent and admin are granted by an admin approving an
application (`POST /api/v1/role-applications`). The services check ownership by one rule: what the
caller cannot see answers 404, as if it did not exist (someone else's orders, refunds, agents or
links; another brand's drafts); what the caller sees but is not theirs to do answers 403 with a code
saying why (`not_buyer`, `not_seller`, `own_refund`, `not_store_owner`, `not_initiator`,
`not_campaign_owner`). An order is seen by its buyer, its sellers and admins; stores, bargains and
published campaigns by everyone. `?user_id=` of another user is for admins (403 `role_required`).

**Limits and retries.** Requests are rate limited per IP and per user (stricter for sign-in and
codes): a 429 carries `Retry-After` in seconds. POSTs that create orders or payments accept an
`Idempotency-Key` header, and refunds and withdrawals require one: a retry with the same key and
body returns the first response (24 h).

**Conventions.** JSON is snake_case; ids are strings; times are ISO-8601 UTC; money is
`{"fen": 1990, "display": "¥19.90"}` in responses and integer `*_fen` fields in requests; lists are
`{"items": [...], "next_cursor": ...}` pages driven by `?cursor=&limit=`. Every error is
`{"code", "message", "details", "request_id"}`; `details` holds what a program can act on, when there
is something (`already_started` names the open `bargain_id`), else `{}`. Send `X-Request-ID` to
choose the request id, which every response echoes. A W3C `traceparent` (with its `tracestate`) is
echoed too, and passed on to every service the request reaches, the events it causes and their log
lines (`trace_id`); one that is not well formed is dropped.
"""

TAGS = [
    {"name": "auth", "description": "Sign up and sign in: one-time codes, passwords, access and refresh tokens."},
    {"name": "accounts", "description": "The caller's account, roles, and role applications with their approval."},
    {"name": "retail", "description": "Brands, products, SKUs, stock, orders, shipping and refunds (the trade core)."},
    {"name": "payments", "description": "Payments and the payment provider's callback."},
    {
        "name": "stores",
        "description": "Micro-stores: opening (free), their products at their own prices, sharing and binding.",
    },
    {
        "name": "wallet",
        "description": "Balances, ledger entries, order payouts, withdrawals and the payout policy.",
    },
    {"name": "groupbuy", "description": "拼团 campaigns, teams and seats, fission funnel."},
    {"name": "bargain", "description": "砍价 bargains."},
    {"name": "content", "description": "Posts that link products."},
    {"name": "agent", "description": "微商 agents."},
    {"name": "guide", "description": "KOL tracked links and the short-link redirect."},
    {"name": "dev", "description": "Development-only helpers; absent when SOCIALMALL_ENV=prod."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
    await run_in_threadpool(open_database, settings)
    cache = redis_conn.connect_async(settings.kit)
    app.state.redis = cache
    app.state.limiter = RateLimiter(cache)
    app.state.codes = Codes(cache, settings)
    app.state.idempotency = IdempotencyStore(cache, settings.idempotency_ttl, settings.idempotency_wait)
    app.state.clients = Clients.open(settings)
    if settings.is_dev:
        # The simulated provider calls this gateway over loopback: never through an HTTP proxy.
        app.state.provider_http = httpx.AsyncClient(
            base_url=settings.public_url, timeout=SIMULATED_PROVIDER_TIMEOUT_SECONDS, trust_env=False
        )
    try:
        yield
    finally:
        if settings.is_dev:
            await app.state.provider_http.aclose()
        await app.state.clients.close()
        await cache.aclose()


def open_database(settings: GatewaySettings) -> None:
    """Accounts live in the gateway's own database; indexes (unique phone) exist before serving."""
    mongo.connect(settings.mongo_db, settings.kit)
    mongo.ensure_indexes(DOCUMENTS)


def create_app(settings: GatewaySettings | None = None, *, configure_logging: bool = True) -> FastAPI:
    settings = settings or GatewaySettings.from_env()
    if configure_logging:
        logs.configure("gateway", settings.kit.log_level)
    app = FastAPI(
        title="SocialMall API",
        version="v1",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verified_tokens = VerifiedTokens(settings)
    errors.install(app)
    app.add_exception_handler(Replay, on_replay)
    app.add_middleware(RequestContextMiddleware)

    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in (*API_ROUTERS, *DEV_ROUTERS) if settings.is_dev else API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    openapi.install(app)
    return app


app = create_app()
