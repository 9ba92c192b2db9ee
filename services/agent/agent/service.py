"""agent use cases: load, apply the domain rules, save."""

from __future__ import annotations

import logging
from typing import Any

import mongoengine as me

from agent.documents import Agent, AgentSale, ComplianceAlarm
from agent.domain import network
from agent.domain.sales import attributed_sale
from mallkit import ids, mongo
from mallkit.access import ADMIN, require_role, require_user
from mallkit.errors import AlreadyExists, NotFound

log = logging.getLogger(__name__)

AGENT = "agent"

CODE_ATTEMPTS = 5


def _already_agent(user_id: str) -> AlreadyExists:
    return AlreadyExists(f"user {user_id!r} is already an agent", "already_agent")


def _upline_by_code(raw_code: str) -> network.Upline:
    code = network.normalize_invite_code(raw_code)
    upline = Agent.objects(invite_code=code).first()
    if upline is None:
        raise NotFound(f"invite code {code!r} not found", "invite_code_not_found")
    return network.Upline(upline.id, upline.user_id, upline.depth, upline.root_id)


def _insert_with_fresh_code(agent: Agent) -> None:
    """Insert under a new random invite code, retrying only when the code (not the user) collided."""
    for _ in range(CODE_ATTEMPTS):
        agent.invite_code = network.new_invite_code()
        try:
            agent.save(force_insert=True)
            return
        except me.NotUniqueError as exc:
            if Agent.objects(user_id=agent.user_id).only("id").first():
                raise _already_agent(agent.user_id) from exc
            log.info("invite code collision, drawing another")
    raise RuntimeError(f"no free invite code after {CODE_ATTEMPTS} attempts")


def _record_alarms(agent: Agent) -> None:
    """Audit the network the new agent joined; a warning only, the registration stands."""
    headcount = Agent.objects(root_id=agent.root_id).count()
    for alarm in network.network_alarms(agent.depth, headcount):
        ComplianceAlarm(
            id=ids.new_id("alm"),
            kind=alarm.kind,
            level=alarm.level,
            agent_id=agent.id,
            root_id=agent.root_id,
            value=alarm.value,
            threshold=alarm.threshold,
            message=alarm.message,
        ).save(force_insert=True)
        log.warning("compliance alarm: %s", alarm.message, extra={"root_id": agent.root_id, "kind": alarm.kind})


def register_agent(display_name: str, invite_code: str = "") -> Agent:
    """Join as an agent: free (no fee, no purchase); under the upline owning `invite_code`, if given.

    The agent role itself carries money, so it is granted by approval at the gateway, never self-assigned."""
    who = require_role(AGENT)
    name = network.check_display_name(display_name)
    upline = _upline_by_code(invite_code) if invite_code.strip() else None
    agent_id = ids.new_id("agt")
    placement = network.place(agent_id, who.user_id, upline)
    if Agent.objects(user_id=who.user_id).only("id").first():
        raise _already_agent(who.user_id)
    agent = Agent(
        id=agent_id,
        user_id=who.user_id,
        display_name=name,
        upline_id=placement.upline_id,
        root_id=placement.root_id,
        depth=placement.depth,
    )
    _insert_with_fresh_code(agent)
    _record_alarms(agent)
    return agent


def get_agent(agent_id: str) -> Agent:
    """The agent itself, its direct upline and admins see it; to anyone else it does not exist."""
    who = require_user()
    found = Agent.objects(id=agent_id).first() if ids.is_valid(agent_id) else None
    if found is not None and found.user_id != who.user_id and not who.has_role(ADMIN):
        upline = Agent.objects(id=found.upline_id).only("user_id").first() if found.upline_id else None
        if upline is None or upline.user_id != who.user_id:
            found = None
    if found is None:
        raise NotFound(f"agent {agent_id!r} not found", "agent_not_found")
    return found


def record_agent_sale(data: dict[str, Any]) -> bool:
    """Record an order_paid attributed to a known agent; True if this call recorded it.

    Keyed by order id, so redelivered or concurrent events record it once.
    """
    sale = attributed_sale(data)
    if sale is None:
        return False
    if not Agent.objects(id=sale.agent_id).only("id").first():
        log.warning("order %s names unknown agent %s; not recorded", sale.order_id, sale.agent_id)
        return False
    return mongo.insert_once(
        AgentSale(
            id=ids.new_id("asl"),
            order_id=sale.order_id,
            agent_id=sale.agent_id,
            buyer_id=sale.buyer_id,
            total_fen=sale.total_fen,
            paid_at=sale.paid_at,
        )
    )
