"""Fixtures shared by agent's integration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent import service
from agent.documents import Agent
from mallkit import context
from mallkit.testing import order_paid_event


@pytest.fixture
def register(mongo_db: str) -> Callable[..., Agent]:
    """`register(user_id, invite_code="")` registers that user as an agent."""

    def make(user_id: str, invite_code: str = "") -> Agent:
        with context.bound(context.new_request_id(), context.Caller(user_id, frozenset({"agent"}))):
            return service.register_agent(f"agent {user_id}", invite_code)

    return make


@pytest.fixture
def order_paid() -> Callable[..., dict]:
    """retail's order_paid envelope for one order, attributed to `agent_id`."""
    return lambda order_id, agent_id, total_fen=3980: order_paid_event(order_id, total_fen=total_fen, agent_id=agent_id)
