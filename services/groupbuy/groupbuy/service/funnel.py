"""The fission funnel (裂变漏斗): shares → opens → joins → paid → formed, per campaign and per inviter.

Counted from the records themselves (shares, teams, seats), so the funnel is as exact as they are
and needs no counters kept in step with them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from groupbuy.documents import Seat, Share, Team
from groupbuy.domain.teams import SeatKind, TeamStatus
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
    formed = [t.id for t in Team.objects(campaign_id=campaign.id, status=TeamStatus.FORMED).only("id")]
    joined = Seat.objects(campaign_id=campaign.id, kind=SeatKind.JOINED)
    totals = Counts(
        shares=Share.objects(campaign_id=campaign.id).count(),
        opens=Team.objects(campaign_id=campaign.id).count(),
        joins=joined.count(),
        paid=Seat.objects(campaign_id=campaign.id, paid_at__ne=None).count(),
        formed=len(formed),
    )
    return Funnel(totals, _inviters(campaign.id, set(formed), top_inviters or DEFAULT_INVITERS))


def _inviters(campaign_id: str, formed: set[str], top: int) -> list[tuple[str, Counts]]:
    by_inviter: dict[str, Counts] = {}
    for seat in Seat.objects(campaign_id=campaign_id, inviter_id__ne="").only("inviter_id", "paid_at", "team_id"):
        counts = by_inviter.setdefault(seat.inviter_id, Counts())
        counts.joins += 1
        counts.paid += seat.paid_at is not None
        counts.formed += seat.paid_at is not None and seat.team_id in formed
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
