"""Groupbuy: 拼团 campaigns, teams and their seats, the fission funnel, and what groupbuy recorded
of paid orders.

A buyer claims a seat (open a team, or join one by its id or a share code), then buys it
(`POST /groupbuy/teams/{id}/order`: a retail order at the group price) and pays it through retail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import OPTIONAL_TOKEN, Role, authenticated, optionally_authenticated, public, role
from gateway.clients import Rpc
from gateway.idempotency import IdempotencyKey, IdempotentRoute
from gateway.money import MAX_FEN, Money, to_pb
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
from socialmall.common.v1 import money_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb

router = APIRouter(prefix="/groupbuy", tags=["groupbuy"], responses=errors.COMMON, route_class=IdempotentRoute)

Public = Annotated[Rpc, Depends(public)]
MaybeSignedIn = Annotated[Rpc, Depends(optionally_authenticated)]
Authenticated = Annotated[Rpc, Depends(authenticated)]
BrandOrAdmin = Annotated[Rpc, Depends(role(Role.BRAND, Role.ADMIN))]
CampaignId = Annotated[str, path_id("cmp")]
TeamId = Annotated[str, path_id("team")]
OrderId = Annotated[str, path_id("ord")]
SkuFilter = Annotated[str | None, query_id("sku")]

CAMPAIGN_STATUSES = "draft, scheduled (published, start time ahead), live or ended."
CampaignStatus = Literal["draft", "scheduled", "live", "ended"]
CAMPAIGN_STATUS = {
    "draft": pb.CAMPAIGN_STATUS_DRAFT,
    "scheduled": pb.CAMPAIGN_STATUS_SCHEDULED,
    "live": pb.CAMPAIGN_STATUS_LIVE,
    "ended": pb.CAMPAIGN_STATUS_ENDED,
}


def status_filter(status: str | None) -> int:
    """A list's `?status=` as the proto's filter (unspecified: every status)."""
    return CAMPAIGN_STATUS[status] if status else pb.CAMPAIGN_STATUS_UNSPECIFIED


SHARE_CODE_REGEX = r"^[A-Za-z0-9]+$"
SHARE_CODE_EXAMPLE = "sh6650a1f2c3d4e5f6"  # "sh" and 16 hex digits, as groupbuy makes them
ShareCode = Annotated[str, Path(min_length=1, max_length=32, pattern=SHARE_CODE_REGEX, examples=[SHARE_CODE_EXAMPLE])]
MAX_UNITS = 100  # units per order: the most a campaign's limit may allow


# What the routes below may answer, by code (errors.refusals): groupbuy's own, and retail's refusal of
# the order a seat or solo purchase places. 400: a value the service refused; 409: the state forbids it.
REFUSALS: errors.Refusals = {
    "invalid_cursor": (400, "cursor is not one this API returned"),
    "units_limit_exceeded": (400, "a seat buys 1..1 units in this campaign"),
    "invalid_schedule": (400, "the end time must be after the start time and in the future"),
    "invalid_leader_price": (400, "the leader price may not exceed the group price"),
    "invalid_solo_price": (400, "the solo price must be above the group price"),
    "invalid_allotment": (400, "the seat allotment is team size..1000000"),
    "group_price_not_below_price": (400, "the group price 12800 fen must be below the SKU price 12800 fen"),
    "invalid_idempotency_key": (400, "idempotency key is longer than 94 characters"),
    "role_required": (403, "this action needs one of the roles: brand, admin"),
    "not_campaign_owner": (403, "only the campaign's brand (or an admin) manages it"),
    "not_sku_owner": (403, "a campaign sells the caller's own brand's SKU"),
    "sku_not_sellable": (403, f"sku '{EXAMPLE_IDS['sku']}' is not approved for sale"),
    "sku_not_found": (404, f"sku '{EXAMPLE_IDS['sku']}' not found"),
    "campaign_not_found": (404, f"campaign '{EXAMPLE_IDS['cmp']}' not found"),
    "team_not_found": (404, f"team '{EXAMPLE_IDS['team']}' not found"),
    "share_code_not_found": (404, "no such share code"),
    "seat_not_found": (404, "you hold no seat in this team"),
    "paid_order_not_found": (404, f"no paid order '{EXAMPLE_IDS['ord']}'"),
    "campaign_not_live": (409, "the campaign is scheduled, not live"),
    "campaign_not_draft": (409, "a live campaign cannot be published"),
    "campaign_not_published": (409, "a draft has not been published; there is nothing to end"),
    "open_limit_reached": (409, "you already lead as many forming teams as this campaign allows"),
    "join_limit_reached": (409, "you hold as many seats in this campaign as it allows"),
    "allotment_sold_out": (409, "every seat of this campaign is taken"),
    "team_full": (409, "the team is full"),
    "already_joined": (409, "you already hold a seat in this team"),
    "team_formed": (409, "the team has already formed"),
    "team_closed": (409, "the team has closed"),
    "team_expired": (409, "the team has expired"),
    "seat_released": (409, "the seat was released before its order was placed"),
    "no_solo_price": (409, "this campaign sells no solo purchase"),
}
ORDER_REFUSALS: errors.Refusals = {
    "out_of_stock": (409, f"sku {EXAMPLE_IDS['sku']} has fewer than 1 in stock"),
    "sku_not_sellable": (409, f"sku {EXAMPLE_IDS['sku']} is not on sale"),
}


def refusing(*codes: str) -> dict[int | str, dict[str, Any]]:
    return errors.refusals(REFUSALS, *codes)


def placing_order(table: errors.Refusals, *codes: str) -> dict[int | str, dict[str, Any]]:
    """A route that places a retail order: its own refusals (from `table`) and retail's of the order."""
    return errors.refusals({**table, **ORDER_REFUSALS}, *codes, *ORDER_REFUSALS)


