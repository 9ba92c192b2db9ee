"""What happens to a team after its seats are taken: payments, releases, forming, expiry.

Every step is one conditional single-document write, so events delivered twice and workers
racing each other change nothing twice:
- a seat goes held → paid or held/paid → released once (conditional on its status);
- a paid seat joins its team's `paid_seats` once, and the write that adds the last one also forms
  the team (conditional on the list's size), so a team forms exactly when every seat is paid;
- a paid seat that leaves a forming team is moved to `left_seats` in one write, and a count is
  conditional on the seat not being there, so a count racing the leave cannot put it back;
- a team goes forming → formed/failed once, carrying team_formed/team_failed in the same write.
Retail voids (cancels or refunds) the orders that team_failed and seat_released name.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from groupbuy.config import SERVICE
from groupbuy.documents import Campaign, Seat, Team
from groupbuy.domain import teams as rules
from groupbuy.domain.teams import (
    ACTIVE_SEATS,
    FailureReason,
    ReleaseReason,
    SeatKind,
    SeatStatus,
    TeamStatus,
    quota_of,
    slot_of,
)
from groupbuy.service.seat_gate import Claim, SeatGate
from mallkit import sweeps
from mallkit.clock import now
from mallkit.events import new_event

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 50
# A team closed this long ago whose seats are still unsettled was left so by a crash.
SETTLE_GRACE = timedelta(minutes=1)


def team_event(type_: str, team: Team, **extra: Any) -> dict:
    return new_event(SERVICE, type_, {"team_id": team.id, "campaign_id": team.campaign_id, **extra})


def seat_event(type_: str, seat: Seat, **extra: Any) -> dict:
    data = {"team_id": seat.team_id, "campaign_id": seat.campaign_id, "user_id": seat.user_id, **extra}
    return new_event(SERVICE, type_, data)


def _orders(seat_ids: list[str]) -> list[str]:
    return [s.order_id for s in Seat.objects(id__in=seat_ids).only("order_id") if s.order_id]


def claim_of(seat: Seat) -> Claim:
    """What the seat holds in the gate (slot 0 / quota "" for places already given back)."""
    return Claim(seat.campaign_id, seat.team_id, seat.user_id, seat.seat_no, slot_of(seat.allot_key) or 0,
                 quota_of(seat.quota_key))  # fmt: skip


# ── releasing a seat ────────────────────────────────────────────────────────────────────────


def release_seat(gate: SeatGate, seat: Seat, reason: ReleaseReason, *, team_must_form: bool = True) -> bool:
    """Release an active seat; True if this call released it.

    A paid seat is first moved off its team's paid seats (to `left_seats`), so the team cannot form
    around a seat that is leaving, even one whose count is still on its way. With `team_must_form`,
    a paid seat of a team that has closed stays (its team formed with it); without, it goes anyway
    (paid after its team closed: retail refunds it).
    """
    if seat.status == SeatStatus.PAID and not Team.objects(id=seat.team_id, status=TeamStatus.FORMING).update_one(
        pull__paid_seats=seat.id, add_to_set__left_seats=seat.id
    ):
        team = Team.objects.get(id=seat.team_id)
        if team.status != TeamStatus.FORMING and team_must_form:
            return False
    gone = rules.given_back(seat.id)
    event = seat_event(
        "seat_released", seat, order_id=seat.order_id, reason=reason, paid=seat.status == SeatStatus.PAID
    )
    # conditional on the order too: a seat read before its order was linked would name no order
    if not Seat.objects(id=seat.id, status=seat.status, order_id=seat.order_id).update_one(
        set__status=SeatStatus.RELEASED,
        set__released_at=now(),
        set__release_reason=reason,
        set__member_key=gone,
        set__place_key=gone,
        set__allot_key=gone,
        set__quota_key=gone,
        push__outbox=event,
    ):
        return False
    gate.give_back(claim_of(seat))
    log.info("seat %s of team %s released (%s)", seat.id, seat.team_id, reason)
    ensure_leader(gate, seat.team_id)
    return True


def ensure_leader(gate: SeatGate, team_id: str) -> None:
    """The leader is the lowest seat still held; a team left with no member is cancelled."""
    team = Team.objects.get(id=team_id)
    if team.status != TeamStatus.FORMING:
        return
    seats = list(Seat.objects(team_id=team.id, status__in=list(ACTIVE_SEATS)).order_by("seat_no"))
    if not seats:  # closed like every team: settling releases whatever joined in between
        event = team_event("team_failed", team, reason=FailureReason.LEADER_LEFT, order_ids=[])
        forming = Team.objects(id=team.id, status=TeamStatus.FORMING)
        _close(gate, team.id, forming, TeamStatus.FAILED, event, set__failure_reason=FailureReason.LEADER_LEFT)
        return
    if any(s.user_id == team.leader_id for s in seats):
        return
    successor = seats[0]
    if Team.objects(id=team.id, status=TeamStatus.FORMING, leader_id=team.leader_id).update_one(
        set__leader_id=successor.user_id
    ):
        log.info("team %s: %s leads now", team.id, successor.user_id)
        _clock_if_leader(gate, successor.reload())  # read after the write: it may be paid by now


def _clock_if_leader(gate: SeatGate, seat: Seat) -> None:
    """Start the team's clock if `seat` is its leader's and paid (and the clock has not started).

    Called after both writes that can make it so (the seat counted as paid, a new leader named),
    each reading the other's document afresh: whichever of the two lands second starts the clock."""
    if seat.status != SeatStatus.PAID:
        return
    team = Team.objects.only("campaign_id", "leader_id", "status", "expires_at").get(id=seat.team_id)
    if team.status == TeamStatus.FORMING and team.leader_id == seat.user_id and team.expires_at is None:
        campaign = Campaign.objects.only("expiry_hours").get(id=team.campaign_id)
        expires = rules.expires_at(seat.paid_at, campaign.expiry_hours)
        if Team.objects(id=team.id, expires_at=None).update_one(set__expires_at=expires):
            gate.set_expiry(team.campaign_id, team.id, expires)


