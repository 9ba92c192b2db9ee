"""Keeping the seat gate a faithful copy of MongoDB: rebuild it, settle what a crash left pending,
notice places it holds that MongoDB gave back."""

from __future__ import annotations

import logging
from datetime import timedelta

from groupbuy.documents import Seat, Team
from groupbuy.domain.teams import ACTIVE_SEATS, SeatKind, TeamStatus, quota_of, slot_of
from groupbuy.service import team_life
from groupbuy.service.seat_gate import Claim, GateSeat, GateTeam, SeatGate
from mallkit.clock import now
from mallkit.errors import Unavailable

log = logging.getLogger(__name__)

# A claim granted by the gate and still not in MongoDB after this long was lost to a crash.
PENDING_GRACE = timedelta(seconds=60)
# How long a surplus of gate places over MongoDB's must last, seen by two repairs, to be believed:
# one seen once may be a release between its MongoDB write and its give-back.
DRIFT_CONFIRM_SECONDS = 180


def rebuild(gate: SeatGate, campaign_id: str) -> None:
    """Rebuild the campaign's gate from MongoDB; if another process is at it, wait for that one."""
    if not gate.lock_rebuild(campaign_id):
        if not gate.wait_ready(campaign_id):
            raise Unavailable("the seat gate is being rebuilt; try again", "gate_rebuilding")
        return
    try:
        gate.rebuild(campaign_id, *_snapshot(campaign_id))
    finally:
        gate.unlock_rebuild(campaign_id)


def _snapshot(campaign_id: str) -> tuple[list[GateTeam], list[GateSeat]]:
    """The campaign's forming teams and active seats, as MongoDB holds them now."""
    forming = {
        t.id: GateTeam(t.id, t.team_size, t.expires_at)
        for t in Team.objects(campaign_id=campaign_id, status=TeamStatus.FORMING).only("id", "team_size", "expires_at")
    }
    seats = [
        GateSeat(s.team_id, s.user_id, s.seat_no, slot, quota_of(s.quota_key), s.team_id in forming)
        for s in Seat.objects(campaign_id=campaign_id, status__in=list(ACTIVE_SEATS)).only(
            "team_id", "user_id", "seat_no", "allot_key", "quota_key"
        )
        if (slot := slot_of(s.allot_key)) is not None
    ]
    return list(forming.values()), seats


def sweep_pending(gate: SeatGate, campaign_id: str) -> int:
    """Give back the places of claims the gate granted but MongoDB never received (a crash in
    between); claims MongoDB holds are just marked settled. Returns how many were given back."""
    given_back = 0
    for claim in gate.pending_before(campaign_id, now() - PENDING_GRACE):
        held = Seat.objects(
            team_id=claim.team_id, user_id=claim.user_id, seat_no=claim.seat_no, status__in=list(ACTIVE_SEATS)
        ).first()
        if held is None:
            gate.give_back(claim)
            given_back += 1
            log.warning("gave back a seat claim lost before MongoDB: %s", claim.member)
            if claim.quota.startswith(SeatKind.OPENED):  # the team may have been stored without its leader's seat
                _team_without_its_opener(gate, claim)
        else:
            gate.settled(claim)
    return given_back


def _team_without_its_opener(gate: SeatGate, claim: Claim) -> None:
    """A crash between storing a new team and its seat 1 leaves a team whose leader holds no seat:
    it would take members whose payments never start its clock. It is cancelled (or, if members
    joined meanwhile, led by the first of them); a team never stored is dropped from the gate."""
    if Team.objects(id=claim.team_id).only("id").first() is None:
        gate.drop_team(claim.campaign_id, claim.team_id)
    else:
        team_life.ensure_leader(gate, claim.team_id)


def repair(gate: SeatGate, campaign_id: str) -> int:
    """What crashes left between the gate and MongoDB, either way round; how many were found."""
    return sweep_pending(gate, campaign_id) + reconcile(gate, campaign_id)


def reconcile(gate: SeatGate, campaign_id: str) -> bool:
    """Invalidate the gate (the next claim rebuilds it) if it holds more places than MongoDB's
    seats and its pending claims account for, on two repairs in a row: a crash between a release's
    MongoDB write and its give-back, or a release landing while the gate was being rebuilt from an
    older snapshot, leaves such a place taken in the gate, refusing joins it should grant. True if
    it did.

    Read in this order, a claim in flight is counted by `pending` or, once stored, by MongoDB; a
    release in flight shows as surplus once, which the second look (and the generation, which every
    give-back moves) tells apart from a lasting one."""
    generation = gate.generation(campaign_id)
    if not gate.is_ready(campaign_id):
        return False
    claimed = gate.claimed(campaign_id)
    pending = gate.pending_count(campaign_id)
    held = Seat.objects(campaign_id=campaign_id, allot_key__startswith=f"{campaign_id}:").count()
    if claimed <= held + pending:
        gate.forget_drift(campaign_id)
        return False
    if gate.generation(campaign_id) != generation:  # a give-back landed meanwhile: no conclusion
        return False
    if not gate.drift_seen_before(campaign_id, DRIFT_CONFIRM_SECONDS):
        return False
    log.warning("seat gate of %s holds %d places, MongoDB %d (+%d pending): rebuilding", campaign_id, claimed,
                held, pending)  # fmt: skip
    gate.invalidate(campaign_id)
    return True
