"""The fission funnel (裂变漏斗): shares → opens → joins → paid → formed, per campaign and per inviter.

Counted from the records themselves (shares, teams, seats), so the funnel is as exact as they are
and needs no counters kept in step with them. A join is a person joining a team: leaving and joining
again (a new seat record each time) counts once, so an inviter's joins cannot be inflated that way;
likewise paid. An inviter's formed are the seats a formed team was formed with.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from groupbuy.documents import Seat, Share, Team
from groupbuy.domain.teams import ReleaseReason, SeatKind, TeamStatus
from groupbuy.service.campaigns import owned_campaign
from mallkit.errors import InvalidArgument

MAX_INVITERS = 100
DEFAULT_INVITERS = 20


@dataclass
class Counts:
    shares: int = 0
    opens: int = 0
    joins: int = 0
    paid: int = 0
    formed: int = 0


@dataclass
class Funnel:
    totals: Counts
    inviters: list[tuple[str, Counts]] = field(default_factory=list)


def campaign_funnel(campaign_id: str, top_inviters: int) -> Funnel:
    """For the campaign's owner and admins; inviters with the most joins first."""
    campaign = owned_campaign(campaign_id)
    if not 0 <= top_inviters <= MAX_INVITERS:
        raise InvalidArgument(f"top_inviters is 1..{MAX_INVITERS}", "invalid_limit")
    formed = list(Team.objects(campaign_id=campaign.id, status=TeamStatus.FORMED).only("paid_seats"))
    formed_with = {seat_id for team in formed for seat_id in team.paid_seats}
    fields = ("id", "team_id", "user_id", "kind", "paid_at", "inviter_id")
    # a join answered team_closed left a released seat behind: it never happened
    taken = Seat.objects(campaign_id=campaign.id, release_reason__ne=ReleaseReason.JOIN_REFUSED)
    seats = list(taken.only(*fields))
    totals = Counts(
        shares=Share.objects(campaign_id=campaign.id).count(),
        opens=Team.objects(campaign_id=campaign.id).count(),
        joins=len({(s.team_id, s.user_id) for s in seats if s.kind == SeatKind.JOINED}),
        paid=len({(s.team_id, s.user_id) for s in seats if s.paid_at is not None}),
        formed=len(formed),
    )
    return Funnel(totals, _inviters(campaign.id, seats, formed_with, top_inviters or DEFAULT_INVITERS))


def _inviters(campaign_id: str, seats: list[Seat], formed_with: set[str], top: int) -> list[tuple[str, Counts]]:
    joins: dict[str, set[tuple[str, str]]] = {}
    paid: dict[str, set[tuple[str, str]]] = {}
    formed: Counter[str] = Counter()
    for seat in seats:
        if not seat.inviter_id:
            continue
        joins.setdefault(seat.inviter_id, set()).add((seat.team_id, seat.user_id))
        if seat.paid_at is not None:
            paid.setdefault(seat.inviter_id, set()).add((seat.team_id, seat.user_id))
        formed[seat.inviter_id] += seat.id in formed_with
    by_inviter = {
        inviter: Counts(joins=len(people), paid=len(paid.get(inviter, ())), formed=formed[inviter])
        for inviter, people in joins.items()
    }
    shares = Counter(s.sharer_id for s in Share.objects(campaign_id=campaign_id).only("sharer_id"))
    for sharer, n in shares.items():
        by_inviter.setdefault(sharer, Counts()).shares = n
    opens = Counter(
        t.opener_id for t in Team.objects(campaign_id=campaign_id, opener_id__in=list(by_inviter)).only("opener_id")
    )
    for opener, n in opens.items():
        by_inviter[opener].opens = n
    ranked = sorted(by_inviter.items(), key=lambda item: (-item[1].joins, -item[1].shares, item[0]))
    return ranked[:top]