# ── retail's order events ───────────────────────────────────────────────────────────────────


def seat_paid(gate: SeatGate, order_id: str) -> bool:
    """retail.order_paid for a seat's order: the seat is paid, and the team forms if it was the last."""
    seat = Seat.objects(order_id=order_id).first()
    if seat is None:
        log.warning("order %s is attributed to a team but no seat has it", order_id)
        return False
    if Seat.objects(id=seat.id, status=SeatStatus.HELD).update_one(set__status=SeatStatus.PAID, set__paid_at=now()):
        seat.reload()
    elif seat.status != SeatStatus.PAID:
        # paid after the seat was released: retail voids the order on seat_released
        log.info("order %s was paid for released seat %s", order_id, seat.id)
        return False
    return _count_paid(gate, seat)


def _count_paid(gate: SeatGate, seat: Seat) -> bool:
    """Add a paid seat to its team (once); the write that adds the last seat forms the team."""
    for _ in range(CAS_ATTEMPTS):
        team = Team.objects.get(id=seat.team_id)
        if seat.id in team.paid_seats:
            _clock_if_leader(gate, seat)  # a redelivery after a crash between the count and the clock
            return False
        if seat.id in team.left_seats:
            return False
        if team.status != TeamStatus.FORMING:
            release_seat(gate, seat, ReleaseReason.TEAM_CLOSED, team_must_form=False)
            return False
        paid = len(team.paid_seats)
        if paid + 1 >= team.team_size:
            event = team_event(
                "team_formed", team, order_ids=_orders([*team.paid_seats, seat.id]), virtually_filled=False
            )
            query = Team.objects(id=team.id, status=TeamStatus.FORMING, paid_seats__size=paid, left_seats__ne=seat.id)
            if _close(gate, team.id, query, TeamStatus.FORMED, event, push__paid_seats=seat.id):
                log.info("team %s formed", team.id)
                return True
        elif Team.objects(
            id=team.id, status=TeamStatus.FORMING, paid_seats__size=paid, left_seats__ne=seat.id
        ).update_one(push__paid_seats=seat.id):
            _clock_if_leader(gate, seat)
            return True
    raise RuntimeError(f"team {seat.team_id}: too many concurrent changes to count seat {seat.id}")


def order_cancelled(gate: SeatGate, order_id: str) -> bool:
    """retail cancelled a seat's unpaid order (payment timeout): the seat goes."""
    seat = Seat.objects(order_id=order_id, status=SeatStatus.HELD).first()
    return seat is not None and release_seat(gate, seat, ReleaseReason.ORDER_CANCELLED)


def order_refunded(gate: SeatGate, order_id: str) -> bool:
    """A paid seat refunded in full before its team formed is no longer in the team."""
    seat = Seat.objects(order_id=order_id, status=SeatStatus.PAID).first()
    return seat is not None and release_seat(gate, seat, ReleaseReason.LEFT)


# ── clocks ──────────────────────────────────────────────────────────────────────────────────


