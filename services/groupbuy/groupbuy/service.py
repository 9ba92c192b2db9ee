"""groupbuy use cases: load, apply the domain rules, save."""

from __future__ import annotations

import logging
from typing import Any

from groupbuy.documents import Campaign, PaidOrder
from groupbuy.domain import campaigns, paid_orders
from groupbuy.domain.campaigns import CampaignStatus
from groupbuy.retail import SkuSource, sku_price_fen
from mallkit import ids, mongo
from mallkit.access import ADMIN, BRAND, require_role, require_user
from mallkit.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)


# ── campaigns ───────────────────────────────────────────────────────────────────────────────


def create_campaign(
    retail: SkuSource, sku_id: str, group_price_fen: int, team_size: int, expiry_hours: int
) -> Campaign:
    """A brand (or an admin) opens a group-buy on a retail SKU, below that SKU's price."""
    who = require_role(BRAND, ADMIN)
    terms = campaigns.check_terms(sku_id, group_price_fen, team_size, expiry_hours)
    campaigns.check_group_price(terms, sku_price_fen(retail, terms.sku_id))
    campaign = Campaign(
        id=ids.new_id("cmp"),
        owner_id=who.user_id,
        sku_id=terms.sku_id,
        group_price_fen=terms.group_price_fen,
        team_size=terms.team_size,
        expiry_hours=terms.expiry_hours,
        status=CampaignStatus.LIVE,  # no draft/review step in the skeleton
    )
    campaign.save(force_insert=True)
    return campaign


def get_campaign(campaign_id: str) -> Campaign:
    found = Campaign.objects(id=campaign_id).first() if ids.is_valid(campaign_id) else None
    if found is None:
        raise NotFound(f"campaign {campaign_id!r} not found", "campaign_not_found")
    return found


# ── paid orders (from retail.order_paid) ────────────────────────────────────────────────────


def record_paid_order(event: dict[str, Any]) -> bool:
    """Record the order of a retail order_paid event; True if this call recorded it.

    Keyed by the unique order_id, so any later event for the same order is a no-op. A payload
    no redelivery can fix is logged and dropped (returning False) instead of being requeued forever.
    """
    try:
        facts = paid_orders.from_order_paid(event["data"])
    except InvalidArgument as exc:
        log.error("dropping order_paid event %s: %s", event["event_id"], exc.message)
        return False
    paid = PaidOrder(
        id=ids.new_id("pdo"),
        order_id=facts.order_id,
        buyer_id=facts.buyer_id,
        amount_fen=facts.amount_fen,
        group_team_id=facts.group_team_id,
        event_id=event["event_id"],
    )
    if not mongo.insert_once(paid):
        log.info("order %s was already recorded paid", facts.order_id)
        return False
    return True


def get_paid_order(order_id: str) -> PaidOrder:
    """Visible to the order's buyer and to admins; to anyone else it does not exist (as in retail)."""
    who = require_user()
    found = PaidOrder.objects(order_id=order_id).first() if ids.is_valid(order_id) else None
    if found is None or (found.buyer_id != who.user_id and not who.has_role(ADMIN)):
        raise NotFound(f"no paid order {order_id!r}", "paid_order_not_found")
    return found
