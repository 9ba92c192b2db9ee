"""agent gRPC entrypoint: translate protos to use cases and back; nothing else."""

from __future__ import annotations

from agent import service
from agent.config import SERVICE, AgentSettings
from agent.documents import DOCUMENTS, Agent
from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.protos import timestamp
from socialmall.agent.v1 import agent_pb2 as pb
from socialmall.agent.v1 import agent_pb2_grpc as pb_grpc


def agent_pb(agent: Agent) -> pb.Agent:
    return pb.Agent(
        id=agent.id,
        user_id=agent.user_id,
        display_name=agent.display_name,
        upline_id=agent.upline_id,
        depth=agent.depth,
        invite_code=agent.invite_code,
        created_at=timestamp(agent.created_at),
    )


class AgentServicer(pb_grpc.AgentServiceServicer):
    def RegisterAgent(self, request, context):
        agent = service.register_agent(request.display_name, request.invite_code)
        return pb.RegisterAgentResponse(agent=agent_pb(agent))

    def GetAgent(self, request, context):
        return pb.GetAgentResponse(agent=agent_pb(service.get_agent(request.agent_id)))


def build(kit: KitSettings, settings: AgentSettings, port: int | None = None) -> grpc_server.GrpcApp:
    """Wire the API process: Mongo and the gRPC server (no outbox yet: agent raises no events)."""
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    return grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=lambda server: pb_grpc.add_AgentServiceServicer_to_server(AgentServicer(), server),
        service_names=[pb.DESCRIPTOR.services_by_name["AgentService"].full_name],
        checks=grpc_server.readiness_checks(kit.amqp_uri),
    )


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, AgentSettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
