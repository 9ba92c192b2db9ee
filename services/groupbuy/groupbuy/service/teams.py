"""Team use cases for members: open, join, order a seat, leave, share, read.

A seat is taken in two steps: the Redis gate grants the claim (one Lua call that also refuses
the crowd), then MongoDB inserts the seat under its unique keys. If MongoDB refuses, the gate was
stale (a flush, a lost write): its places are given back, the gate is invalidated and rebuilt
from MongoDB, and the claim is tried again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import mongoengine as me

from groupbuy.documents import Campaign, Seat, Share, Team
from groupbuy.domain import teams as rules
from groupbuy.domain.campaigns import CampaignStatus, require_live
from groupbuy.domain.teams import SeatKind, SeatStatus, TeamStatus
from groupbuy.retail import Retail, place_order
from groupbuy.service import gate_sync
from groupbuy.service.campaigns import cached_campaign, get_cached_campaign, limits_of, status_of
from groupbuy.service.seat_gate import Claim, RebuildNeeded, Refused, SeatGate, UnknownTeam
from groupbuy.service.team_life import link_order, release_seat, seat_event, team_event
from mallkit import ids, paging
from mallkit.access import ADMIN, get_or_404, require_user
from mallkit.clock import now
from mallkit.context import caller
from mallkit.errors import AlreadyExists, DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 4

REFUSALS: dict[str, Callable[[], DomainError]] = {
    "team_full": lambda: FailedPrecondition("the team is full", "team_full"),
    "already_joined": lambda: AlreadyExists("you already hold a seat in this team", "already_joined"),
    "team_formed": lambda: rules.closed_refusal(TeamStatus.FORMED),
    "team_closed": lambda: rules.closed_refusal(TeamStatus.FAILED),
    "team_expired": lambda: FailedPrecondition("the team has expired", "team_expired"),
    "open_limit_reached": lambda: FailedPrecondition(
        "you already lead as many forming teams as this campaign allows", "open_limit_reached"
    ),
    "join_limit_reached": lambda: FailedPrecondition(
        "you hold as many seats in this campaign as it allows", "join_limit_reached"
    ),
    "allotment_sold_out": lambda: FailedPrecondition("every seat of this campaign is taken", "allotment_sold_out"),
}


@dataclass(frozen=True)
class TeamView:
    team: Team
    seats: list[Seat]  # active seats, only for members, the campaign's owner and admins
    claimed: int


# ── claiming a seat ─────────────────────────────────────────────────────────────────────────


def _grant(gate: SeatGate, campaign: Campaign, team_id: str, user_id: str, kind: SeatKind) -> Claim:
    """The gate's answer, rebuilding it from MongoDB when it does not mirror it."""
    limits = limits_of(campaign)
    for _ in range(CLAIM_ATTEMPTS):
        try:
            granted = gate.claim(
                campaign.id,
                team_id,
                user_id,
                kind=kind,
                size=campaign.team_size,
                allotment=campaign.seat_allotment,
                limit=limits.teams_opened if kind == SeatKind.OPENED else limits.teams_joined,
                opening=kind == SeatKind.OPENED,
                at=now(),
            )
        except RebuildNeeded:
            gate_sync.rebuild(gate, campaign.id)
            continue
        except UnknownTeam:
            team = Team.objects(id=team_id).only("status", "expires_at").first()
            if team is None:
                raise NotFound(f"team {team_id!r} not found", "team_not_found") from None
            rules.require_open(team.status, team.expires_at, now())
            gate.invalidate(campaign.id)  # the team forms but the gate lost it
            continue
        if isinstance(granted, Refused):
            raise REFUSALS[granted.code]()
        return granted
    raise Unavailable("the seat gate is being rebuilt; try again", "gate_rebuilding")


