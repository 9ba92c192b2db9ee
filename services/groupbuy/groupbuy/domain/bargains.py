"""Bargain rules (砍价): campaign terms, the cut algorithm, and who may help, buy or start.

Pure: no I/O. Randomness comes in as a `random.Random` so tests (and replays) can seed it.

Cut algorithm (BUSINESS_RULES.md, "Bargain"). Before cut k of N (k = 1..N):

    R = current − floor          what is still to be cut
    m = N − k                    helpers still to come after this one
    m == 0  →  cut = R           the N-th cut lands exactly on the floor
    else    →  cut = random integer in [max(1, ⌊0.2·(R − m)⌋), max(1, ⌊0.8·(R − m)⌋)]

Why it holds: a campaign needs R ≥ N before cut 1 (else `floor_too_close`), i.e. R ≥ m + 1 before
every cut. The upper bound is then at most R − m (⌊0.8·x⌋ ≤ x for x ≥ 1, and 1 = R − m when x = 1),
so at least 1 fen stays for each of the m later helpers and R ≥ m' + 1 holds again for the next
cut. Hence every cut is ≥ 1 fen, the price never goes below the floor, it reaches the floor
exactly at the N-th cut, and Σ cuts = original − final price.

New-user bonus: a new user's (non-final) cut is drawn from the upper half of that range,
[⌈(lo + hi) / 2⌉, hi]; the final cut is R as always, so the bonus never breaks the invariants.

The computations use integers only (⌊0.2·x⌋ = x // 5, ⌊0.8·x⌋ = 4·x // 5), so no float rounding
can move a bound.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from groupbuy.domain.campaigns import CampaignStatus, Stage, check_schedule, status_at
from mallkit import ids
from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

MIN_HELPERS = 1
MAX_HELPERS = 100
DEFAULT_EXPIRY_HOURS = 24
MAX_EXPIRY_HOURS = 168
DEFAULT_DAILY_HELP_LIMIT = 3
MAX_DAILY_HELP_LIMIT = 100


class BuyRule(StrEnum):
    ANY_PRICE = "any_price"  # buy at whatever the price has reached (the default)
    FLOOR_ONLY = "floor_only"  # buy only once the floor is reached


class BargainStatus(StrEnum):
    ACTIVE = "active"  # above the floor, open for cuts
    COMPLETED = "completed"  # at the floor after the N-th cut
    # internal: the initiator is buying; the price is frozen and no cut lands any more. Shown as
    # active or completed (by the helps) until the retail order is placed.
    ORDERING = "ordering"
    ORDERED = "ordered"  # the initiator placed the retail order
    EXPIRED = "expired"


# A user holds at most one open bargain per campaign: one in one of these states.
OPEN = (BargainStatus.ACTIVE, BargainStatus.COMPLETED, BargainStatus.ORDERING)
# What the expiry sweep closes at expires_at (an ORDERING bargain waits for its buyer's retry or its
# order's events instead, and expires only once stranded: service.bargains._stranded).
EXPIRABLE = (BargainStatus.ACTIVE, BargainStatus.COMPLETED)


# ── campaigns ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class BargainTerms:
    sku_id: str
    original_price_fen: int
    floor_price_fen: int
    helpers_needed: int
    expiry_hours: int = 0  # 0: the default
    buy_rule: BuyRule | None = None  # None: the default
    daily_help_limit: int = 0  # 0: the default
    new_users_only: bool = False
    new_user_bonus: bool = False
    start_time: datetime | None = None
    end_time: datetime | None = None


def check_terms(terms: BargainTerms, at: datetime) -> BargainTerms:
    """The rules that need no other service; zeros and Nones mean the defaults. Returns complete terms."""
    if not ids.is_valid(terms.sku_id):
        raise InvalidArgument("sku_id is required", "invalid_sku_id")
    if terms.original_price_fen <= 0:
        raise InvalidArgument("the original price must be more than 0 fen", "invalid_original_price")
    if terms.floor_price_fen < 1:
        raise InvalidArgument("the floor price must be at least 1 fen", "invalid_floor_price")
    if terms.floor_price_fen >= terms.original_price_fen:
        raise InvalidArgument("the floor price must be below the original price", "invalid_floor_price")
    if not MIN_HELPERS <= terms.helpers_needed <= MAX_HELPERS:
        raise InvalidArgument(f"a bargain needs {MIN_HELPERS}..{MAX_HELPERS} helpers", "invalid_helpers_needed")
    if terms.original_price_fen - terms.floor_price_fen < terms.helpers_needed:
        raise InvalidArgument(
            f"original − floor is {terms.original_price_fen - terms.floor_price_fen} fen, less than 1 fen for "
            f"each of the {terms.helpers_needed} helpers",
            "floor_too_close",
        )
    expiry_hours = terms.expiry_hours or DEFAULT_EXPIRY_HOURS
    if not 1 <= expiry_hours <= MAX_EXPIRY_HOURS:
        raise InvalidArgument(f"a bargain expires after 1..{MAX_EXPIRY_HOURS} hours", "invalid_expiry")
    daily = terms.daily_help_limit or DEFAULT_DAILY_HELP_LIMIT
    if not 1 <= daily <= MAX_DAILY_HELP_LIMIT:
        raise InvalidArgument(f"the daily help limit is 1..{MAX_DAILY_HELP_LIMIT}", "invalid_daily_help_limit")
    start, end = check_schedule(terms.start_time, terms.end_time, at)
    return replace(
        terms,
        expiry_hours=expiry_hours,
        buy_rule=terms.buy_rule or BuyRule.ANY_PRICE,
        daily_help_limit=daily,
        start_time=start,
        end_time=end,
    )


def check_original_price(terms: BargainTerms, sku_price_fen: int) -> None:
    """A bargain starts at most at the SKU's own price."""
    if terms.original_price_fen > sku_price_fen:
        raise InvalidArgument(
            f"the original price {terms.original_price_fen} fen may not exceed the SKU price {sku_price_fen} fen",
            "original_above_price",
        )


