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
from datetime import datetime, timedelta
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
# How long after its expiry a team is judged: payments made before the expiry whose order_paid is
# still on its way are counted first (a payment made at or after the expiry never counts).
JUDGE_GRACE = timedelta(minutes=1)
# A forming team this old without a clock has seen every hold it began with run out.
LEADERLESS_AFTER = rules.SEAT_HOLD + rules.ORDERED_SEAT_GRACE + SETTLE_GRACE


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
    log.info("seat %s of team %s released (%s)", seat.id, seat.team_id, reason)
    # the leader first: a gate that fails to take its places back is repaired by gate_sync, but a
    # team left led by a seat that is gone would never start its clock (name_missing_leaders)
    ensure_leader(gate, seat.team_id)
    gate.give_back(claim_of(seat))
    return True


def ensure_leader(gate: SeatGate, team_id: str) -> bool:
    """The leader is the lowest seat still held; a team left with no member is cancelled. True if
    it changed the team (a new leader, the cancellation, or the clock of a paid leader started)."""
    team = Team.objects.get(id=team_id)
    if team.status != TeamStatus.FORMING:
        return False
    seats = list(Seat.objects(team_id=team.id, status__in=list(ACTIVE_SEATS)).order_by("seat_no"))
    if not seats:  # closed like every team: settling releases whatever joined in between
        event = team_event("team_failed", team, reason=FailureReason.LEADER_LEFT, order_ids=[])
        forming = Team.objects(id=team.id, status=TeamStatus.FORMING)
        return _close(gate, team.id, forming, TeamStatus.FAILED, event, set__failure_reason=FailureReason.LEADER_LEFT)
    if leader := next((s for s in seats if s.user_id == team.leader_id), None):
        return _clock_if_leader(gate, leader)  # a no-op unless a crash kept a paid leader's clock from starting
    successor = seats[0]
    if not Team.objects(id=team.id, status=TeamStatus.FORMING, leader_id=team.leader_id).update_one(
        set__leader_id=successor.user_id
    ):
        return False
    log.info("team %s: %s leads now", team.id, successor.user_id)
    _clock_if_leader(gate, successor.reload())  # read after the write: it may be paid by now
    return True


def name_missing_leaders(gate: SeatGate) -> int:
    """Finish what a crash cut short after a seat's release: the successor it did not name (or the
    cancellation of a team it left empty), and the clock of a paid leader it did not start.

    Only a forming team without a clock can be left so, and once every hold it began with is over,
    it cannot be waiting for one either. The sweep also meets sound teams (a successor still to
    pay): ensure_leader leaves them as they are. Returns how many teams it changed."""
    since = now() - LEADERLESS_AFTER
    stale = Team.objects(status=TeamStatus.FORMING, expires_at=None, created_at__lte=since).only("id")
    return sweeps.each(stale, lambda team: ensure_leader(gate, team.id), what="leader of team")


def _clock_if_leader(gate: SeatGate, seat: Seat) -> bool:
    """Start the team's clock if `seat` is its leader's and paid (and the clock has not started);
    True if this call started it.

    Called after both writes that can make it so (the seat counted as paid, a new leader named),
    each reading the other's document afresh: whichever of the two lands second starts the clock."""
    if seat.status != SeatStatus.PAID:
        return False
    team = Team.objects.only("campaign_id", "leader_id", "status", "expires_at").get(id=seat.team_id)
    if team.status == TeamStatus.FORMING and team.leader_id == seat.user_id and team.expires_at is None:
        campaign = Campaign.objects.only("expiry_hours").get(id=team.campaign_id)
        expires = rules.expires_at(seat.paid_at, campaign.expiry_hours)
        if Team.objects(id=team.id, expires_at=None).update_one(set__expires_at=expires):
            gate.set_expiry(team.campaign_id, team.id, expires)
            return True
    return False


# ── retail's order events ───────────────────────────────────────────────────────────────────


def link_order(seat: Seat, order_id: str) -> Seat:
    """Record the seat's retail order, once. A seat released before its order was recorded names
    the order in a seat_released of its own, so that retail voids it (cancelled, or refunded if paid)."""
    Seat.objects(id=seat.id, status=SeatStatus.HELD, order_id="").update_one(
        set__order_id=order_id, set__hold_expires_at=rules.ordered_hold_expires_at(now())
    )
    seat.reload()
    if seat.status == SeatStatus.RELEASED and not seat.order_id:
        event = seat_event("seat_released", seat, order_id=order_id, reason=seat.release_reason, paid=False)
        Seat.objects(id=seat.id, status=SeatStatus.RELEASED, order_id="").update_one(
            set__order_id=order_id, push__outbox=event
        )
        seat.reload()
    return seat


