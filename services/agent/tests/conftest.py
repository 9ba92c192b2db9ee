"""Fixtures shared by agent's integration tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from agent import service
from agent.documents import Agent
from mallkit import context
from mallkit.events import new_event


@pytest.fixture
def register(mongo_db: str) -> Callable[..., Agent]:
    """`register(user_id, invite_code="")` registers that user as an agent."""

    def make(user_id: str, invite_code: str = "") -> Agent:
        with context.bound(context.new_request_id(), context.Caller(user_id, frozenset({"consumer"}))):
            return service.register_agent(f"agent {user_id}", invite_code)

    return make


@pytest.fixture
def order_paid() -> Callable[..., dict]:
    """retail's order_paid envelope for one order, attributed to `agent_id`."""

    def make(order_id: str, agent_id: str, total_fen: int = 3980) -> dict:
        return new_event(
            "retail",
            "order_paid",
            {
                "order_id": order_id,
                "buyer_id": "u_buyer",
                "total_fen": total_fen,
                "items": [{"sku_id": "sku_1", "quantity": 1, "unit_price_fen": total_fen, "amount_fen": total_fen}],
                "attribution": {
                    "store_id": "",
                    "group_team_id": "",
                    "bargain_id": "",
                    "post_id": "",
                    "kol_link_id": "",
                    "agent_id": agent_id,
                },
                "transaction_id": f"tx_{order_id}",
                "paid_at": datetime.now(UTC).isoformat(),
            },
        )

    return make
