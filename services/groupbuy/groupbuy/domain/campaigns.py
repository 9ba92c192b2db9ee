"""Campaign rules (拼团): what terms a group-buy campaign may have."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mallkit import ids
from mallkit.errors import InvalidArgument

MIN_TEAM_SIZE = 2
MAX_TEAM_SIZE = 50
DEFAULT_EXPIRY_HOURS = 24
MAX_EXPIRY_HOURS = 72


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    ENDED = "ended"


@dataclass(frozen=True)
class CampaignTerms:
    sku_id: str
    group_price_fen: int
    team_size: int
    expiry_hours: int


def check_terms(sku_id: str, group_price_fen: int, team_size: int, expiry_hours: int) -> CampaignTerms:
    """The rules that need no other service; an expiry of 0 means the default."""
    if not ids.is_valid(sku_id):
        raise InvalidArgument("sku_id is required", "invalid_sku_id")
    if group_price_fen <= 0:
        raise InvalidArgument("the group price must be more than 0 fen", "invalid_group_price")
    if not MIN_TEAM_SIZE <= team_size <= MAX_TEAM_SIZE:
        raise InvalidArgument(f"a team has {MIN_TEAM_SIZE}..{MAX_TEAM_SIZE} members", "invalid_team_size")
    if expiry_hours == 0:
        expiry_hours = DEFAULT_EXPIRY_HOURS
    if not 1 <= expiry_hours <= MAX_EXPIRY_HOURS:
        raise InvalidArgument(f"a team expires after 1..{MAX_EXPIRY_HOURS} hours", "invalid_expiry")
    return CampaignTerms(sku_id, group_price_fen, team_size, expiry_hours)


def check_group_price(terms: CampaignTerms, sku_price_fen: int) -> None:
    """A group price is a discount: strictly below the SKU's own price."""
    if terms.group_price_fen >= sku_price_fen:
        raise InvalidArgument(
            f"the group price {terms.group_price_fen} fen must be below the SKU price {sku_price_fen} fen",
            "group_price_not_below_price",
        )
