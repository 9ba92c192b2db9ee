"""Campaign rules (拼团): what terms a group-buy campaign may have, and when it is live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mallkit import ids
from mallkit.errors import FailedPrecondition, InvalidArgument

MIN_TEAM_SIZE = 2
MAX_TEAM_SIZE = 50
DEFAULT_EXPIRY_HOURS = 24
MAX_EXPIRY_HOURS = 72
DEFAULT_ALLOTMENT = 1000
MAX_ALLOTMENT = 1_000_000
DEFAULT_DURATION = timedelta(days=30)
MAX_LIMIT = 100


class Stage(StrEnum):
    """What the owner decided; the status also depends on the clock."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ENDED = "ended"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


def status_at(stage: str, start: datetime, end: datetime, at: datetime) -> CampaignStatus:
    if stage == Stage.DRAFT:
        return CampaignStatus.DRAFT
    if stage == Stage.ENDED or at >= end:
        return CampaignStatus.ENDED
    return CampaignStatus.LIVE if at >= start else CampaignStatus.SCHEDULED


def require_live(status: CampaignStatus) -> None:
    if status != CampaignStatus.LIVE:
        raise FailedPrecondition(f"the campaign is {status}, not live", "campaign_not_live")


@dataclass(frozen=True)
class UserLimits:
    """Per user and campaign (BUSINESS_RULES): teams led at a time, seats in others' teams, units per seat."""

    teams_opened: int = 1
    teams_joined: int = 3
    units_per_order: int = 1

    def check_quantity(self, quantity: int) -> int:
        """0 means 1 unit."""
        quantity = quantity or 1
        if not 1 <= quantity <= self.units_per_order:
            raise InvalidArgument(
                f"a seat buys 1..{self.units_per_order} units in this campaign", "units_limit_exceeded"
            )
        return quantity


@dataclass(frozen=True)
class CampaignTerms:
    sku_id: str
    group_price_fen: int
    team_size: int
    expiry_hours: int
    leader_price_fen: int = 0
    solo_price_fen: int = 0
    seat_allotment: int = DEFAULT_ALLOTMENT
    start_time: datetime | None = None
    end_time: datetime | None = None
    limits: UserLimits = UserLimits()
    virtual_fill_percent: int = 0
    distribution_enabled: bool = False


def check_schedule(start_time: datetime | None, end_time: datetime | None, at: datetime) -> tuple[datetime, datetime]:
    """A campaign's start (default: now) and end (default: 30 days after the start), ending in the future."""
    start = start_time or at
    try:
        end = end_time or start + DEFAULT_DURATION
    except OverflowError:  # a start in the last days of year 9999
        raise InvalidArgument("the start time is too far in the future", "invalid_schedule") from None
    if end <= start or end <= at:
        raise InvalidArgument("the end time must be after the start time and in the future", "invalid_schedule")
    return start, end


def check_terms(terms: CampaignTerms, at: datetime) -> CampaignTerms:
    """The rules that need no other service; zeros mean the defaults. Returns complete terms."""
    if not ids.is_valid(terms.sku_id):
        raise InvalidArgument("sku_id is required", "invalid_sku_id")
    if terms.group_price_fen <= 0:
        raise InvalidArgument("the group price must be more than 0 fen", "invalid_group_price")
    if terms.leader_price_fen < 0 or terms.solo_price_fen < 0:
        raise InvalidArgument("leader and solo prices are 0 (none) or positive", "invalid_price")
    if terms.leader_price_fen > terms.group_price_fen:
        raise InvalidArgument("the leader price may not exceed the group price", "invalid_leader_price")
    if terms.solo_price_fen and terms.solo_price_fen <= terms.group_price_fen:
        raise InvalidArgument("the solo price must be above the group price", "invalid_solo_price")
    if not MIN_TEAM_SIZE <= terms.team_size <= MAX_TEAM_SIZE:
        raise InvalidArgument(f"a team has {MIN_TEAM_SIZE}..{MAX_TEAM_SIZE} members", "invalid_team_size")
    expiry_hours = terms.expiry_hours or DEFAULT_EXPIRY_HOURS
    if not 1 <= expiry_hours <= MAX_EXPIRY_HOURS:
        raise InvalidArgument(f"a team expires after 1..{MAX_EXPIRY_HOURS} hours", "invalid_expiry")
    allotment = terms.seat_allotment or DEFAULT_ALLOTMENT
    if not terms.team_size <= allotment <= MAX_ALLOTMENT:  # fewer seats than one team: none could form
        raise InvalidArgument(f"the seat allotment is team size..{MAX_ALLOTMENT}", "invalid_allotment")
    start, end = check_schedule(terms.start_time, terms.end_time, at)
    limits = UserLimits(
        terms.limits.teams_opened or 1, terms.limits.teams_joined or 3, terms.limits.units_per_order or 1
    )
    if not all(1 <= value <= MAX_LIMIT for value in (limits.teams_opened, limits.teams_joined, limits.units_per_order)):
        raise InvalidArgument(f"per-user limits are 1..{MAX_LIMIT}", "invalid_limits")
    if not 0 <= terms.virtual_fill_percent <= 100:
        raise InvalidArgument("virtual fill is 0 (off) or 1..100 percent", "invalid_virtual_fill")
    return CampaignTerms(
        sku_id=terms.sku_id,
        group_price_fen=terms.group_price_fen,
        team_size=terms.team_size,
        expiry_hours=expiry_hours,
        leader_price_fen=terms.leader_price_fen,
        solo_price_fen=terms.solo_price_fen,
        seat_allotment=allotment,
        start_time=start,
        end_time=end,
        limits=limits,
        virtual_fill_percent=terms.virtual_fill_percent,
        distribution_enabled=terms.distribution_enabled,
    )


def check_prices(terms: CampaignTerms, sku_price_fen: int) -> None:
    """A group price is a discount: strictly below the SKU's own price; a solo price at most that."""
    if terms.group_price_fen >= sku_price_fen:
        raise InvalidArgument(
            f"the group price {terms.group_price_fen} fen must be below the SKU price {sku_price_fen} fen",
            "group_price_not_below_price",
        )
    if terms.solo_price_fen > sku_price_fen:
        raise InvalidArgument("the solo price may not exceed the SKU price", "invalid_solo_price")