def _seat_of_order(order_id: str, buyer_id: str, order_key: str) -> Seat | None:
    """The seat an order was placed for: by the order recorded on it, else by the order's key (and
    its buyer, the seat's member), recording it now (the call that placed it stopped before it could)."""
    if seat := Seat.objects(order_id=order_id).first():
        return seat
    seat_id = rules.seat_of_order_key(order_key, SERVICE)
    unlinked = Seat.objects(id=seat_id, user_id=buyer_id, order_id="").first() if seat_id else None
    return link_order(unlinked, order_id) if unlinked else None


def seat_paid(
    gate: SeatGate, order_id: str, buyer_id: str = "", order_key: str = "", paid_at: datetime | None = None
) -> bool:
    """retail.order_paid for a seat's order (paid at `paid_at`, by retail's clock): the seat is
    paid, and the team forms if it was the last."""
    seat = _seat_of_order(order_id, buyer_id, order_key)
    if seat is None:
        log.warning("order %s is attributed to a team but no seat has it", order_id)
        return False
    if Seat.objects(id=seat.id, status=SeatStatus.HELD).update_one(
        set__status=SeatStatus.PAID, set__paid_at=paid_at or now()
    ):
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
        if team.expires_at is not None and seat.paid_at >= team.expires_at:
            # paid after the team expired: never counted; the expiry sweep judges the team without
            # it and releases it (retail refunds it), however the team ends
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


def order_cancelled(gate: SeatGate, order_id: str, buyer_id: str = "", order_key: str = "") -> bool:
    """retail cancelled a seat's unpaid order (payment timeout): the seat goes."""
    seat = _seat_of_order(order_id, buyer_id, order_key)
    if seat is None or seat.status != SeatStatus.HELD:
        return False
    return release_seat(gate, seat, ReleaseReason.ORDER_CANCELLED)


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
    """Teams past their expiry (and JUDGE_GRACE) complete by virtual fill if the campaign allows it
    and enough seats were paid in time, else fail (every order voided by retail)."""
    due = Team.objects(status=TeamStatus.FORMING, expires_at__lte=now() - JUDGE_GRACE).limit(limit)
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
    in_time = {"paid_at__lt": team.expires_at} if team.expires_at else {}
    for seat in Seat.objects(team_id=team.id, status=SeatStatus.PAID, id__nin=counted, **in_time).only("id"):
        Team.objects(id=team.id, status=TeamStatus.FORMING, paid_seats__ne=seat.id, left_seats__ne=seat.id).update_one(
            push__paid_seats=seat.id
        )


def settle_closed(gate: SeatGate, team_id: str) -> bool:
    """Give back what a closed team's seats no longer need.

    Formed: seats it did not form with (unpaid by virtual fill, or paid too late to count) go and
    their orders are voided; the leader's "opened a team" quota frees; paid seats keep their
    allotment and "joined" quota. Failed: every seat goes.
    """
    team = Team.objects.get(id=team_id)
    # first, so no place given back below is granted again
    gate.close_team(team.campaign_id, team.id, formed=team.status == TeamStatus.FORMED)
    for seat in Seat.objects(team_id=team.id, status__in=list(ACTIVE_SEATS)):
        if team.status == TeamStatus.FAILED or seat.id not in team.paid_seats:
            release_seat(gate, seat, ReleaseReason.TEAM_CLOSED, team_must_form=False)
        elif seat.kind == SeatKind.OPENED:
            if quota_of(seat.quota_key):
                Seat.objects(id=seat.id, quota_key=seat.quota_key).update_one(set__quota_key=rules.given_back(seat.id))
            # asked every time, not only after the write above: a settling that stopped after it (the
            # gate down, a crash) is run again by settle_stragglers and must still free the gate
            gate.free_quota(team.campaign_id, seat.user_id, team.id, SeatKind.OPENED)
    return bool(Team.objects(id=team.id, seats_settled=False).update_one(set__seats_settled=True))


def settle_stragglers(gate: SeatGate, limit: int = 100) -> int:
    """Finish settling teams a crash left half-closed."""
    stale = Team.objects(
        status__in=[TeamStatus.FORMED, TeamStatus.FAILED], seats_settled=False, closed_at__lte=now() - SETTLE_GRACE
    ).limit(limit)
    return sweeps.each(stale, lambda team: settle_closed(gate, team.id), what="settling of team")
