"""The fission funnel (裂变漏斗): shares → opens → joins → paid → formed, per campaign and per inviter.

Counted from the records themselves (shares, teams, seats), so the funnel is as exact as they are
and needs no counters kept in step with them. A join is a person joining a team: leaving and joining
again (a new seat record each time) counts once, so an inviter's joins cannot be inflated that way;
likewise paid. An inviter's formed are the seats a formed team was formed with.

The counting happens in MongoDB (aggregations): a request reads one row per inviter and sharer,
never the campaign's seats, which a flash campaign has by the hundred thousand.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from mongoengine.queryset import QuerySet

from groupbuy.documents import Seat, Share, Team
from groupbuy.domain.teams import ReleaseReason, SeatKind, TeamStatus
from groupbuy.service.campaigns import owned_campaign
from mallkit.errors import InvalidArgument

MAX_INVITERS = 100
DEFAULT_INVITERS = 20

# aggregation parts: a count; "this seat is paid"; a seat's team looked up, and "this seat is one
# its team formed with"
_COUNT = {"$group": {"_id": None, "n": {"$sum": 1}}}
_PAID = {"$cond": [{"$gt": ["$paid_at", None]}, 1, 0]}
_WITH_TEAM = [
    {"$lookup": {"from": Team._get_collection_name(), "localField": "team_id", "foreignField": "_id", "as": "team"}},
    {"$unwind": "$team"},
]
_FORMED_WITH = {"$and": [{"$eq": ["$team.status", TeamStatus.FORMED.value]}, {"$in": ["$_id", "$team.paid_seats"]}]}


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
    # a join answered team_closed left a released seat behind: it never happened
    taken = Seat.objects(campaign_id=campaign.id, release_reason__ne=ReleaseReason.JOIN_REFUSED)
    totals = Counts(
        shares=Share.objects(campaign_id=campaign.id).count(),
        opens=Team.objects(campaign_id=campaign.id).count(),
        joins=_people(taken.filter(kind=SeatKind.JOINED)),
        paid=_people(taken.filter(paid_at__ne=None)),
        formed=Team.objects(campaign_id=campaign.id, status=TeamStatus.FORMED).count(),
    )
    return Funnel(totals, _inviters(campaign.id, taken, top_inviters or DEFAULT_INVITERS))


def _people(seats: QuerySet) -> int:
    """How many (team, member) pairs the seats hold."""
    rows = seats.aggregate([{"$group": {"_id": {"t": "$team_id", "u": "$user_id"}}}, _COUNT])
    return next(iter(rows), {"n": 0})["n"]


def _inviters(campaign_id: str, taken: QuerySet, top: int) -> list[tuple[str, Counts]]:
    """Everyone who brought someone in or shared a team, ranked by joins, then shares; the top
    `top` of them get their opens and formed counted too."""
    invited = taken.filter(inviter_id__ne="").aggregate(
        [
            {"$group": {"_id": {"i": "$inviter_id", "t": "$team_id", "u": "$user_id"}, "paid": {"$max": _PAID}}},
            {"$group": {"_id": "$_id.i", "joins": {"$sum": 1}, "paid": {"$sum": "$paid"}}},
        ]
    )
    counts = {row["_id"]: Counts(joins=row["joins"], paid=row["paid"]) for row in invited}
    for sharer, n in _per(Share.objects(campaign_id=campaign_id), "$sharer_id"):
        counts.setdefault(sharer, Counts()).shares = n
    ranked = heapq.nsmallest(top, counts.items(), key=lambda item: (-item[1].joins, -item[1].shares, item[0]))
    top_ids = [who for who, _ in ranked]
    for opener, n in _per(Team.objects(campaign_id=campaign_id, opener_id__in=top_ids), "$opener_id"):
        counts[opener].opens = n
    brought = taken.filter(inviter_id__in=top_ids).aggregate(
        [
            *_WITH_TEAM,
            {"$group": {"_id": "$inviter_id", "n": {"$sum": {"$cond": [_FORMED_WITH, 1, 0]}}}},
        ]
    )
    for row in brought:
        counts[row["_id"]].formed = row["n"]
    return ranked


def _per(records: QuerySet, field: str) -> Iterator[tuple[str, int]]:
    """How many of the records each value of `field` has."""
    for row in records.aggregate([{"$group": {"_id": field, "n": {"$sum": 1}}}]):
        yield row["_id"], row["n"]