def campaign_status(start: datetime, end: datetime, at: datetime) -> CampaignStatus:
    """A bargain campaign has no draft: it is scheduled, live or ended by the clock alone."""
    return status_at(Stage.PUBLISHED, start, end, at)


# ── the cut ─────────────────────────────────────────────────────────────────────────────────


def cut_range(remaining_fen: int, seq: int, helpers_needed: int, *, bonus: bool = False) -> tuple[int, int]:
    """The inclusive range cut number `seq` (1..N) is drawn from, `remaining_fen` = current − floor.

    See the module docstring; the final cut's range is (R, R)."""
    if not 1 <= seq <= helpers_needed:
        raise ValueError(f"cut {seq} of {helpers_needed} does not exist")
    later = helpers_needed - seq  # m
    if remaining_fen < later + 1:
        raise ValueError(f"{remaining_fen} fen cannot be cut {later + 1} more times")
    if later == 0:
        return remaining_fen, remaining_fen
    spread = remaining_fen - later  # R − m ≥ 1
    low, high = max(1, spread // 5), max(1, 4 * spread // 5)
    if bonus:
        low = (low + high + 1) // 2
    return low, high


def next_cut(
    current_fen: int, floor_fen: int, seq: int, helpers_needed: int, rng: random.Random, *, bonus: bool = False
) -> int:
    """The cut of help number `seq` (1..N): BUSINESS_RULES' algorithm, drawn with `rng`."""
    low, high = cut_range(current_fen - floor_fen, seq, helpers_needed, bonus=bonus)
    return low if low == high else rng.randint(low, high)


# ── bargains ────────────────────────────────────────────────────────────────────────────────


def is_past(expires_at: datetime, at: datetime) -> bool:
    return at >= expires_at


def shown_status(status: str, helps: int, helpers_needed: int, expires_at: datetime, at: datetime) -> BargainStatus:
    """What a reader sees: expired as soon as the clock passes expires_at (before the sweep runs),
    and a bargain being bought as active or completed by its helps."""
    if status in EXPIRABLE and is_past(expires_at, at):
        return BargainStatus.EXPIRED
    if status == BargainStatus.ORDERING:
        return BargainStatus.COMPLETED if helps >= helpers_needed else BargainStatus.ACTIVE
    return BargainStatus(status)


def check_can_be_helped(status: str, expires_at: datetime, at: datetime) -> None:
    """Only an active bargain before its expiry takes cuts."""
    if status == BargainStatus.EXPIRED or (status in EXPIRABLE and is_past(expires_at, at)):
        raise FailedPrecondition("the bargain has expired", "bargain_expired")
    if status != BargainStatus.ACTIVE:
        raise FailedPrecondition(f"the bargain takes no more cuts (it is {status})", "bargain_finished")


def check_not_helped(helper_id: str, helper_ids: list[str]) -> None:
    if helper_id in helper_ids:
        raise FailedPrecondition("you already helped this bargain", "already_helped")


def check_new_user(is_new: bool) -> None:
    """new_users_only: a new user is one who never helped any bargain and never started one."""
    if not is_new:
        raise PermissionDenied(
            "only new users (who never helped or started a bargain) may help this bargain", "not_allowed_to_help"
        )


def check_can_buy(buy_rule: str, status: str, expires_at: datetime, at: datetime) -> None:
    """floor_only: completed only; any_price: active or completed. Never after expiry."""
    if status == BargainStatus.EXPIRED or (status in EXPIRABLE and is_past(expires_at, at)):
        raise FailedPrecondition("the bargain has expired", "bargain_expired")
    if status not in EXPIRABLE:
        raise FailedPrecondition(f"a {status} bargain cannot be bought", "bargain_not_buyable")
    if buy_rule == BuyRule.FLOOR_ONLY and status != BargainStatus.COMPLETED:
        raise FailedPrecondition("this bargain is sold only at the floor price", "floor_not_reached")


def check_initiator(initiator_id: str, user_id: str) -> None:
    """Only the initiator buys (anyone may see a bargain: it is what a shared link opens)."""
    if initiator_id != user_id:
        raise PermissionDenied("only the bargain's initiator buys it", "not_initiator")