def refusing_order(*codes: str) -> dict[int | str, dict[str, Any]]:
    return placing_order(REFUSALS, *codes)


# joining by team id or by share code; a team that closed answers team_formed or team_closed
JOIN_REFUSALS = (
    "units_limit_exceeded",
    "team_not_found",
    "campaign_not_live",
    "team_full",
    "already_joined",
    "join_limit_reached",
    "allotment_sold_out",
    "team_formed",
    "team_closed",
    "team_expired",
)


def money_or_none(value: money_pb2.Money) -> Money | None:
    """A price the campaign may leave unset (zero) as null."""
    return Money.from_pb(value) if value.fen else None


def optional_money(fen: int | None) -> money_pb2.Money | None:
    return to_pb(fen) if fen is not None else None


# ── campaigns ──────────────────────────────────────────────────────────────────────────────────


class NewLimits(RequestBody):
    """Per-user limits; an omitted one takes the service's default."""

    teams_opened: JsonInt | None = Field(
        None, ge=1, le=100, description="Teams a user may lead at a time (still forming). Default 1.", examples=[1]
    )
    teams_joined: JsonInt | None = Field(
        None, ge=1, le=100, description="Seats a user may hold in this campaign. Default 3.", examples=[3]
    )
    units_per_order: JsonInt | None = Field(
        None, ge=1, le=MAX_UNITS, description="Units per seat or solo order. Default 1.", examples=[2]
    )