def _seat(campaign: Campaign, claim: Claim, kind: SeatKind, quantity: int, inviter_id: str) -> Seat:
    at = now()
    seat = Seat(
        id=ids.new_id("seat"),
        team_id=claim.team_id,
        campaign_id=campaign.id,
        user_id=claim.user_id,
        seat_no=claim.seat_no,
        kind=kind,
        quantity=quantity,
        price_fen=rules.seat_price_fen(
            campaign.group_price_fen, campaign.leader_price_fen, kind == SeatKind.OPENED, quantity
        ),
        inviter_id=inviter_id,
        status=SeatStatus.HELD,
        claimed_at=at,
        hold_expires_at=rules.hold_expires_at(at),
        member_key=rules.member_key(claim.team_id, claim.user_id),
        place_key=rules.place_key(claim.team_id, claim.seat_no),
        allot_key=rules.allot_key(campaign.id, claim.slot),
        quota_key=rules.quota_key(campaign.id, claim.user_id, claim.quota),
    )
    if kind == SeatKind.JOINED:
        seat.outbox = [seat_event("team_joined", seat, seat_no=seat.seat_no, inviter_id=inviter_id)]
    return seat


def _take(gate: SeatGate, campaign: Campaign, team_id: str, kind: SeatKind, quantity: int, inviter: str,
          new_team: Team | None = None) -> Seat:  # fmt: skip
    """Grant, then insert (the new team first, when opening one). A MongoDB refusal means the gate
    was stale: give the claim back, rebuild the gate and try again."""
    who = require_user()
    for _ in range(CLAIM_ATTEMPTS):
        claim = _grant(gate, campaign, team_id, who.user_id, kind)
        seat = _seat(campaign, claim, kind, quantity, inviter)
        try:
            if new_team is not None:
                new_team.save(force_insert=True)
            seat.save(force_insert=True)
        except me.NotUniqueError:
            _undo(gate, claim, new_team)
            gate.invalidate(campaign.id)
            log.warning("seat gate of %s was stale (MongoDB refused %s); rebuilding", campaign.id, claim.member)
            continue
        except BaseException:
            _undo(gate, claim, new_team)
            raise
        gate.settled(claim)
        if new_team is not None or (closed := _closed_meanwhile(gate, campaign.id, team_id)) is None:
            return seat
        release_seat(gate, seat, rules.ReleaseReason.JOIN_REFUSED, team_must_form=False)
        raise rules.closed_refusal(closed)
    raise Unavailable("the seat gate is being rebuilt; try again", "gate_rebuilding")


def _closed_meanwhile(gate: SeatGate, campaign_id: str, team_id: str) -> TeamStatus | None:
    """How the team closed (formed or failed) between the gate's grant and the seat's insert; None if
    it is still forming. Every close shuts the team in the gate before it looks for seats to release,
    so a seat inserted before the gate shut is released by the close, and one inserted after finds it
    shut here (MongoDB is asked only when the gate does not know the team)."""
    state = gate.team_state(campaign_id, team_id)
    if state is None:
        team = Team.objects(id=team_id).only("status").first()
        state = TeamStatus(team.status) if team else TeamStatus.FAILED
    return None if state == TeamStatus.FORMING else state


def _undo(gate: SeatGate, claim: Claim, new_team: Team | None) -> None:
    gate.give_back(claim)
    if new_team is not None:
        Team.objects(id=new_team.id).delete()
        gate.drop_team(claim.campaign_id, new_team.id)


def _live_campaign(campaign_id: str) -> Campaign:
    """The campaign, refused unless live; another brand's draft is not found, as everywhere."""
    campaign = get_cached_campaign(campaign_id)
    require_live(status_of(campaign))
    return campaign


def open_team(gate: SeatGate, campaign_id: str, quantity: int) -> tuple[Team, Seat]:
    """The caller leads a new team, holding its seat 1."""
    who = require_user()
    campaign = _live_campaign(campaign_id)
    quantity = limits_of(campaign).check_quantity(quantity)
    team = Team(
        id=ids.new_id("team"),
        campaign_id=campaign.id,
        team_size=campaign.team_size,
        leader_id=who.user_id,
        opener_id=who.user_id,
        status=TeamStatus.FORMING,
    )
    team.outbox = [team_event("team_opened", team, leader_id=who.user_id, team_size=team.team_size)]
    seat = _take(gate, campaign, team.id, SeatKind.OPENED, quantity, "", new_team=team)
    return team, seat


