"""Team and seat rules (拼团): prices, holds, expiry, who leads, how a team ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from groupbuy.domain.paid_orders import stored_key
from mallkit.errors import FailedPrecondition, InvalidArgument

# An unpaid seat is held as long as its retail order may be paid (retail's payment timeout).
SEAT_HOLD = timedelta(minutes=30)
# Once the seat has its order, retail's cancellation at that timeout (order_cancelled) releases it;
# the hold becomes a backstop that waits this much longer, so a payment made in the last second,
# whose order_paid is still on its way, is never released (and refunded) by the hold instead.
ORDERED_SEAT_GRACE = timedelta(minutes=10)


class TeamStatus(StrEnum):
    FORMING = "forming"
    FORMED = "formed"
    FAILED = "failed"


class SeatStatus(StrEnum):
    HELD = "held"
    PAID = "paid"
    RELEASED = "released"


class SeatKind(StrEnum):
    OPENED = "o"  # the leader opened the team: counts against teams_opened while it forms
    JOINED = "j"  # counts against teams_joined


class ReleaseReason(StrEnum):
    LEFT = "left"
    HOLD_EXPIRED = "hold_expired"
    ORDER_CANCELLED = "order_cancelled"
    TEAM_CLOSED = "team_closed"
    # the team closed between the gate's grant and the seat's insert: the join was refused
    JOIN_REFUSED = "join_refused"


class FailureReason(StrEnum):
    EXPIRED = "expired"
    LEADER_LEFT = "leader_left"


ACTIVE_SEATS = (SeatStatus.HELD, SeatStatus.PAID)


def seat_price_fen(group_price_fen: int, leader_price_fen: int, leader: bool, quantity: int) -> int:
    """The seat order's total: the leader price for the leader's seat if the campaign sets one."""
    unit = leader_price_fen if leader and leader_price_fen else group_price_fen
    return unit * quantity


def hold_expires_at(claimed_at: datetime) -> datetime:
    return claimed_at + SEAT_HOLD


def ordered_hold_expires_at(ordered_at: datetime) -> datetime:
    return ordered_at + SEAT_HOLD + ORDERED_SEAT_GRACE


def expires_at(leader_paid_at: datetime, expiry_hours: int) -> datetime:
    """A team expires `expiry_hours` after its leader's seat is paid (BUSINESS_RULES)."""
    return leader_paid_at + timedelta(hours=expiry_hours)


def virtual_fill_needed(team_size: int, percent: int) -> int:
    """Paid seats a team needs at expiry to complete by virtual fill: ceil(percent% × size)."""
    return -(-team_size * percent // 100)


@dataclass(frozen=True)
class Outcome:
    formed: bool
    virtually_filled: bool


def outcome_at_expiry(team_size: int, paid: int, virtual_fill_percent: int) -> Outcome:
    """Size 4, 40 %: needs ceil(1.6) = 2 paid — 2 paid completes (virtual), 1 paid fails."""
    if paid >= team_size:
        return Outcome(formed=True, virtually_filled=False)
    if virtual_fill_percent and paid and paid >= virtual_fill_needed(team_size, virtual_fill_percent):
        return Outcome(formed=True, virtually_filled=True)
    return Outcome(formed=False, virtually_filled=False)


def closed_refusal(status: str) -> FailedPrecondition:
    """Why a team that is no longer forming takes no one: it formed, or it closed otherwise."""
    if status == TeamStatus.FORMED:
        return FailedPrecondition("the team has already formed", "team_formed")
    return FailedPrecondition("the team has closed", "team_closed")


def require_forming(status: str) -> None:
    if status != TeamStatus.FORMING:
        raise closed_refusal(status)


def require_open(status: str, expires: datetime | None, at: datetime) -> None:
    require_forming(status)
    if expires is not None and at >= expires:
        raise FailedPrecondition("the team has expired", "team_expired")


# Keys of a seat's places (see documents/teams.py); a seat gives a place back by setting its key to x:<seat id>.


def member_key(team_id: str, user_id: str) -> str:
    return f"{team_id}:{user_id}"


def place_key(team_id: str, seat_no: int) -> str:
    return f"{team_id}:{seat_no}"


def allot_key(campaign_id: str, slot: int) -> str:
    return f"{campaign_id}:{slot}"


def quota_key(campaign_id: str, user_id: str, quota: str) -> str:
    """`quota` is the user's slot in the gate: o<k> (k-th team led) or j<k> (k-th team joined)."""
    return f"{campaign_id}:{user_id}:{quota}"


def seat_order_key(seat_id: str) -> str:
    """The idempotency key a seat's retail order is placed under."""
    return f"seat:{seat_id}"


def seat_of_order_key(order_key: str, service: str) -> str:
    """The seat an order was placed for, read from the key retail stored for it
    (`<service>/seat:<seat id>`); "" for any other order."""
    prefix = stored_key(service, seat_order_key(""))
    return order_key.removeprefix(prefix) if order_key.startswith(prefix) else ""


def given_back(seat_id: str) -> str:
    return f"x:{seat_id}"


def slot_of(allot_key: str) -> int | None:
    """The allotment slot an allot_key holds; None once given back."""
    return None if allot_key.startswith("x:") else int(allot_key.rsplit(":", 1)[1])


def quota_of(quota_key: str) -> str:
    """The per-user quota slot a quota_key holds; "" once given back."""
    return "" if quota_key.startswith("x:") else quota_key.rsplit(":", 1)[1]


RETAIL_MAX_IDEMPOTENCY_KEY = 128  # what retail's CreateOrder accepts


def solo_order_key(campaign_id: str, idempotency_key: str) -> str:
    """Retail's order key for a solo purchase: the caller's key scoped to the campaign ("" for none)."""
    scope = f"solo:{campaign_id}:"
    if len(scope) + len(idempotency_key) > RETAIL_MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument(
            f"idempotency key is longer than {RETAIL_MAX_IDEMPOTENCY_KEY - len(scope)} characters",
            "invalid_idempotency_key",
        )
    return scope + idempotency_key if idempotency_key else ""
