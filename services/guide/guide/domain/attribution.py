"""Orders attributed to a KOL link, as retail's order_paid reports them.

Only recorded here: KOL commission (and the self-purchase rule) comes with a later rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LinkedOrder:
    order_id: str
    link_id: str
    buyer_id: str
    total_fen: int
    paid_at: datetime


def linked_order(data: dict[str, Any]) -> LinkedOrder | None:
    """The order in an order_paid event's data, or None when no KOL link is attributed."""
    link_id = (data.get("attribution") or {}).get("kol_link_id", "")
    if not link_id:
        return None
    return LinkedOrder(
        order_id=str(data["order_id"]),
        link_id=str(link_id),
        buyer_id=str(data["buyer_id"]),
        total_fen=int(data["total_fen"]),
        paid_at=datetime.fromisoformat(data["paid_at"]),
    )