def join_team(gate: SeatGate, team_id: str, share_code: str, quantity: int) -> Seat:
    """A seat in a team, by its id or through a share code (crediting the sharer)."""
    who = require_user()
    inviter = ""
    if bool(team_id) == bool(share_code):
        raise InvalidArgument("give exactly one of team_id and share_code", "team_or_share_code")
    if share_code:
        share = get_share(share_code)
        team_id, inviter = share.team_id, share.sharer_id if share.sharer_id != who.user_id else ""
    campaign_id = _campaign_of(team_id)
    campaign = _live_campaign(campaign_id)
    quantity = limits_of(campaign).check_quantity(quantity)
    return _take(gate, campaign, team_id, SeatKind.JOINED, quantity, inviter)


_team_campaigns: dict[str, str] = {}


def _campaign_of(team_id: str) -> str:
    """A team's campaign never changes, so the join path remembers it per process."""
    if (campaign_id := _team_campaigns.get(team_id)) is None:
        team = Team.objects(id=team_id).only("campaign_id").first() if ids.is_valid(team_id) else None
        if team is None:
            raise NotFound(f"team {team_id!r} not found", "team_not_found")
        if len(_team_campaigns) > 100_000:
            _team_campaigns.clear()
        campaign_id = _team_campaigns[team_id] = team.campaign_id
    return campaign_id


# ── the seat's order ────────────────────────────────────────────────────────────────────────


def _my_seat(team_id: str) -> Seat:
    who = require_user()
    seat = Seat.objects(member_key=rules.member_key(team_id, who.user_id)).first() if ids.is_valid(team_id) else None
    if seat is None:
        raise NotFound("you hold no seat in this team", "seat_not_found")
    return seat


def place_seat_order(retail: Retail, team_id: str) -> Seat:
    """The retail order for the caller's seat; asking again returns the same order."""
    seat = _my_seat(team_id)
    if seat.order_id:
        return seat
    team = get_or_404(Team, team_id, "team")
    rules.require_open(team.status, team.expires_at, now())
    campaign = cached_campaign(seat.campaign_id)
    order = place_order(
        retail,
        sku_id=campaign.sku_id,
        quantity=seat.quantity,
        unit_price_fen=seat.price_fen // seat.quantity,
        idempotency_key=rules.seat_order_key(seat.id),
        distribution_enabled=campaign.distribution_enabled,
        group_team_id=team.id,
    )
    # the hold now runs with the order's own payment window, and a grace for its events; if this
    # call stops before the link is written, retail's events for the order find the seat by its key
    if link_order(seat, order.id).status == SeatStatus.RELEASED:
        raise FailedPrecondition("the seat was released before its order was placed", "seat_released")
    return seat


def place_solo_order(retail: Retail, campaign_id: str, quantity: int, idempotency_key: str = "") -> tuple[str, int]:
    """Buy alone at the campaign's solo price; returns the order id and its total. The same key
    (per buyer and campaign) returns the same order."""
    require_user()
    key = rules.solo_order_key(campaign_id, idempotency_key) or ids.new_id("solo")
    campaign = _live_campaign(campaign_id)
    if not campaign.solo_price_fen:
        raise FailedPrecondition("this campaign sells no solo purchase", "no_solo_price")
    quantity = limits_of(campaign).check_quantity(quantity)
    order = place_order(
        retail,
        sku_id=campaign.sku_id,
        quantity=quantity,
        unit_price_fen=campaign.solo_price_fen,
        idempotency_key=key,
        distribution_enabled=campaign.distribution_enabled,
        group_campaign_id=campaign.id,
    )
    return order.id, order.total.fen


# ── leaving ─────────────────────────────────────────────────────────────────────────────────