class NewCampaign(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    group_price_fen: JsonInt = Field(..., gt=0, le=MAX_FEN, description="Must be below the SKU price.", examples=[1490])
    team_size: JsonInt = Field(..., ge=2, le=50, examples=[3])
    expiry_hours: JsonInt | None = Field(
        None, ge=1, le=72, description="How long a team has to fill once its leader paid. Default 24.", examples=[24]
    )
    leader_price_fen: JsonInt | None = Field(
        None,
        gt=0,
        le=MAX_FEN,
        description=(
            "团长价 for the seat that opens a team; a member who becomes leader later keeps the group price. "
            "Omit: the group price."
        ),
        examples=[1290],
    )
    solo_price_fen: JsonInt | None = Field(
        None, gt=0, le=MAX_FEN, description="Sells alone at this price too; omit: no solo purchase.", examples=[1790]
    )
    seat_allotment: JsonInt | None = Field(
        None, ge=1, le=1_000_000, description="Seats the whole campaign may sell. Default 1000.", examples=[1000]
    )
    start_time: JsonDateTime | None = Field(
        None, description="Omit: live as soon as published.", examples=["2025-02-01T00:00:00Z"]
    )
    end_time: JsonDateTime | None = Field(
        None, description="After the start; omit: 30 days after the start.", examples=["2025-03-01T00:00:00Z"]
    )
    limits: NewLimits | None = None
    virtual_fill_percent: JsonInt | None = Field(
        None,
        ge=0,
        le=100,
        description="模拟成团: a team with this % of its seats paid at expiry forms anyway. 0 or omitted: off.",
        examples=[0],
    )
    distribution_enabled: bool = Field(
        False, description="Group orders earn store distribution commission.", examples=[False]
    )
    publish: bool = Field(False, description="Publish at once instead of leaving a draft.", examples=[False])


class Limits(BaseModel):
    """Per-user limits in force: the values the campaign was created with, defaults filled in."""

    teams_opened: int = Field(..., description="Teams a user may lead at a time (still forming).", examples=[1])
    teams_joined: int = Field(..., description="Seats a user may hold in this campaign.", examples=[3])
    units_per_order: int = Field(..., description="Units per seat or solo order.", examples=[2])


class Campaign(BaseModel):
    id: str = Field(..., examples=["cmp_6650a1f2c3d4e5f6a7b8c9d6"])
    owner_id: str = Field(..., examples=["u_42"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    group_price: Money
    leader_price: Money | None = Field(
        ...,
        description=(
            "团长价 of the seat that opened a team (fixed when it is claimed: a member who becomes leader later "
            "keeps the group price). Null: the opener pays the group price too."
        ),
    )
    solo_price: Money | None = Field(..., description="Null: no solo purchase.")
    team_size: int = Field(..., examples=[3])
    expiry_hours: int = Field(..., examples=[24])
    seat_allotment: int = Field(..., description="Seats the whole campaign may sell.", examples=[1000])
    seats_claimed: int = Field(..., description="Seats held or paid so far.", examples=[17])
    limits: Limits
    virtual_fill_percent: int = Field(..., description="0: off (no 模拟成团).", examples=[0])
    distribution_enabled: bool = Field(..., examples=[False])
    status: str = Field(..., description=CAMPAIGN_STATUSES, examples=["live"])
    start_time: datetime | None = Field(..., examples=["2025-02-01T00:00:00Z"])
    end_time: datetime | None = Field(..., examples=["2025-03-01T00:00:00Z"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, campaign: pb.Campaign) -> Campaign:
        return cls(
            id=campaign.id,
            owner_id=campaign.owner_id,
            sku_id=campaign.sku_id,
            group_price=Money.from_pb(campaign.group_price),
            leader_price=money_or_none(campaign.leader_price),
            solo_price=money_or_none(campaign.solo_price),
            team_size=campaign.team_size,
            expiry_hours=campaign.expiry_hours,
            seat_allotment=campaign.seat_allotment,
            seats_claimed=campaign.seats_claimed,
            limits=Limits(
                teams_opened=campaign.limits.teams_opened,
                teams_joined=campaign.limits.teams_joined,
                units_per_order=campaign.limits.units_per_order,
            ),
            virtual_fill_percent=campaign.virtual_fill_percent,
            distribution_enabled=campaign.distribution_enabled,
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
            "invalid_schedule",
            "invalid_leader_price",
            "invalid_solo_price",
            "invalid_allotment",
            "group_price_not_below_price",
            "role_required",
            "not_sku_owner",
            "sku_not_sellable",
            "sku_not_found",
        ),
    },
    summary="Create a 拼团 campaign for one of the caller's SKUs, as a draft or published (role brand or admin)",
    description="Prices must be below the SKU's price; terms are frozen once published.",
)
async def create_campaign(body: NewCampaign, rpc: BrandOrAdmin) -> Campaign:
    limits = body.limits or NewLimits()
    request = pb.CreateCampaignRequest(
        sku_id=body.sku_id,
        group_price=to_pb(body.group_price_fen),
        team_size=body.team_size,
        expiry_hours=body.expiry_hours or 0,
        leader_price=optional_money(body.leader_price_fen),
        solo_price=optional_money(body.solo_price_fen),
        seat_allotment=body.seat_allotment or 0,
        start_time=timestamp_of(body.start_time),
        end_time=timestamp_of(body.end_time),
        limits=pb.UserLimits(
            teams_opened=limits.teams_opened or 0,
            teams_joined=limits.teams_joined or 0,
            units_per_order=limits.units_per_order or 0,
        ),
        virtual_fill_percent=body.virtual_fill_percent or 0,
        distribution_enabled=body.distribution_enabled,
        publish=body.publish,
    )
    reply = await rpc.groupbuy("CreateCampaign", request)
    return Campaign.from_pb(reply.campaign)


@router.post(
    "/campaigns/{campaign_id}/publish",
    responses={
        **errors.NEEDS_ROLE,
        **errors.WRITE,
        # publishing checks the dates again: an end time passed since is the state's fault, a 409
        **errors.refusals(
            {**REFUSALS, "invalid_schedule": (409, "the campaign's end time has passed")},
            "role_required",
            "not_campaign_owner",
            "campaign_not_found",
            "campaign_not_draft",
            "invalid_schedule",
        ),
    },
    summary="Publish a draft campaign: scheduled or live, terms frozen (role brand or admin: its owner)",
    description=(
        "A draft created without dates runs from now for 30 days; one whose end time has passed is a 409 "
        "`invalid_schedule`."
    ),
)
async def publish_campaign(campaign_id: CampaignId, rpc: BrandOrAdmin) -> Campaign:
    reply = await rpc.groupbuy("PublishCampaign", pb.PublishCampaignRequest(campaign_id=campaign_id))
    return Campaign.from_pb(reply.campaign)


@router.post(
    "/campaigns/{campaign_id}/end",
    responses={
        **errors.NEEDS_ROLE,
        **errors.WRITE,
        **refusing("role_required", "not_campaign_owner", "campaign_not_found", "campaign_not_published"),
    },
    summary="End a campaign: no new teams or seats; forming teams run to their expiry (role brand or admin: its owner)",
    description="A draft has nothing to end: 409 `campaign_not_published`.",
)
async def end_campaign(campaign_id: CampaignId, rpc: BrandOrAdmin) -> Campaign:
    reply = await rpc.groupbuy("EndCampaign", pb.EndCampaignRequest(campaign_id=campaign_id))
    return Campaign.from_pb(reply.campaign)


@router.get(
    "/campaigns",
    responses={**errors.NEEDS_TOKEN, **refusing("invalid_cursor")},
    openapi_extra=OPTIONAL_TOKEN,
    summary="Campaigns, newest first (public; with a token also the caller's own drafts)",
)
async def list_campaigns(
    rpc: MaybeSignedIn,
    cursor: Cursor = None,
    limit: Limit = 20,
    sku_id: SkuFilter = None,
    status: Annotated[
        CampaignStatus | None, Query(description="Only campaigns in this state.", examples=["live"])
    ] = None,
) -> Page[Campaign]:
    request = pb.ListCampaignsRequest(
        page=page_of(cursor, limit),
        sku_id=sku_id or "",
        status=status_filter(status),
    )
    reply = await rpc.groupbuy("ListCampaigns", request)
    return Page[Campaign](
        items=[Campaign.from_pb(c) for c in reply.campaigns], next_cursor=reply.page.next_cursor or None
    )


@router.get(
    "/campaigns/{campaign_id}",
    responses={**errors.NEEDS_TOKEN, **refusing("campaign_not_found")},
    openapi_extra=OPTIONAL_TOKEN,
    summary="A campaign (public; a draft only with its owner's or an admin's token)",
)
async def get_campaign(campaign_id: CampaignId, rpc: MaybeSignedIn) -> Campaign:
    reply = await rpc.groupbuy("GetCampaign", pb.GetCampaignRequest(campaign_id=campaign_id))
    return Campaign.from_pb(reply.campaign)


# ── the fission funnel ─────────────────────────────────────────────────────────────────────────


class FunnelCounts(BaseModel):
    """In `totals`, the campaign's; in `inviters[]`, one inviter's: their own shares and opened teams,
    and the joins their share codes brought."""

    shares: int = Field(..., description="Share codes made.", examples=[120])
    opens: int = Field(..., description="Teams opened.", examples=[40])
    joins: int = Field(
        ..., description="Joins, one per person and team however often they left and joined again.", examples=[75]
    )
    paid: int = Field(
        ..., description="Seats paid, one per person and team (per inviter: of the joins they brought).", examples=[90]
    )
    formed: int = Field(
        ...,
        description=(
            "In `totals`, teams formed. Per inviter, the members they brought in whose team formed with them (their "
            "seat paid and counted): members, not teams, so two invitees in one formed team count 2."
        ),
        examples=[25],
    )

    @classmethod
    def from_pb(cls, counts: pb.FunnelCounts) -> FunnelCounts:
        return cls(shares=counts.shares, opens=counts.opens, joins=counts.joins, paid=counts.paid, formed=counts.formed)


class InviterFunnel(BaseModel):
    inviter_id: str = Field(..., examples=["u_42"])
    counts: FunnelCounts


class Funnel(BaseModel):
    totals: FunnelCounts
    inviters: list[InviterFunnel] = Field(..., description="The inviters whose share codes brought the most joins.")


@router.get(
    "/campaigns/{campaign_id}/funnel",
    responses={
        **errors.NEEDS_ROLE,
        **refusing("role_required", "not_campaign_owner", "campaign_not_found"),
    },
    summary="A campaign's shares, opens, joins, paid and formed, and its top inviters (role brand or admin: its owner)",
)
async def get_campaign_funnel(
    campaign_id: CampaignId,
    rpc: BrandOrAdmin,
    top_inviters: Annotated[int, Query(ge=1, le=100, description="How many inviters to rank.", examples=[20])] = 20,
) -> Funnel:
    request = pb.GetCampaignFunnelRequest(campaign_id=campaign_id, top_inviters=top_inviters)
    reply = await rpc.groupbuy("GetCampaignFunnel", request)
    return Funnel(
        totals=FunnelCounts.from_pb(reply.totals),
        inviters=[
            InviterFunnel(inviter_id=i.inviter_id, counts=FunnelCounts.from_pb(i.counts)) for i in reply.inviters
        ],
    )


# ── teams and seats ────────────────────────────────────────────────────────────────────────────


class Seat(BaseModel):
    team_id: str = Field(..., examples=["team_6650a1f2c3d4e5f6a7b8c9d7"])
    campaign_id: str = Field(..., examples=["cmp_6650a1f2c3d4e5f6a7b8c9d6"])
    user_id: str = Field(..., examples=["u_42"])
    seat_no: int = Field(..., description="1..team_size; the leader's seat is the lowest held.", examples=[1])
    leader: bool = Field(
        ...,
        description=(
            "The seat's holder leads the team now (the team's leader_id: its opener, then, when the leader leaves, "
            "the lowest seat still held). It does not set the price: see price."
        ),
        examples=[True],
    )
    status: str = Field(
        ...,
        description=(
            "held (claimed, not paid: released at hold_expires_at), paid, or released (gone: its order, if any, "
            "was cancelled or refunded; only in the caller's own seat list)."
        ),
        examples=["held"],
    )
    release_reason: str | None = Field(
        ...,
        description="For a released seat: left, hold_expired, order_cancelled or team_closed.",
        examples=[None],
    )
    team_status: str = Field(..., description="The seat's team's: forming, formed or failed.", examples=["forming"])
    quantity: int = Field(..., examples=[1])
    order_id: str | None = Field(
        ..., description="Null until the seat is ordered (POST /groupbuy/teams/{id}/order).", examples=[None]
    )
    price: Money = Field(
        ...,
        description=(
            "What the seat's order costs, × quantity: the leader price for the seat that opened the team (if the "
            "campaign sets one), else the group price. Fixed when the seat is claimed."
        ),
    )
    hold_expires_at: datetime | None = Field(
        ...,
        description=(
            "When a held seat is released unpaid: 30 minutes after its claim; once ordered, 40 minutes after the "
            "order (retail cancels an unpaid order after 30, which releases the seat first). Null unless held."
        ),
        examples=["2025-01-31T08:30:00Z"],
    )
    claimed_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    paid_at: datetime | None = Field(..., examples=[None])

    @classmethod
    def from_pb(cls, seat: pb.Seat) -> Seat:
        return cls(
            team_id=seat.team_id,
            campaign_id=seat.campaign_id,
            user_id=seat.user_id,
            seat_no=seat.seat_no,
            leader=seat.leader,
            status=enum_label(seat, "status", "SEAT_STATUS_"),
            release_reason=seat.release_reason or None,
            team_status=enum_label(seat, "team_status", "TEAM_STATUS_"),
            quantity=seat.quantity,
            order_id=seat.order_id or None,
            price=Money.from_pb(seat.price),
            hold_expires_at=datetime_of(seat, "hold_expires_at"),
            claimed_at=datetime_of(seat, "claimed_at"),
            paid_at=datetime_of(seat, "paid_at"),
        )


class Team(BaseModel):
    id: str = Field(..., examples=["team_6650a1f2c3d4e5f6a7b8c9d7"])
    campaign_id: str = Field(..., examples=["cmp_6650a1f2c3d4e5f6a7b8c9d6"])
    leader_id: str = Field(..., examples=["u_42"])
    team_size: int = Field(..., examples=[3])
    status: str = Field(..., description="forming, formed or failed.", examples=["forming"])
    seats_claimed: int = Field(..., description="Seats held or paid.", examples=[2])
    seats_paid: int = Field(..., examples=[1])
    expires_at: datetime | None = Field(
        ...,
        description=(
            "When the team fails if still short: the campaign's expiry_hours after the seat of its leader at the "
            "time is paid (a member who paid and then takes over the lead starts it, from their own payment). Null "
            "until then; once set, it keeps running when the lead passes on, whether the new leader paid or not."
        ),
        examples=["2025-02-01T08:05:00Z"],
    )
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    virtually_filled: bool = Field(..., description="Formed at expiry by 模拟成团.", examples=[False])
    failure_reason: str | None = Field(
        ..., description="Why a failed team failed: expired or leader_left; null otherwise.", examples=[None]
    )
    seats: list[Seat] = Field(
        ...,
        description=(
            "The seats held or paid, for a member (holding one now), the campaign's owner and admins; empty for "
            "anyone else, and always empty in the joinable-teams list (`GET /groupbuy/campaigns/{id}/teams`)."
        ),
    )

    @classmethod
    def from_pb(cls, team: pb.Team) -> Team:
        return cls(
            id=team.id,
            campaign_id=team.campaign_id,
            leader_id=team.leader_id,
            team_size=team.team_size,
            status=enum_label(team, "status", "TEAM_STATUS_"),
            seats_claimed=team.seats_claimed,
            seats_paid=team.seats_paid,
            expires_at=datetime_of(team, "expires_at"),
            created_at=datetime_of(team, "created_at"),
            virtually_filled=team.virtually_filled,
            failure_reason=team.failure_reason or None,
            seats=[Seat.from_pb(s) for s in team.seats],
        )


class TeamList(BaseModel):
    items: list[Team]


class OpenedTeam(BaseModel):
    team: Team
    seat: Seat = Field(..., description="The caller's seat: the leader's.")


class Units(RequestBody):
    quantity: JsonInt | None = Field(
        None, ge=1, le=MAX_UNITS, description="Units to buy; default 1, at most the campaign's limit.", examples=[1]
    )


def quantity_of(body: Units | None) -> int:
    """0 tells groupbuy to use 1."""
    return (body.quantity or 0) if body else 0


class JoinByCode(Units):
    share_code: str = Field(
        ...,
        min_length=1,
        max_length=32,
        pattern=SHARE_CODE_REGEX,
        description="From a shared link: the sharer is credited with the join.",
        examples=[SHARE_CODE_EXAMPLE],
    )


class TeamShare(BaseModel):
    share_code: str = Field(
        ..., description="The same code every time for one sharer and team.", examples=[SHARE_CODE_EXAMPLE]
    )


class SharedTeam(BaseModel):
    team: Team
    sharer_id: str = Field(..., description="Who shared it: joining through the code credits them.", examples=["u_42"])


class SoloOrder(BaseModel):
    order_id: str = Field(
        ..., description="A retail order to pay like any other.", examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"]
    )
    price: Money = Field(..., description="The solo price × quantity.")


@router.get(
    "/campaigns/{campaign_id}/teams",
    responses=refusing("campaign_not_found"),
    summary="A campaign's teams still forming, closest to forming first (public)",
    description=(
        "The top `limit` by seats taken, not pages: the ranking moves with every seat, so a cursor would "
        "skip or repeat teams; ask again for a fresh top. Empty unless the campaign is live; another "
        "brand's draft is a 404 `campaign_not_found`."
    ),
)
async def list_joinable_teams(
    campaign_id: CampaignId,
    rpc: Public,
    limit: Annotated[int, Query(ge=1, le=100, description="How many teams.", examples=[20])] = 20,
) -> TeamList:
    reply = await rpc.groupbuy("ListJoinableTeams", pb.ListJoinableTeamsRequest(campaign_id=campaign_id, limit=limit))
    return TeamList(items=[Team.from_pb(t) for t in reply.teams])


@router.post(
    "/campaigns/{campaign_id}/teams",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing(
            "units_limit_exceeded",
            "campaign_not_found",
            "campaign_not_live",
            "open_limit_reached",
            "allotment_sold_out",
        ),
    },
    summary="Open a team as its leader, claiming seat 1 (authenticated)",
    description="The seat is held, not bought: order it next (`POST /groupbuy/teams/{team_id}/order`).",
)
async def open_team(campaign_id: CampaignId, rpc: Authenticated, body: Units | None = None) -> OpenedTeam:
    request = pb.OpenTeamRequest(campaign_id=campaign_id, quantity=quantity_of(body))
    reply = await rpc.groupbuy("OpenTeam", request)
    return OpenedTeam(team=Team.from_pb(reply.team), seat=Seat.from_pb(reply.seat))


@router.post(
    "/campaigns/{campaign_id}/solo-order",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing_order(
            "units_limit_exceeded",
            "invalid_idempotency_key",
            "campaign_not_found",
            "campaign_not_live",
            "no_solo_price",
        ),
    },
    summary="Buy alone at the campaign's solo price (authenticated; Idempotency-Key advised)",
    description="A campaign without a solo price answers 409.",
)
async def place_solo_order(
    campaign_id: CampaignId, rpc: Authenticated, key: IdempotencyKey, body: Units | None = None
) -> SoloOrder:
    request = pb.PlaceSoloOrderRequest(campaign_id=campaign_id, quantity=quantity_of(body), idempotency_key=key or "")
    reply = await rpc.groupbuy("PlaceSoloOrder", request)
    return SoloOrder(order_id=reply.order_id, price=Money.from_pb(reply.price))


