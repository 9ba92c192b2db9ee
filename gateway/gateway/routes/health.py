"""Liveness and readiness probes (not under /api/v1; no auth)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.clients import Clients

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    services: dict[str, str] = Field(
        ..., description="grpc.health.v1 status per service.", examples=[{"retail": "SERVING", "guide": "UNAVAILABLE"}]
    )


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: every service reports SERVING",
    responses={503: {"model": Readiness, "description": "At least one service is not serving"}},
)
async def readyz(request: Request) -> JSONResponse:
    clients: Clients = request.app.state.clients
    services = await clients.health()
    ready = all(status == "SERVING" for status in services.values())
    body = Readiness(status="ready" if ready else "not_ready", services=services)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