def leave_team(gate: SeatGate, team_id: str) -> Team:
    """Give up the seat before the team forms; a paid seat's order is refunded by retail."""
    seat = _my_seat(team_id)  # a released seat gave its member key back: _my_seat never finds one
    for _ in range(CLAIM_ATTEMPTS):
        team = Team.objects.get(id=seat.team_id)
        rules.require_forming(team.status)
        if release_seat(gate, seat, rules.ReleaseReason.LEFT):
            return team.reload()
        # the seat changed under the release (paid, its order linked, released by its hold): again
        seat.reload()
        if seat.status == SeatStatus.RELEASED:
            return team.reload()
    raise Unavailable("the seat keeps changing; try again", "seat_busy")


# ── sharing and reading ─────────────────────────────────────────────────────────────────────


def share_team(team_id: str) -> str:
    """The caller's share code for the team: the same code on every call."""
    who = require_user()
    team = get_or_404(Team, team_id, "team")
    rules.require_forming(team.status)
    share = Share(id="sh" + secrets.token_hex(8), team_id=team.id, campaign_id=team.campaign_id, sharer_id=who.user_id)
    try:
        share.save(force_insert=True)
    except me.NotUniqueError:
        share = Share.objects.get(team_id=team.id, sharer_id=who.user_id)
    return share.id


def get_share(share_code: str) -> Share:
    """Public: what a shared link's code stands for (its team and sharer)."""
    share = Share.objects(id=share_code).first() if ids.is_valid(share_code) else None
    if share is None:
        raise NotFound("no such share code", "share_code_not_found")
    return share


def _sees_seats(team: Team, seats: list[Seat]) -> bool:
    who = caller()
    if who.has_role(ADMIN) or any(s.user_id == who.user_id for s in seats):
        return True
    campaign = Campaign.objects(id=team.campaign_id).only("owner_id").first()
    return campaign is not None and campaign.owner_id == who.user_id


def get_team(team_id: str) -> TeamView:
    """Anyone may see a team (it is shared); only members, the campaign's owner and admins see its seats."""
    team = get_or_404(Team, team_id, "team")
    seats = list(Seat.objects(team_id=team.id, status__in=list(rules.ACTIVE_SEATS)).order_by("seat_no"))
    return TeamView(team, seats if _sees_seats(team, seats) else [], len(seats))


def list_joinable(gate: SeatGate, campaign_id: str, limit: int) -> list[TeamView]:
    """Teams still forming with a free seat, closest to forming first; none unless the campaign
    is live (a join would be refused), and another brand's draft does not exist."""
    limit = paging.check_limit(limit)
    campaign = get_cached_campaign(campaign_id)
    if status_of(campaign) != CampaignStatus.LIVE:
        return []
    try:
        team_ids = gate.joinable(campaign.id, limit)
    except RebuildNeeded:
        gate_sync.rebuild(gate, campaign.id)
        team_ids = gate.joinable(campaign.id, limit)
    at = now()
    found = {t.id: t for t in Team.objects(id__in=team_ids, status=TeamStatus.FORMING)}
    claimed = _claimed_counts(team_ids)
    return [
        TeamView(found[t], [], claimed.get(t, 0))
        for t in team_ids
        if t in found and (found[t].expires_at is None or found[t].expires_at > at)
    ]


def _claimed_counts(team_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seat in Seat.objects(team_id__in=team_ids, status__in=list(rules.ACTIVE_SEATS)).only("team_id"):
        counts[seat.team_id] = counts.get(seat.team_id, 0) + 1
    return counts


def teams_of(seats: list[Seat]) -> dict[str, Team]:
    """Each seat's team (its leader and status only), by team id. A team that is gone (an opening
    undone after its seat's insert failed ambiguously) shows as failed and led by no one."""
    team_ids = list({s.team_id for s in seats})
    found = {t.id: t for t in Team.objects(id__in=team_ids).only("leader_id", "status")}
    gone = {i: Team(id=i, leader_id="", status=TeamStatus.FAILED) for i in team_ids if i not in found}
    return found | gone


def list_my_seats(cursor: str, limit: int) -> tuple[list[Seat], str]:
    """The caller's seats, newest first (released ones included, with their reason)."""
    who = require_user()
    page = paging.parse(cursor, limit)
    query = Seat.objects(user_id=who.user_id)
    return paging.newest_first(query, page)
