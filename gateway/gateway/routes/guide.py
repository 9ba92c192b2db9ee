"""Guide: KOL tracked links, and the public short-link redirect `/s/{code}`."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, public, role
from gateway.clients import Rpc
from gateway.schemas import ID_MAX_LENGTH, ID_REGEX, Id, RequestBody, path_id
from gateway.settings import GatewaySettings
from mallkit.errors import DomainError
from mallkit.protos import datetime_of
from socialmall.guide.v1 import guide_pb2 as pb

router = APIRouter(prefix="/guide", tags=["guide"], responses=errors.COMMON)
# Mounted at the root: short links are shared as https://<host>/s/<code>.
redirect_router = APIRouter(tags=["guide"])

LinkId = Annotated[str, path_id("lnk")]
LinkCode = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_REGEX, examples=["aZ3k9Qp"])]

VISITOR_COOKIE = "sm_vid"
VISITOR_COOKIE_MAX_AGE = 365 * 24 * 3600
VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")


class NewLink(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])


class Link(BaseModel):
    id: str = Field(..., examples=["lnk_6650a1f2c3d4e5f6a7b8c9da"])
    kol_id: str = Field(..., examples=["u_42"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    code: str = Field(..., description="Short code of the public URL /s/<code>.", examples=["aZ3k9Qp"])
    target_url: str = Field(..., examples=["/products/prd_6650a1f2c3d4e5f6a7b8c9d2?link=lnk_6650a1f2c3d4e5f6a7b8c9da"])
    clicks: int = Field(..., examples=[0])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, link: pb.Link) -> Link:
        return cls(
            id=link.id,
            kol_id=link.kol_id,
            sku_id=link.sku_id,
            code=link.code,
            target_url=link.target_url,
            clicks=link.clicks,
            created_at=datetime_of(link, "created_at"),
        )


@router.post(
    "/links",
    status_code=201,
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Create a tracked link to a SKU (role kol, granted on an approved application)",
)
async def create_link(body: NewLink, rpc: Annotated[Rpc, Depends(role(Role.KOL))]) -> Link:
    reply = await rpc.guide("CreateLink", pb.CreateLinkRequest(sku_id=body.sku_id))
    return Link.from_pb(reply.link)


@router.get(
    "/links/{link_id}", responses=errors.NEEDS_TOKEN, summary="A tracked link and its click count (authenticated)"
)
async def get_link(link_id: LinkId, rpc: Annotated[Rpc, Depends(authenticated)]) -> Link:
    reply = await rpc.guide("GetLink", pb.GetLinkRequest(link_id=link_id))
    return Link.from_pb(reply.link)


def is_safe_target(url: str) -> bool:
    """http(s) URLs or a path on this site: never `javascript:` or a scheme-relative `//host`."""
    parts = urlsplit(url)
    if parts.scheme:
        return parts.scheme in ("http", "https") and bool(parts.netloc)
    return url.startswith("/") and not url.startswith("//") and not parts.netloc


@redirect_router.get(
    "/s/{code}",
    status_code=302,
    response_class=RedirectResponse,
    summary="Follow a short link: counts the click, then redirects (public)",
    responses={302: {"description": "Redirect to the link's target"}, **errors.COMMON},
)
async def follow_link(code: LinkCode, request: Request, rpc: Annotated[Rpc, Depends(public)]) -> RedirectResponse:
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    fresh = not VISITOR_ID.match(visitor)
    if fresh:
        visitor = secrets.token_hex(16)
    reply = await rpc.guide("ResolveLink", pb.ResolveLinkRequest(code=code, visitor_id=visitor))
    if not is_safe_target(reply.target_url):
        raise DomainError(f"link {code!r} resolved to an unsafe target {reply.target_url!r}", "unsafe_redirect")
    response = RedirectResponse(reply.target_url, status_code=302, headers={"Cache-Control": "no-store"})
    if fresh:
        settings: GatewaySettings = request.app.state.settings
        response.set_cookie(
            VISITOR_COOKIE,
            visitor,
            max_age=VISITOR_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=not settings.is_dev,
        )
    return response
