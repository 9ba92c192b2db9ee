"""Liveness and readiness probes (not under /api/v1; no auth)."""

from __future__ import annotations

import asyncio
from typing import Literal

import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.clients import Clients
from mallkit import mongo

STORE_TIMEOUT_SECONDS = 1.0

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    services: dict[str, str] = Field(
        ..., description="grpc.health.v1 status per service.", examples=[{"retail": "SERVING", "guide": "UNAVAILABLE"}]
    )
    stores: dict[str, str] = Field(
        ..., description="The gateway's own stores: ok or the error.", examples=[{"mongo": "ok", "redis": "ok"}]
    )


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: every service reports SERVING and the gateway's Mongo and Redis answer",
    responses={503: {"model": Readiness, "description": "At least one service is not serving"}},
)
async def readyz(request: Request) -> JSONResponse:
    clients: Clients = request.app.state.clients
    services, stores = await asyncio.gather(clients.health(), check_stores(request.app.state.redis))
    ready = all(status == "SERVING" for status in services.values()) and all(s == "ok" for s in stores.values())
    body = Readiness(status="ready" if ready else "not_ready", services=services, stores=stores)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def check_stores(cache: aioredis.Redis) -> dict[str, str]:
    async def check(name: str, probe) -> tuple[str, str]:
        try:
            await asyncio.wait_for(probe(), STORE_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means not ready; its name is the answer
            return name, type(exc).__name__
        return name, "ok"

    results = await asyncio.gather(check("mongo", lambda: run_in_threadpool(mongo.ping)), check("redis", cache.ping))
    return dict(results)