@router.post(
    "/teams/{team_id}/join",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing(*JOIN_REFUSALS),
    },
    summary="Claim a seat in a team (authenticated)",
    description="A full team is a 409 `team_full`. The seat is held, not bought: order it next.",
)
async def join_team(team_id: TeamId, rpc: Authenticated, body: Units | None = None) -> Seat:
    reply = await rpc.groupbuy("JoinTeam", pb.JoinTeamRequest(team_id=team_id, quantity=quantity_of(body)))
    return Seat.from_pb(reply.seat)


@router.post(
    "/join",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing("share_code_not_found", *JOIN_REFUSALS),
    },
    summary="Claim a seat in the team a share code points to, crediting its sharer (authenticated)",
)
async def join_team_by_code(body: JoinByCode, rpc: Authenticated) -> Seat:
    request = pb.JoinTeamRequest(share_code=body.share_code, quantity=quantity_of(body))
    reply = await rpc.groupbuy("JoinTeam", request)
    return Seat.from_pb(reply.seat)


@router.post(
    "/teams/{team_id}/order",
    status_code=201,
    responses={
        **errors.NEEDS_TOKEN,
        **errors.WRITE,
        **refusing_order("seat_not_found", "team_formed", "team_closed", "team_expired", "seat_released"),
    },
    summary="Order the caller's seat at its price (see Seat.price), once (authenticated; Idempotency-Key advised)",
    description="Pay the seat's `order_id` like any order (`POST /orders/{order_id}/payments`).",
)
async def place_seat_order(team_id: TeamId, rpc: Authenticated, _key: IdempotencyKey) -> Seat:
    reply = await rpc.groupbuy("PlaceSeatOrder", pb.PlaceSeatOrderRequest(team_id=team_id))
    return Seat.from_pb(reply.seat)


