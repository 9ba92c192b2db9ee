"""Campaign use cases: create, publish, end, read."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict

from groupbuy.documents import Campaign
from groupbuy.documents.campaigns import Limits
from groupbuy.domain import campaigns
from groupbuy.domain.campaigns import CampaignStatus, CampaignTerms, Stage, UserLimits
from groupbuy.retail import Retail, campaign_sku
from mallkit import ids, paging
from mallkit.access import ADMIN, BRAND, get_or_404, require_role
from mallkit.clock import now
from mallkit.context import caller
from mallkit.errors import FailedPrecondition, NotFound, PermissionDenied

# Join attempts read the campaign on every call; its terms are frozen once published, and a
# status change (ended) reaches every API process within this many seconds.
CACHE_SECONDS = 2.0


def status_of(campaign: Campaign) -> CampaignStatus:
    return campaigns.status_at(campaign.stage, campaign.start_time, campaign.end_time, now())


def limits_of(campaign: Campaign) -> UserLimits:
    return UserLimits(campaign.limits.teams_opened, campaign.limits.teams_joined, campaign.limits.units_per_order)


def create_campaign(retail: Retail, terms: CampaignTerms, publish: bool) -> Campaign:
    """A brand (for its own approved SKU) or an admin opens a group-buy below the SKU's price."""
    who = require_role(BRAND, ADMIN)
    undated = terms.start_time is None and terms.end_time is None
    terms = campaigns.check_terms(terms, now())
    campaigns.check_prices(terms, campaign_sku(retail, terms.sku_id).price_fen)
    campaign = Campaign(
        id=ids.new_id("cmp"),
        owner_id=who.user_id,
        sku_id=terms.sku_id,
        group_price_fen=terms.group_price_fen,
        leader_price_fen=terms.leader_price_fen,
        solo_price_fen=terms.solo_price_fen,
        team_size=terms.team_size,
        expiry_hours=terms.expiry_hours,
        seat_allotment=terms.seat_allotment,
        start_time=terms.start_time,
        end_time=terms.end_time,
        limits=Limits(**asdict(terms.limits)),
        virtual_fill_percent=terms.virtual_fill_percent,
        distribution_enabled=terms.distribution_enabled,
        stage=Stage.PUBLISHED if publish else Stage.DRAFT,
        dated_on_publish=undated and not publish,
    )
    campaign.save(force_insert=True)
    return campaign


def owned_campaign(campaign_id: str) -> Campaign:
    """The campaign, for its owner (a brand) or an admin. Another brand's draft does not exist for the
    caller (get_campaign); its published campaign they see, but do not manage."""
    who = require_role(BRAND, ADMIN)
    campaign = get_campaign(campaign_id)
    if campaign.owner_id != who.user_id and not who.has_role(ADMIN):
        raise PermissionDenied("only the campaign's brand (or an admin) manages it", "not_campaign_owner")
    return campaign


def publish_campaign(campaign_id: str) -> Campaign:
    """A draft goes out; one created without dates runs from now for the default duration."""
    campaign = owned_campaign(campaign_id)
    at = now()
    dates = (
        {"set__start_time": at, "set__end_time": at + campaigns.DEFAULT_DURATION} if campaign.dated_on_publish else {}
    )
    if campaign.stage == Stage.DRAFT and not dates and campaign.end_time <= at:
        raise FailedPrecondition("the campaign's end time has passed", "invalid_schedule")
    if not Campaign.objects(id=campaign.id, stage=Stage.DRAFT).update_one(set__stage=Stage.PUBLISHED, **dates):
        campaign.reload()
        if campaign.stage != Stage.PUBLISHED:
            raise FailedPrecondition(f"a {status_of(campaign)} campaign cannot be published", "campaign_not_draft")
    _forget(campaign.id)
    return campaign.reload()


