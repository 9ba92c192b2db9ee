"""Retail's order events as groupbuy sees them: paid orders recorded, seats paid or released."""

from __future__ import annotations

import logging
from typing import Any

from groupbuy.documents import PaidOrder
from groupbuy.domain import paid_orders
from groupbuy.service import bargains, team_life
from groupbuy.service.seat_gate import SeatGate
from mallkit import ids, mongo
from mallkit.access import ADMIN, require_user
from mallkit.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)


def order_paid(gate: SeatGate, event: dict[str, Any]) -> bool:
    """Record the paid order (keyed by order id); a team's order pays its seat, and a bargain's
    order its purchase call did not record is recorded.

    A payload no redelivery can fix is logged and dropped (False) instead of being requeued forever.
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
    recorded = mongo.insert_once(paid)
    if not recorded:
        log.info("order %s was already recorded paid", facts.order_id)
    # each idempotent on its own: also after a crash in between
    if facts.group_team_id:
        team_life.seat_paid(gate, facts.order_id, facts.buyer_id, facts.order_key, facts.paid_at)
    if facts.bargain_id:
        bargains.order_paid(facts.bargain_id, facts.order_id, facts.buyer_id, facts.order_key)
    return recorded


def _team_order(event: dict[str, Any]) -> str:
    """The order id of a team's order event, or "" for any other order (or a malformed event)."""
    return _attributed_order(event, "group_team_id")


def _attributed_order(event: dict[str, Any], attribution_field: str) -> str:
    """The event's order id if the order is attributed through `attribution_field`, else ""."""
    data = event.get("data") or {}
    attribution = data.get("attribution") or {}
    order_id, attributed = data.get("order_id"), attribution.get(attribution_field)
    if not (isinstance(order_id, str) and order_id and isinstance(attributed, str) and attributed):
        return ""
    return order_id


def order_cancelled(gate: SeatGate, event: dict[str, Any]) -> bool:
    """An unpaid team order frees its seat; an unpaid bargain order loses its bargain."""
    if order_id := _team_order(event):
        data = event["data"]
        return team_life.order_cancelled(gate, order_id, str(data.get("buyer_id", "")), paid_orders.order_key_of(data))
    if order_id := _attributed_order(event, "bargain_id"):
        data = event["data"]
        return bargains.order_cancelled(data["attribution"]["bargain_id"], order_id, str(data.get("buyer_id", "")))
    return False


def order_refunded(gate: SeatGate, event: dict[str, Any]) -> bool:
    """Only a full refund takes a member out of a forming team."""
    order_id = _team_order(event)
    return bool(order_id) and event["data"].get("fully_refunded") is True and team_life.order_refunded(gate, order_id)


def get_paid_order(order_id: str) -> PaidOrder:
    """Visible to the order's buyer and to admins; to anyone else it does not exist (as in retail)."""
    who = require_user()
    found = PaidOrder.objects(order_id=order_id).first() if ids.is_valid(order_id) else None
    if found is None or (found.buyer_id != who.user_id and not who.has_role(ADMIN)):
        raise NotFound(f"no paid order {order_id!r}", "paid_order_not_found")
    return found
