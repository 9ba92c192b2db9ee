"""Persistence of the agent network (mongoengine)."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Agent(me.Document):
    id = me.StringField(primary_key=True)
    # one agent per user: the unique index is what makes concurrent registrations safe
    user_id = me.StringField(required=True, unique=True)
    display_name = me.StringField(required=True)
    upline_id = me.StringField(default="")
    # the root agent of this agent's network (its own id for a root), so a network is one query
    root_id = me.StringField(required=True)
    depth = me.IntField(required=True, min_value=1)
    invite_code = me.StringField(required=True, unique=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "agents", "indexes": ["upline_id", "root_id"]}


class ComplianceAlarm(me.Document):
    """Audit record of a network nearing the anti-pyramid thresholds."""

    id = me.StringField(primary_key=True)
    kind = me.StringField(required=True)
    level = me.StringField(required=True)
    agent_id = me.StringField(required=True)  # whose registration raised it
    root_id = me.StringField(required=True)
    value = me.IntField(required=True)
    threshold = me.IntField(required=True)
    message = me.StringField(required=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "compliance_alarms", "indexes": [("root_id", "created_at")]}


class AgentSale(me.Document):
    """A paid order attributed to an agent; one per order, whatever the event deliveries."""

    id = me.StringField(primary_key=True)
    order_id = me.StringField(required=True, unique=True)
    agent_id = me.StringField(required=True)
    buyer_id = me.StringField(required=True)
    total_fen = me.IntField(required=True)
    paid_at = me.DateTimeField(required=True)
    recorded_at = me.DateTimeField(default=now)
    meta = {"collection": "agent_sales", "indexes": [("agent_id", "paid_at")]}


DOCUMENTS = [Agent, ComplianceAlarm, AgentSale]
