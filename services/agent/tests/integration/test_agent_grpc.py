"""The agent API over real gRPC: statuses and error-code trailers."""

import grpc
import pytest

from agent.api import build
from agent.config import AgentSettings
from mallkit import context
from mallkit.config import KitSettings
from socialmall.agent.v1 import agent_pb2 as pb
from socialmall.agent.v1 import agent_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
def stub(mongo_db, amqp_uri, monkeypatch):
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    app = build(KitSettings.from_env(), AgentSettings(grpc_port=0, db_name=mongo_db), port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield pb_grpc.AgentServiceStub(channel)
    app.stop(grace=0)


def meta(user_id: str = "", role: str = "agent") -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), context.Caller(user_id, frozenset({role})))


def refusal(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_register_and_get_over_grpc(stub):
    root = stub.RegisterAgent(pb.RegisterAgentRequest(display_name="Root"), metadata=meta("u_1"), timeout=5).agent
    child = stub.RegisterAgent(
        pb.RegisterAgentRequest(display_name="Child", invite_code=root.invite_code), metadata=meta("u_2"), timeout=5
    ).agent
    assert (root.depth, root.upline_id, child.depth, child.upline_id) == (1, "", 2, root.id)
    assert child.user_id == "u_2" and len(child.invite_code) == 8 and child.created_at.seconds > 0
    for reader in ("u_2", "u_1"):  # the agent itself and its upline
        assert stub.GetAgent(pb.GetAgentRequest(agent_id=child.id), metadata=meta(reader), timeout=5).agent == child

    def read_as_stranger():
        return stub.GetAgent(pb.GetAgentRequest(agent_id=child.id), metadata=meta("u_3"), timeout=5)

    assert refusal(read_as_stranger) == (grpc.StatusCode.NOT_FOUND, "agent_not_found")


def test_refusals_over_grpc(stub):
    register = stub.RegisterAgent
    assert refusal(lambda: register(pb.RegisterAgentRequest(display_name="x"), metadata=meta(), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "unauthenticated",
    )
    # the agent role is granted by approval; a plain consumer cannot make itself an agent
    assert refusal(
        lambda: register(pb.RegisterAgentRequest(display_name="x"), metadata=meta("u_9", "consumer"), timeout=5)
    ) == (grpc.StatusCode.PERMISSION_DENIED, "role_required")
    unknown_code = pb.RegisterAgentRequest(display_name="x", invite_code="ZZZZZZZZ")
    assert refusal(lambda: register(unknown_code, metadata=meta("u_1"), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "invite_code_not_found",
    )
    register(pb.RegisterAgentRequest(display_name="x"), metadata=meta("u_1"), timeout=5)
    assert refusal(lambda: register(pb.RegisterAgentRequest(display_name="y"), metadata=meta("u_1"), timeout=5)) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "already_agent",
    )
    assert refusal(lambda: stub.GetAgent(pb.GetAgentRequest(agent_id="agt_nope"), metadata=meta("u_1"), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "agent_not_found",
    )
