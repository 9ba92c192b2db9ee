"""Groupbuy: 拼团 campaigns and what groupbuy recorded of paid orders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, public, role
from gateway.clients import Rpc
from gateway.money import MAX_FEN, Money, to_pb
from gateway.schemas import Id, JsonInt, PathId, RequestBody, enum_label, time_of
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb

router = APIRouter(prefix="/groupbuy", tags=["groupbuy"], responses=errors.COMMON)


class NewCampaign(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    group_price_fen: JsonInt = Field(..., gt=0, le=MAX_FEN, description="Must be below the SKU price.", examples=[1490])
    team_size: JsonInt = Field(..., ge=2, le=50, examples=[3])
    expiry_hours: JsonInt | None = Field(None, ge=1, le=72, description="Default 24.", examples=[24])


class Campaign(BaseModel):
    id: str = Field(..., examples=["cmp_6650a1f2c3d4e5f6a7b8c9d6"])
    owner_id: str = Field(..., examples=["u_42"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    group_price: Money
    team_size: int = Field(..., examples=[3])
    expiry_hours: int = Field(..., examples=[24])
    status: str = Field(..., description="draft, live or ended.", examples=["live"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, campaign: pb.Campaign) -> Campaign:
        return cls(
            id=campaign.id,
            owner_id=campaign.owner_id,
            sku_id=campaign.sku_id,
            group_price=Money.from_pb(campaign.group_price),
            team_size=campaign.team_size,
            expiry_hours=campaign.expiry_hours,
            status=enum_label(campaign, "status", "CAMPAIGN_STATUS_"),
            created_at=time_of(campaign, "created_at"),
        )


class PaidOrder(BaseModel):
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    buyer_id: str = Field(..., examples=["u_42"])
    amount: Money
    group_team_id: str | None = Field(..., examples=["team_6650a1f2c3d4e5f6a7b8c9d7"])
    event_id: str = Field(..., description="The retail event this record came from.", examples=["evt_01"])
    recorded_at: datetime | None = Field(..., examples=["2025-01-31T08:05:01Z"])


@router.post(
    "/campaigns",
    status_code=201,
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Create a 拼团 campaign (role brand or admin)",
)
async def create_campaign(body: NewCampaign, rpc: Annotated[Rpc, Depends(role(Role.BRAND, Role.ADMIN))]) -> Campaign:
    request = pb.CreateCampaignRequest(
        sku_id=body.sku_id,
        group_price=to_pb(body.group_price_fen),
        team_size=body.team_size,
        expiry_hours=body.expiry_hours or 0,
    )
    reply = await rpc.groupbuy("CreateCampaign", request)
    return Campaign.from_pb(reply.campaign)


@router.get("/campaigns/{campaign_id}", summary="A campaign (public)")
async def get_campaign(campaign_id: PathId, rpc: Annotated[Rpc, Depends(public)]) -> Campaign:
    reply = await rpc.groupbuy("GetCampaign", pb.GetCampaignRequest(campaign_id=campaign_id))
    return Campaign.from_pb(reply.campaign)


@router.get(
    "/paid-orders/{order_id}",
    responses=errors.NEEDS_TOKEN,
    summary="What groupbuy recorded of a paid order (authenticated)",
)
async def get_paid_order(order_id: PathId, rpc: Annotated[Rpc, Depends(authenticated)]) -> PaidOrder:
    reply = await rpc.groupbuy("GetPaidOrder", pb.GetPaidOrderRequest(order_id=order_id))
    paid = reply.paid_order
    return PaidOrder(
        order_id=paid.order_id,
        buyer_id=paid.buyer_id,
        amount=Money.from_pb(paid.amount),
        group_team_id=paid.group_team_id or None,
        event_id=paid.event_id,
        recorded_at=time_of(paid, "recorded_at"),
    )
