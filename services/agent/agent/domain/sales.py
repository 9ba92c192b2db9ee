"""Sales attributed to an agent, as retail's order_paid reports them.

Only recorded here: rebates are earned on delivered consumer orders only (a later rule), never on
payment and never on recruitment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AttributedSale:
    order_id: str
    agent_id: str
    buyer_id: str
    total_fen: int
    paid_at: datetime


def attributed_sale(data: dict[str, Any]) -> AttributedSale | None:
    """The sale in an order_paid event's data, or None when no agent is attributed."""
    agent_id = (data.get("attribution") or {}).get("agent_id", "")
    if not agent_id:
        return None
    return AttributedSale(
        order_id=str(data["order_id"]),
        agent_id=str(agent_id),
        buyer_id=str(data["buyer_id"]),
        total_fen=int(data["total_fen"]),
        paid_at=datetime.fromisoformat(data["paid_at"]),
    )