@router.post(
    "/teams/{team_id}/leave",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **refusing("seat_not_found", "team_formed", "team_closed")},
    summary="Give up the caller's seat before the team forms; a paid seat is refunded (authenticated)",
)
async def leave_team(team_id: TeamId, rpc: Authenticated) -> Team:
    reply = await rpc.groupbuy("LeaveTeam", pb.LeaveTeamRequest(team_id=team_id))
    return Team.from_pb(reply.team)


@router.get(
    "/teams/{team_id}",
    responses={**errors.NEEDS_TOKEN, **refusing("team_not_found")},
    openapi_extra=OPTIONAL_TOKEN,
    summary="A team: what a shared link opens (public; seats only with a member's, the owner's or an admin's token)",
    description=(
        "Without a token, or with the token of anyone but a member, the campaign's owner or an admin, `seats` is "
        "empty; the counts, the status and the clock are there for everyone."
    ),
)
async def get_team(team_id: TeamId, rpc: MaybeSignedIn) -> Team:
    reply = await rpc.groupbuy("GetTeam", pb.GetTeamRequest(team_id=team_id))
    return Team.from_pb(reply.team)


@router.post(
    "/teams/{team_id}/share",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **refusing("team_not_found", "team_formed", "team_closed")},
    summary="A share code for a team, crediting the caller with the joins it brings (authenticated)",
)
async def share_team(team_id: TeamId, rpc: Authenticated) -> TeamShare:
    reply = await rpc.groupbuy("ShareTeam", pb.ShareTeamRequest(team_id=team_id))
    return TeamShare(share_code=reply.share_code)