def release_expired_holds(gate: SeatGate, limit: int = 200) -> int:
    """Unpaid seats past their hold go, freeing their places (and voiding any unpaid order)."""
    due = Seat.objects(status=SeatStatus.HELD, hold_expires_at__lte=now()).limit(limit)
    return sweeps.each(due, lambda seat: release_seat(gate, seat, ReleaseReason.HOLD_EXPIRED), what="hold of seat")


def close_expired_teams(gate: SeatGate, limit: int = 100) -> int:
    """Teams past their expiry complete by virtual fill if the campaign allows it and enough
    seats are paid, else fail (every order voided by retail)."""
    due = Team.objects(status=TeamStatus.FORMING, expires_at__lte=now()).limit(limit)
    return sweeps.each(due, lambda team: _close_at_expiry(gate, team), what="expiry of team")


def _close_at_expiry(gate: SeatGate, team: Team) -> bool:
    _recount(team)
    team.reload()
    campaign = Campaign.objects.only("virtual_fill_percent").get(id=team.campaign_id)
    outcome = rules.outcome_at_expiry(team.team_size, len(team.paid_seats), campaign.virtual_fill_percent)
    if outcome.formed:
        event = team_event(
            "team_formed", team, order_ids=_orders(team.paid_seats), virtually_filled=outcome.virtually_filled
        )
        changes = {"set__virtually_filled": outcome.virtually_filled}
        query = Team.objects(id=team.id, status=TeamStatus.FORMING, paid_seats__size=len(team.paid_seats))
        status = TeamStatus.FORMED
    else:
        active = [s.id for s in Seat.objects(team_id=team.id, status__in=list(ACTIVE_SEATS)).only("id")]
        event = team_event("team_failed", team, reason=FailureReason.EXPIRED, order_ids=_orders(active))
        changes = {"set__failure_reason": FailureReason.EXPIRED}
        query = Team.objects(id=team.id, status=TeamStatus.FORMING)
        status = TeamStatus.FAILED
    if not _close(gate, team.id, query, status, event, **changes):
        return False
    log.info("team %s %s at expiry", team.id, "formed by virtual fill" if outcome.formed else "failed")
    return True


def _close(gate: SeatGate, team_id: str, query: Any, status: TeamStatus, event: dict, **changes: Any) -> bool:
    """Close a forming team (`query` says which state it must still be in) in one write carrying
    its event, then settle its seats; a crash in between is finished by settle_stragglers."""
    if not query.update_one(
        set__status=status, set__closed_at=now(), set__seats_settled=False, push__outbox=event, **changes
    ):
        return False
    settle_closed(gate, team_id)
    return True


def _recount(team: Team) -> None:
    """Paid seats a crash kept off the team's list (paid, then not counted) are added now."""
    counted = [*team.paid_seats, *team.left_seats]
    for seat in Seat.objects(team_id=team.id, status=SeatStatus.PAID, id__nin=counted).only("id"):
        Team.objects(id=team.id, status=TeamStatus.FORMING, paid_seats__ne=seat.id, left_seats__ne=seat.id).update_one(
            push__paid_seats=seat.id
        )


def settle_closed(gate: SeatGate, team_id: str) -> bool:
    """Give back what a closed team's seats no longer need.

    Formed: unpaid seats (virtual fill) go and their orders are voided; the leader's "opened a
    team" quota frees; paid seats keep their allotment and "joined" quota. Failed: every seat goes.
    """
    team = Team.objects.get(id=team_id)
    gate.close_team(team.campaign_id, team.id)  # first, so no place given back below is granted again
    for seat in Seat.objects(team_id=team.id, status__in=list(ACTIVE_SEATS)):
        if team.status == TeamStatus.FAILED or seat.status == SeatStatus.HELD:
            release_seat(gate, seat, ReleaseReason.TEAM_CLOSED, team_must_form=False)
        elif (
            seat.kind == SeatKind.OPENED
            and not seat.quota_key.startswith("x:")
            and Seat.objects(id=seat.id, quota_key=seat.quota_key).update_one(set__quota_key=rules.given_back(seat.id))
        ):
            gate.give_back(claim_of(seat), seat=False, slot=False)
    return bool(Team.objects(id=team.id, seats_settled=False).update_one(set__seats_settled=True))


def settle_stragglers(gate: SeatGate, limit: int = 100) -> int:
    """Finish settling teams a crash left half-closed."""
    stale = Team.objects(
        status__in=[TeamStatus.FORMED, TeamStatus.FAILED], seats_settled=False, closed_at__lte=now() - SETTLE_GRACE
    ).limit(limit)
    return sweeps.each(stale, lambda team: settle_closed(gate, team.id), what="settling of team")
