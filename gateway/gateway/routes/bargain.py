"""Bargains (砍价): a user starts a bargain on a campaign, friends each cut its price towards a floor,
and the initiator buys at the price reached (or only at the floor, per the campaign's buy rule).

Served by groupbuy's process (BargainService on its gRPC port).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, public, role
from gateway.clients import Rpc
from gateway.idempotency import IdempotencyKey, IdempotentRoute
from gateway.money import MAX_FEN, Money, to_pb
from gateway.routes.groupbuy import REFUSALS as GROUPBUY_REFUSALS
from gateway.routes.groupbuy import placing_order, status_filter
from gateway.schemas import (
    EXAMPLE_IDS,
    Cursor,
    Id,
    JsonDateTime,
    JsonInt,
    Limit,
    Page,
    RequestBody,
    enum_label,
    page_of,
    path_id,
    query_id,
    timestamp_of,
)
from mallkit.protos import datetime_of
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb

router = APIRouter(prefix="/bargain", tags=["bargain"], responses=errors.COMMON, route_class=IdempotentRoute)

Public = Annotated[Rpc, Depends(public)]
Authenticated = Annotated[Rpc, Depends(authenticated)]
BrandOrAdmin = Annotated[Rpc, Depends(role(Role.BRAND, Role.ADMIN))]
CampaignId = Annotated[str, path_id("bgc")]
BargainId = Annotated[str, path_id("brg")]
SkuFilter = Annotated[str | None, query_id("sku")]
CampaignStatus = Literal["scheduled", "live", "ended"]

BuyRule = Literal["any_price", "floor_only"]
BUY_RULE = {"any_price": pb.BUY_RULE_ANY_PRICE, "floor_only": pb.BUY_RULE_FLOOR_ONLY}
BUY_RULES = "any_price (buy at whatever price was reached) or floor_only (only once at the floor)."


# What the routes below may answer, by code (errors.refusals); the campaign checks are groupbuy's.
REFUSALS: errors.Refusals = {
    **GROUPBUY_REFUSALS,
    "invalid_floor_price": (400, "the floor price must be below the original price"),
    "floor_too_close": (400, "original − floor is 3 fen, less than 1 fen for each of the 5 helpers"),
    "original_above_price": (400, "the original price 12900 fen may not exceed the SKU price 12800 fen"),
    "not_initiator": (403, "only the bargain's initiator buys it"),
    "not_allowed_to_help": (
        403,
        "only new users (who never helped or started a bargain) may help this bargain",
    ),
    "bargain_campaign_not_found": (404, f"bargain_campaign '{EXAMPLE_IDS['bgc']}' not found"),
    "bargain_not_found": (404, f"bargain '{EXAMPLE_IDS['brg']}' not found"),
    "already_started": (409, f"you already have bargain {EXAMPLE_IDS['brg']} open in this campaign"),
    "already_helped": (409, "you already helped this bargain"),
    "daily_help_limit_reached": (409, "you may help 3 bargains a day; try again tomorrow (China time)"),
    "bargain_expired": (409, "the bargain has expired"),
    "bargain_finished": (409, "the bargain takes no more cuts (it is completed)"),
    "floor_not_reached": (409, "this bargain is sold only at the floor price"),
}


def refusing(*codes: str) -> dict[int | str, dict[str, Any]]:
    return errors.refusals(REFUSALS, *codes)


# ── campaigns ──────────────────────────────────────────────────────────────────────────────────


class NewBargainCampaign(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    original_price_fen: JsonInt = Field(
        ..., gt=0, le=MAX_FEN, description="Where bargains start; at most the SKU's price.", examples=[12800]
    )
    floor_price_fen: JsonInt = Field(
        ...,
        ge=0,
        le=MAX_FEN,
        description="Where cuts stop; original − floor must be at least helpers_needed fen.",
        examples=[6800],
    )
    helpers_needed: JsonInt = Field(..., ge=1, le=100, description="The N-th cut reaches the floor.", examples=[5])
    expiry_hours: JsonInt | None = Field(
        None, ge=1, le=168, description="How long a bargain stays open. Default 24.", examples=[24]
    )
    buy_rule: BuyRule = Field("any_price", description=BUY_RULES, examples=["any_price"])
    daily_help_limit: JsonInt | None = Field(
        None,
        ge=1,
        le=100,
        description=(
            "Each user has one count of helps per day (China's calendar day), shared by every campaign; a help on "
            "this campaign's bargains is refused (409 `daily_help_limit_reached`) once that count has reached this "
            "campaign's limit. A cut on one's own bargain is not counted. Default 3."
        ),
        examples=[3],
    )
    new_users_only: bool = Field(
        False, description="Only users who never helped or started a bargain may help.", examples=[False]
    )
    new_user_bonus: bool = Field(
        False, description="New users' cuts are drawn from the upper half of the range.", examples=[True]
    )
    start_time: JsonDateTime | None = Field(None, description="Omit: live at once.", examples=["2025-02-01T00:00:00Z"])
    end_time: JsonDateTime | None = Field(None, description="After the start.", examples=["2025-03-01T00:00:00Z"])


class BargainCampaign(BaseModel):
    id: str = Field(..., examples=["bgc_6650a1f2c3d4e5f6a7b8c9e5"])
    owner_id: str = Field(..., examples=["u_42"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    original_price: Money
    floor_price: Money
    helpers_needed: int = Field(..., examples=[5])
    expiry_hours: int = Field(..., examples=[24])
    buy_rule: str = Field(..., description=BUY_RULES, examples=["any_price"])
    daily_help_limit: int = Field(
        ...,
        description=(
            "A help on this campaign's bargains is refused once the helper's count of helps today, across all "
            "campaigns, has reached this (the limit in force: 3 if the campaign was created without one)."
        ),
        examples=[3],
    )
    new_users_only: bool = Field(..., examples=[False])
    new_user_bonus: bool = Field(..., examples=[True])
    status: str = Field(..., description="scheduled, live or ended.", examples=["live"])
    start_time: datetime | None = Field(..., examples=["2025-02-01T00:00:00Z"])
    end_time: datetime | None = Field(..., examples=["2025-03-01T00:00:00Z"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, campaign: pb.BargainCampaign) -> BargainCampaign:
        return cls(
            id=campaign.id,
            owner_id=campaign.owner_id,
            sku_id=campaign.sku_id,
            original_price=Money.from_pb(campaign.original_price),
            floor_price=Money.from_pb(campaign.floor_price),
            helpers_needed=campaign.helpers_needed,
            expiry_hours=campaign.expiry_hours,
            buy_rule=enum_label(campaign, "buy_rule", "BUY_RULE_"),
            daily_help_limit=campaign.daily_help_limit,
            new_users_only=campaign.new_users_only,
            new_user_bonus=campaign.new_user_bonus,
            status=enum_label(campaign, "status", "CAMPAIGN_STATUS_"),
            start_time=datetime_of(campaign, "start_time"),
            end_time=datetime_of(campaign, "end_time"),
            created_at=datetime_of(campaign, "created_at"),
        )


@router.post(
    "/campaigns",
    status_code=201,
    responses={
        **errors.NEEDS_ROLE,
        **refusing(
            "invalid_floor_price",
            "floor_too_close",
            "invalid_schedule",
            "original_above_price",
            "role_required",
            "not_sku_owner",
            "sku_not_sellable",
            "sku_not_found",
        ),
    },
    summary="Create a 砍价 campaign for one of the caller's SKUs, live from its start time (role brand or admin)",
)
async def create_bargain_campaign(body: NewBargainCampaign, rpc: BrandOrAdmin) -> BargainCampaign:
    request = pb.CreateBargainCampaignRequest(
        sku_id=body.sku_id,
        original_price=to_pb(body.original_price_fen),
        floor_price=to_pb(body.floor_price_fen),
        helpers_needed=body.helpers_needed,
        expiry_hours=body.expiry_hours or 0,
        buy_rule=BUY_RULE[body.buy_rule],
        daily_help_limit=body.daily_help_limit or 0,
        new_users_only=body.new_users_only,
        new_user_bonus=body.new_user_bonus,
        start_time=timestamp_of(body.start_time),
        end_time=timestamp_of(body.end_time),
    )
    reply = await rpc.bargain("CreateBargainCampaign", request)
    return BargainCampaign.from_pb(reply.campaign)


@router.get(
    "/campaigns",
    responses=refusing("invalid_cursor"),
    summary="砍价 campaigns, newest first (public)",
    description="Every campaign is shown: there are no drafts; filter by SKU and by status.",
)
async def list_bargain_campaigns(
    rpc: Public,
    cursor: Cursor = None,
    limit: Limit = 20,
    sku_id: SkuFilter = None,
    status: Annotated[
        CampaignStatus | None, Query(description="Only campaigns in this state.", examples=["live"])
    ] = None,
) -> Page[BargainCampaign]:
    request = pb.ListBargainCampaignsRequest(
        page=page_of(cursor, limit),
        sku_id=sku_id or "",
        status=status_filter(status),
    )
    reply = await rpc.bargain("ListBargainCampaigns", request)
    return Page[BargainCampaign](
        items=[BargainCampaign.from_pb(c) for c in reply.campaigns], next_cursor=reply.page.next_cursor or None
    )


@router.get(
    "/campaigns/{campaign_id}", responses=refusing("bargain_campaign_not_found"), summary="A 砍价 campaign (public)"
)
async def get_bargain_campaign(campaign_id: CampaignId, rpc: Public) -> BargainCampaign:
    reply = await rpc.bargain("GetBargainCampaign", pb.GetBargainCampaignRequest(campaign_id=campaign_id))
    return BargainCampaign.from_pb(reply.campaign)


# ── bargains ───────────────────────────────────────────────────────────────────────────────────


class Bargain(BaseModel):
    id: str = Field(..., examples=["brg_6650a1f2c3d4e5f6a7b8c9e6"])
    campaign_id: str = Field(..., examples=["bgc_6650a1f2c3d4e5f6a7b8c9e5"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    initiator_id: str = Field(..., examples=["u_42"])
    buy_rule: str = Field(
        ..., description=f"The campaign's, when the bargain started: {BUY_RULES}", examples=["any_price"]
    )
    original_price: Money
    floor_price: Money
    current_price: Money = Field(..., description="What the initiator would pay now.")
    helpers_needed: int = Field(..., examples=[5])
    helps: int = Field(..., description="Cuts so far.", examples=[2])
    status: str = Field(
        ...,
        description="active (above the floor, open), completed (at the floor), ordered (bought) or expired.",
        examples=["active"],
    )
    expires_at: datetime | None = Field(..., examples=["2025-02-01T08:00:00Z"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    order_id: str | None = Field(..., description="Null until bought.", examples=[None])

    @classmethod
    def from_pb(cls, bargain: pb.Bargain) -> Bargain:
        return cls(
            id=bargain.id,
            campaign_id=bargain.campaign_id,
            sku_id=bargain.sku_id,
            initiator_id=bargain.initiator_id,
            buy_rule=enum_label(bargain, "buy_rule", "BUY_RULE_"),
            original_price=Money.from_pb(bargain.original_price),
            floor_price=Money.from_pb(bargain.floor_price),
            current_price=Money.from_pb(bargain.current_price),
            helpers_needed=bargain.helpers_needed,
            helps=bargain.helps,
            status=enum_label(bargain, "status", "BARGAIN_STATUS_"),
            expires_at=datetime_of(bargain, "expires_at"),
            created_at=datetime_of(bargain, "created_at"),
            order_id=bargain.order_id or None,
        )


class BargainHelp(BaseModel):
    bargain_id: str = Field(..., examples=["brg_6650a1f2c3d4e5f6a7b8c9e6"])
    helper_id: str = Field(..., examples=["u_43"])
    seq: int = Field(..., description="1..N: this cut's place in the sequence.", examples=[1])
    cut: Money = Field(..., description="How much this cut took off.")
    price_after: Money
    created_at: datetime | None = Field(..., examples=["2025-01-31T09:00:00Z"])

    @classmethod
    def from_pb(cls, help_: pb.BargainHelp) -> BargainHelp:
        return cls(
            bargain_id=help_.bargain_id,
            helper_id=help_.helper_id,
            seq=help_.seq,
            cut=Money.from_pb(help_.cut),
            price_after=Money.from_pb(help_.price_after),
            created_at=datetime_of(help_, "created_at"),
        )


class HelpOutcome(BaseModel):
    help: BargainHelp
    bargain: Bargain = Field(..., description="The bargain after this cut.")


class BargainPurchase(BaseModel):
    bargain: Bargain = Field(..., description="Now ordered, with its order_id: pay it like any order.")
    price: Money = Field(..., description="What the order costs.")


@router.post(
    "/campaigns/{campaign_id}/bargains",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing("bargain_campaign_not_found", "campaign_not_live", "already_started"),
    },
    summary="Start a bargain on a campaign; one active bargain per user and campaign (authenticated)",
)
async def start_bargain(campaign_id: CampaignId, rpc: Authenticated) -> Bargain:
    reply = await rpc.bargain("StartBargain", pb.StartBargainRequest(campaign_id=campaign_id))
    return Bargain.from_pb(reply.bargain)


@router.get(
    "/me/bargains",
    responses={**errors.NEEDS_TOKEN, **refusing("invalid_cursor")},
    summary="The caller's bargains, newest first, whatever became of them (authenticated)",
)
async def list_my_bargains(rpc: Authenticated, cursor: Cursor = None, limit: Limit = 20) -> Page[Bargain]:
    reply = await rpc.bargain("ListMyBargains", pb.ListMyBargainsRequest(page=page_of(cursor, limit)))
    return Page[Bargain](items=[Bargain.from_pb(b) for b in reply.bargains], next_cursor=reply.page.next_cursor or None)


@router.get(
    "/bargains/{bargain_id}",
    responses=refusing("bargain_not_found"),
    summary="A bargain: what a shared link opens (public)",
)
async def get_bargain(bargain_id: BargainId, rpc: Public) -> Bargain:
    reply = await rpc.bargain("GetBargain", pb.GetBargainRequest(bargain_id=bargain_id))
    return Bargain.from_pb(reply.bargain)


@router.post(
    "/bargains/{bargain_id}/help",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing(
            "not_allowed_to_help",
            "bargain_not_found",
            "already_helped",
            "daily_help_limit_reached",
            "bargain_finished",
            "bargain_expired",
        ),
    },
    summary="Cut a bargain's price once; the initiator may cut their own once too (authenticated)",
    description=(
        "A second cut by the same user is a 409 `already_helped`, one past the helper's daily limit a 409 "
        "`daily_help_limit_reached`; on a new-users-only campaign, a user who helped or started a bargain before "
        "gets a 403 `not_allowed_to_help` (the initiator's own cut excepted)."
    ),
)
async def help_bargain(bargain_id: BargainId, rpc: Authenticated) -> HelpOutcome:
    reply = await rpc.bargain("HelpBargain", pb.HelpBargainRequest(bargain_id=bargain_id))
    return HelpOutcome(help=BargainHelp.from_pb(reply.help), bargain=Bargain.from_pb(reply.bargain))


@router.get(
    "/bargains/{bargain_id}/helps",
    responses=refusing("invalid_cursor", "bargain_not_found"),
    summary="A bargain's cuts, in order (public)",
)
async def list_bargain_helps(
    bargain_id: BargainId, rpc: Public, cursor: Cursor = None, limit: Limit = 20
) -> Page[BargainHelp]:
    request = pb.ListBargainHelpsRequest(bargain_id=bargain_id, page=page_of(cursor, limit))
    reply = await rpc.bargain("ListBargainHelps", request)
    return Page[BargainHelp](
        items=[BargainHelp.from_pb(h) for h in reply.helps], next_cursor=reply.page.next_cursor or None
    )


@router.post(
    "/bargains/{bargain_id}/order",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **placing_order(REFUSALS, "not_initiator", "bargain_not_found", "floor_not_reached", "bargain_expired"),
    },
    summary="The initiator orders at the price reached, or the floor (authenticated; Idempotency-Key advised)",
    description="Under the buy rule floor_only, a bargain still above its floor answers 409.",
)
async def buy_bargain(bargain_id: BargainId, rpc: Authenticated, _key: IdempotencyKey) -> BargainPurchase:
    reply = await rpc.bargain("BuyBargain", pb.BuyBargainRequest(bargain_id=bargain_id))
    return BargainPurchase(bargain=Bargain.from_pb(reply.bargain), price=Money.from_pb(reply.price))