@router.get(
    "/shares/{share_code}",
    responses={**errors.NEEDS_TOKEN, **refusing("share_code_not_found")},
    openapi_extra=OPTIONAL_TOKEN,
    summary="What a share code opens: its team and who shared it (public; seats as for GET /teams/{team_id})",
    description="For a landing page opened from a shared link before anyone joins (`POST /groupbuy/join`).",
)
async def get_share(share_code: ShareCode, rpc: MaybeSignedIn) -> SharedTeam:
    reply = await rpc.groupbuy("GetShare", pb.GetShareRequest(share_code=share_code))
    return SharedTeam(team=Team.from_pb(reply.team), sharer_id=reply.sharer_id)


@router.get(
    "/me/seats",
    responses={**errors.NEEDS_TOKEN, **refusing("invalid_cursor")},
    summary="The caller's seats, newest first (authenticated)",
)
async def list_my_seats(rpc: Authenticated, cursor: Cursor = None, limit: Limit = 20) -> Page[Seat]:
    reply = await rpc.groupbuy("ListMySeats", pb.ListMySeatsRequest(page=page_of(cursor, limit)))
    return Page[Seat](items=[Seat.from_pb(s) for s in reply.seats], next_cursor=reply.page.next_cursor or None)


# ── paid orders ────────────────────────────────────────────────────────────────────────────────


class PaidOrder(BaseModel):
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    buyer_id: str = Field(..., examples=["u_42"])
    amount: Money
    group_team_id: str | None = Field(..., examples=["team_6650a1f2c3d4e5f6a7b8c9d7"])
    event_id: str = Field(..., description="The retail event this record came from.", examples=["evt_01"])
    recorded_at: datetime | None = Field(..., examples=["2025-01-31T08:05:01Z"])


@router.get(
    "/paid-orders/{order_id}",
    responses={**errors.NEEDS_TOKEN, **refusing("paid_order_not_found")},
    summary="What groupbuy recorded of a paid order (authenticated)",
)
async def get_paid_order(order_id: OrderId, rpc: Authenticated) -> PaidOrder:
    reply = await rpc.groupbuy("GetPaidOrder", pb.GetPaidOrderRequest(order_id=order_id))
    paid = reply.paid_order
    return PaidOrder(
        order_id=paid.order_id,
        buyer_id=paid.buyer_id,
        amount=Money.from_pb(paid.amount),
        group_team_id=paid.group_team_id or None,
        event_id=paid.event_id,
        recorded_at=datetime_of(paid, "recorded_at"),
    )
