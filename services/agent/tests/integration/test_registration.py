"""Registration use cases against a real Mongo wire server."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent import service
from agent.documents import DOCUMENTS, Agent, ComplianceAlarm
from agent.domain import network
from mallkit import context, mongo
from mallkit.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied

pytestmark = pytest.mark.integration


def as_user(user_id: str):
    return context.bound(context.new_request_id(), context.Caller(user_id, frozenset({"agent"})))


def test_chain_root_to_depth_three_records_a_depth_alarm(register):
    root = register("u_1")
    second = register("u_2", f" {root.invite_code.lower()} ")
    assert ComplianceAlarm.objects.count() == 0
    third = register("u_3", second.invite_code)
    assert [(a.depth, a.upline_id, a.root_id) for a in (root, second, third)] == [
        (1, "", root.id),
        (2, root.id, root.id),
        (3, second.id, root.id),
    ]
    assert len({root.invite_code, second.invite_code, third.invite_code}) == 3
    (alarm,) = ComplianceAlarm.objects
    assert (alarm.kind, alarm.level, alarm.agent_id, alarm.root_id, alarm.value) == (
        "network_depth",
        "warning",
        third.id,
        root.id,
        3,
    )
    with as_user("u_3"):
        assert service.get_agent(third.id).depth == 3
    with as_user("u_2"):  # its upline
        assert service.get_agent(third.id).depth == 3
    with as_user("u_1"), pytest.raises(NotFound):  # two levels up sees no further than its own downline
        service.get_agent(third.id)


def test_the_thirtieth_person_of_a_network_raises_a_headcount_alarm(register):
    root = register("u_root")
    Agent.objects.insert(
        [
            Agent(id=f"agt_seed{i}", user_id=f"u_seed{i}", display_name="seed", upline_id=root.id, root_id=root.id,
                  depth=2, invite_code=f"SEED{i:04d}")
            for i in range(28)
        ],
        load_bulk=False,
    )  # fmt: skip
    thirtieth = register("u_30", root.invite_code)
    (alarm,) = ComplianceAlarm.objects
    assert (alarm.kind, alarm.value, alarm.threshold, alarm.agent_id) == ("network_headcount", 30, 30, thirtieth.id)


def test_a_user_is_at_most_one_agent(register):
    root = register("u_1")
    with as_user("u_1"), pytest.raises(AlreadyExists) as err:
        service.register_agent("again")
    assert err.value.code == "already_agent"
    other = register("u_2")
    with as_user("u_1"), pytest.raises(AlreadyExists):
        service.register_agent("again", other.invite_code)
    with as_user("u_1"), pytest.raises(InvalidArgument) as err:
        service.register_agent("again", root.invite_code)
    assert err.value.code == "self_invite"
    assert Agent.objects(user_id="u_1").count() == 1


def test_refusals(mongo_db):
    with pytest.raises(PermissionDenied) as err:
        service.register_agent("anonymous")
    assert err.value.code == "unauthenticated"
    with as_user("u_1"), pytest.raises(NotFound) as err:
        service.register_agent("Amy", "ZZZZZZZZ")
    assert err.value.code == "invite_code_not_found"
    with as_user("u_1"), pytest.raises(InvalidArgument) as err:
        service.register_agent(" ")
    assert err.value.code == "invalid_display_name"
    with as_user("u_1"), pytest.raises(NotFound) as err:
        service.get_agent("agt_missing")
    assert err.value.code == "agent_not_found"
    assert Agent.objects.count() == 0


def test_an_invite_code_collision_draws_another_code(register, monkeypatch):
    codes = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(network, "new_invite_code", lambda: next(codes))
    assert register("u_1").invite_code == "AAAAAAAA"
    assert register("u_2").invite_code == "BBBBBBBB"


def test_eight_concurrent_registrations_of_one_user_make_one_agent(mongo_db):
    mongo.ensure_indexes(DOCUMENTS)  # as every process does at start (agent.api.build, agent.worker.setup)
    start = threading.Barrier(8)

    def attempt(_: int) -> str:
        with as_user("u_racer"):
            start.wait()
            try:
                service.register_agent("Racer")
                return "ok"
            except AlreadyExists as err:
                return err.code

    with ThreadPoolExecutor(8) as threads:
        outcomes = list(threads.map(attempt, range(8)))
    assert sorted(outcomes) == ["already_agent"] * 7 + ["ok"]
    assert Agent.objects(user_id="u_racer").count() == 1
