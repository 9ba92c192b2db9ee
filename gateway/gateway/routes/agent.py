"""Agent: 微商 agents and their upline tree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, role
from gateway.clients import Rpc
from gateway.schemas import Id, RequestBody, path_id
from mallkit.protos import datetime_of
from socialmall.agent.v1 import agent_pb2 as pb

router = APIRouter(tags=["agent"], responses=errors.COMMON)

AgentId = Annotated[str, path_id("agt")]


class NewAgent(RequestBody):
    display_name: str = Field(..., min_length=1, max_length=64, examples=["Xiao Li"])
    invite_code: Id | None = Field(
        None, description="The inviting agent's code; without it the caller becomes a root agent.", examples=["K7Q2ZP"]
    )


class Agent(BaseModel):
    id: str = Field(..., examples=["agt_6650a1f2c3d4e5f6a7b8c9d9"])
    user_id: str = Field(..., examples=["u_42"])
    display_name: str = Field(..., examples=["Xiao Li"])
    upline_id: str | None = Field(..., description="Null for a root agent.", examples=[None])
    depth: int = Field(..., description="1 for a root agent.", examples=[1])
    invite_code: str = Field(..., description="The code this agent hands to people it invites.", examples=["K7Q2ZP"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, agent: pb.Agent) -> Agent:
        return cls(
            id=agent.id,
            user_id=agent.user_id,
            display_name=agent.display_name,
            upline_id=agent.upline_id or None,
            depth=agent.depth,
            invite_code=agent.invite_code,
            created_at=datetime_of(agent, "created_at"),
        )


@router.post(
    "/agents",
    status_code=201,
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Register the caller's agent record; joining is free (role agent, granted on an approved application)",
)
async def register_agent(body: NewAgent, rpc: Annotated[Rpc, Depends(role(Role.AGENT))]) -> Agent:
    request = pb.RegisterAgentRequest(display_name=body.display_name, invite_code=body.invite_code or "")
    reply = await rpc.agent("RegisterAgent", request)
    return Agent.from_pb(reply.agent)


@router.get(
    "/agents/{agent_id}",
    responses=errors.NEEDS_TOKEN,
    summary="The caller's own agent record or a direct downline's; an admin may read any (authenticated)",
    description="Anyone else's is a 404 `agent_not_found`.",
)
async def get_agent(agent_id: AgentId, rpc: Annotated[Rpc, Depends(authenticated)]) -> Agent:
    reply = await rpc.agent("GetAgent", pb.GetAgentRequest(agent_id=agent_id))
    return Agent.from_pb(reply.agent)
