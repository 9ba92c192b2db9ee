"""What retail reads from groupbuy's team events (schemas: docs/events.md, groupbuy section).

A payload no redelivery can fix raises InvalidArgument `malformed_event`, so the worker drops it
instead of requeueing it forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mallkit.errors import InvalidArgument


@dataclass(frozen=True)
class TeamOrders:
    """The team an event is about, the orders it names (none for a seat without an order) and why."""

    team_id: str
    order_ids: tuple[str, ...]
    reason: str = ""


def _object(data: Any, event: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidArgument(f"{event} data must be an object", "malformed_event")
    return data


def _text(data: dict[str, Any], field: str, event: str, *, required: bool = True) -> str:
    value = data.get(field, "")
    if not isinstance(value, str) or (required and not value):
        raise InvalidArgument(f"{event} needs a string {field}", "malformed_event")
    return value


def _team_orders(data: Any, event: str) -> TeamOrders:
    data = _object(data, event)
    order_ids = data.get("order_ids")
    if not isinstance(order_ids, list) or not all(isinstance(i, str) and i for i in order_ids):
        raise InvalidArgument(f"{event} needs order_ids, a list of order ids", "malformed_event")
    team_id, reason = _text(data, "team_id", event), _text(data, "reason", event, required=False)
    return TeamOrders(team_id, tuple(dict.fromkeys(order_ids)), reason)


def team_formed(data: Any) -> TeamOrders:
    return _team_orders(data, "team_formed")


def team_failed(data: Any) -> TeamOrders:
    return _team_orders(data, "team_failed")


def seat_released(data: Any) -> TeamOrders:
    """The seat's one order, or none when the seat was released before its order was placed."""
    data = _object(data, "seat_released")
    order_id = _text(data, "order_id", "seat_released", required=False)
    reason = _text(data, "reason", "seat_released", required=False)
    return TeamOrders(_text(data, "team_id", "seat_released"), (order_id,) if order_id else (), reason)
