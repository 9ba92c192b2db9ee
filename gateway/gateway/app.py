"""The gateway application: routers, error mapping, request ids, and one gRPC client per service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway import errors
from gateway.clients import Clients
from gateway.middleware import RequestContextMiddleware
from gateway.routes import agent, content, dev, groupbuy, guide, health, payments, retail
from gateway.settings import GatewaySettings
from mallkit import logs

API_PREFIX = "/api/v1"
ROOT_ROUTERS = (health.router, guide.redirect_router)
API_ROUTERS = (retail.router, payments.router, groupbuy.router, content.router, agent.router, guide.router)
DEV_ROUTERS = (dev.router,)
SIMULATED_PROVIDER_TIMEOUT_SECONDS = 10.0

DESCRIPTION = """
The public REST/JSON API of SocialMall, a social e-commerce platform.

**Authentication.** Send `Authorization: Bearer <access token>` (an HS256 JWT issued by the gateway,
valid 15 minutes). Each operation says who may call it: public, any authenticated user, or one of the
roles consumer, store_owner, brand, agent, kol, creator, admin. In development,
`POST /api/v1/dev/tokens` issues a token for any user and roles; it does not exist in production.

**Conventions.** JSON is snake_case; ids are strings; times are ISO-8601 UTC; money is
`{"fen": 1990, "display": "¥19.90"}` in responses and integer `*_fen` fields in requests; lists are
`{"items": [...], "next_cursor": ...}` pages driven by `?cursor=&limit=`. Every error is
`{"code", "message", "details", "request_id"}`; send `X-Request-ID` to choose the request id, which
every response echoes.
"""

TAGS = [
    {"name": "retail", "description": "Brands, products, SKUs and orders (the trade core)."},
    {"name": "payments", "description": "Payments and the payment provider's callback."},
    {"name": "groupbuy", "description": "拼团 campaigns."},
    {"name": "content", "description": "Posts that link products."},
    {"name": "agent", "description": "微商 agents."},
    {"name": "guide", "description": "KOL tracked links and the short-link redirect."},
    {"name": "dev", "description": "Development-only helpers; absent when SOCIALMALL_ENV=prod."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
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
    errors.install(app)
    app.add_middleware(RequestContextMiddleware)

    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in (*API_ROUTERS, *DEV_ROUTERS) if settings.is_dev else API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app


app = create_app()
