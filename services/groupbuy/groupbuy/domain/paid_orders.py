"""What groupbuy keeps from retail's order_paid event (schema: retail_s2b2c.service._order_event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mallkit.errors import InvalidArgument


@dataclass(frozen=True)
class PaidOrderFacts:
    order_id: str
    buyer_id: str
    amount_fen: int
    group_team_id: str
    bargain_id: str
    order_key: str  # the idempotency key retail stored for the order ("" if the event has none)
    paid_at: datetime | None  # when retail took the payment (None if the event does not say)


def from_order_paid(data: dict[str, Any]) -> PaidOrderFacts:
    """Read the event's data; a payload no redelivery can fix raises InvalidArgument `malformed_event`."""
    try:
        order_id, buyer_id, total = data["order_id"], data["buyer_id"], data["total_fen"]
        attribution = data.get("attribution") or {}
        group_team_id, bargain_id = attribution.get("group_team_id") or "", attribution.get("bargain_id") or ""
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidArgument(f"order_paid data lacks {exc}", "malformed_event") from exc
    if not isinstance(order_id, str) or not order_id or not isinstance(buyer_id, str):
        raise InvalidArgument("order_paid needs string order_id and buyer_id", "malformed_event")
    # bool is an int in Python; an amount of True fen is still malformed
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise InvalidArgument(f"order_paid total_fen must be a whole number of fen, got {total!r}", "malformed_event")
    if not isinstance(group_team_id, str) or not isinstance(bargain_id, str):
        raise InvalidArgument("order_paid attribution ids must be strings", "malformed_event")
    return PaidOrderFacts(
        order_id, buyer_id, total, group_team_id, bargain_id, order_key_of(data), _paid_at(data.get("paid_at"))
    )


def stored_key(service: str, key: str) -> str:
    """How retail stores the idempotency key a service placed an order under (scoped by service)."""
    return f"{service}/{key}"


def order_key_of(data: dict[str, Any]) -> str:
    """An order event's idempotency key ("" when it carries none)."""
    key = data.get("idempotency_key")
    return key if isinstance(key, str) else ""


def _paid_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None
