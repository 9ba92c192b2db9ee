"""Group orders: retail's side of groupbuy's teams.

A team's seat order waits for the team to form before it can ship (team_formed lifts the hold);
a failed team or a released seat voids its order: cancelled while unpaid, refunded in full once
paid. Every effect is a conditional write on the order (and the full refund's derived id), so a
redelivered event or two workers racing on it change each order once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mallkit.errors import InvalidArgument
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain import group_events
from retail_s2b2c.domain.group_events import TeamOrders
from retail_s2b2c.domain.orders import OrderStatus
from retail_s2b2c.service import refunds
from retail_s2b2c.service.orders import cancel_unpaid

log = logging.getLogger(__name__)

GROUPBUY = "groupbuy"  # the reviewer of the refunds a void makes


def release_ship_hold(team_id: str, order_ids: tuple[str, ...]) -> int:
    """The team formed: its listed orders may ship. Orders of another team are left alone."""
    return Order.objects(id__in=list(order_ids), attribution__group_team_id=team_id, awaiting_group=True).update(
        set__awaiting_group=False
    )


def void_group_order(order_id: str, team_id: str, reason: str, detail: str = "") -> Order | None:
    """Cancel the team's order if unpaid (order_cancelled with `reason`, stock back), else refund
    everything not refunded yet; an order already cancelled or refunded stays as it is.

    Only an order attributed to `team_id` is touched: an event naming another order is a bug in
    the producer, logged and skipped, never a refund.
    """
    order = Order.objects(id=order_id).first()
    if order is None or order.attribution.group_team_id != team_id:
        log.error("group %s: order %s is not one of its orders; not voided", team_id, order_id)
        return None
    if order.status == OrderStatus.CREATED and cancel_unpaid(order, reason):
        return order.reload()
    # paid (maybe just now, winning the race with the cancel), refunded or cancelled: a refunded
    # or cancelled order makes this a no-op, save finishing a full refund a crash interrupted
    refunds.refund_in_full(order.reload(), f"{reason}: {detail}" if detail else reason, GROUPBUY)
    return order.reload()


# ── groupbuy's events ─────────────────────────────────────────────────────────────────────────


def _read(event: dict[str, Any], parse: Callable[[Any], TeamOrders]) -> TeamOrders | None:
    try:
        return parse(event["data"])
    except InvalidArgument as exc:
        log.error("dropping %s event %s: %s", event["type"], event["event_id"], exc.message)
        return None


def on_team_formed(event: dict[str, Any]) -> int:
    """Lift the ship hold of the team's orders; the number lifted now (0 on a redelivery)."""
    team = _read(event, group_events.team_formed)
    return release_ship_hold(team.team_id, team.order_ids) if team else 0


def _void_all(team: TeamOrders | None, reason: str) -> list[Order]:
    if team is None:
        return []
    voided = [void_group_order(order_id, team.team_id, reason, team.reason) for order_id in team.order_ids]
    return [order for order in voided if order is not None]


def on_team_failed(event: dict[str, Any]) -> list[Order]:
    """Void every order of the failed team (cancel the unpaid, refund the paid)."""
    return _void_all(_read(event, group_events.team_failed), "group_failed")


def on_seat_released(event: dict[str, Any]) -> list[Order]:
    """Void the released seat's order, if it had one."""
    return _void_all(_read(event, group_events.seat_released), "group_seat_released")