def end_campaign(campaign_id: str) -> Campaign:
    """No new teams or seats from now; teams still forming run to their expiry. A draft never ran:
    there is nothing to end (and an ended campaign's terms are public)."""
    campaign = owned_campaign(campaign_id)
    if campaign.stage == Stage.DRAFT:
        raise FailedPrecondition("a draft has not been published; there is nothing to end", "campaign_not_published")
    Campaign.objects(id=campaign.id, stage=Stage.PUBLISHED).update_one(set__stage=Stage.ENDED)
    _forget(campaign.id)
    return campaign.reload()


def _visible(campaign: Campaign) -> bool:
    who = caller()
    return campaign.stage != Stage.DRAFT or campaign.owner_id == who.user_id or who.has_role(ADMIN)


def get_campaign(campaign_id: str) -> Campaign:
    return _shown(Campaign.objects(id=campaign_id).first() if ids.is_valid(campaign_id) else None, campaign_id)


def get_cached_campaign(campaign_id: str) -> Campaign:
    """As get_campaign, from the join path's cache (at most CACHE_SECONDS old)."""
    return _shown(cached_campaign(campaign_id), campaign_id)


def _shown(found: Campaign | None, campaign_id: str) -> Campaign:
    if found is None or not _visible(found):
        raise NotFound(f"campaign {campaign_id!r} not found", "campaign_not_found")
    return found


def list_campaigns(
    cursor: str, limit: int, sku_id: str = "", status: CampaignStatus | None = None
) -> tuple[list[Campaign], str]:
    """Newest first. Drafts appear only to their owner (and to admins)."""
    page = paging.parse(cursor, limit)
    who = caller()
    query = Campaign.objects(sku_id=sku_id) if sku_id else Campaign.objects
    if not who.has_role(ADMIN):
        query = query.filter(__raw__={"$or": [{"stage": {"$ne": Stage.DRAFT}}, {"owner_id": who.user_id}]})
    if status is not None:
        query = query.filter(**_status_filter(status))
    return paging.newest_first(query, page)


def _status_filter(status: CampaignStatus) -> dict:
    at = now()
    match status:
        case CampaignStatus.DRAFT:
            return {"stage": Stage.DRAFT}
        case CampaignStatus.SCHEDULED:
            return {"stage": Stage.PUBLISHED, "start_time__gt": at, "end_time__gt": at}
        case CampaignStatus.LIVE:
            return {"stage": Stage.PUBLISHED, "start_time__lte": at, "end_time__gt": at}
        case _:
            return {"__raw__": {"$or": [{"stage": Stage.ENDED}, {"stage": Stage.PUBLISHED, "end_time": {"$lte": at}}]}}


# ── the join path's read-through cache ──────────────────────────────────────────────────────

_cache: dict[str, tuple[float, Campaign]] = {}
_cache_lock = threading.Lock()
# One reader per campaign refreshes it: a flash crowd finds the entry expired all at once, and
# without this every request in flight (64 in groupbuy_flash) would read the campaign again.
# Striped, so that ids nobody has (a 404) cannot grow a table of locks.
_refresh_locks = [threading.Lock() for _ in range(64)]


def cached_campaign(campaign_id: str) -> Campaign:
    """The campaign, at most CACHE_SECONDS old (drafts included: callers check the status)."""
    if (campaign := _fresh(campaign_id)) is not None:
        return campaign
    with _refresh_locks[hash(campaign_id) % len(_refresh_locks)]:
        if (campaign := _fresh(campaign_id)) is not None:
            return campaign  # refreshed by the request this one waited for
        campaign = get_or_404(Campaign, campaign_id, "campaign")
        with _cache_lock:
            _cache[campaign_id] = (time.monotonic(), campaign)
    return campaign


def _fresh(campaign_id: str) -> Campaign | None:
    hit = _cache.get(campaign_id)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS else None


def _forget(campaign_id: str) -> None:
    with _cache_lock:
        _cache.pop(campaign_id, None)
