"""The seat gate under a crowd: two real API processes, 200 concurrent join attempts, a Redis flush."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import redis

from groupbuy.documents import Seat
from groupbuy.service.seat_gate import SeatGate
from mallkit import context
from mallkit.testing import free_port, wait_serving
from socialmall.common.v1 import money_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc

from ..conftest import BRAND

pytestmark = pytest.mark.integration

TEAMS, SIZE, JOIN_LIMIT, USERS, ATTEMPTS = 10, 5, 2, 60, 200
EXPECTED_REFUSALS = {"team_full", "already_joined", "join_limit_reached"}


@pytest.fixture
def two_apis(mongo_db, infra_env, spawn, retail_target) -> Iterator[list[str]]:
    targets, processes = [], []
    for i in range(2):
        port = free_port()
        env = {**infra_env, "MONGO_DB": mongo_db, "GRPC_PORT": str(port), "RETAIL_GRPC_TARGET": retail_target}
        processes.append(spawn(f"groupbuy-api-{i}", ["-m", "groupbuy.api"], env))
        targets.append(f"127.0.0.1:{port}")
    for target in targets:
        wait_serving(target, timeout=30)
    yield targets
    for process in processes:
        assert "Traceback" not in process.log(), process.log()


def as_(user_id: str, *roles: str) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), context.Caller(user_id, frozenset(roles or {"consumer"})))


def test_two_hundred_join_attempts_on_ten_teams_of_five_take_exactly_fifty_seats(two_apis, redis_url):
    channels = [grpc.insecure_channel(t) for t in two_apis]
    stubs = [pb_grpc.GroupbuyServiceStub(c) for c in channels]
    campaign = (
        stubs[0]
        .CreateCampaign(
            pb.CreateCampaignRequest(
                sku_id="sku_mist",
                group_price=money_pb2.Money(fen=990),
                team_size=SIZE,
                limits=pb.UserLimits(teams_joined=JOIN_LIMIT),
                publish=True,
            ),
            metadata=as_(BRAND.user_id, "brand"),
            timeout=10,
        )
        .campaign
    )
    team_ids = [
        stubs[i % 2]
        .OpenTeam(pb.OpenTeamRequest(campaign_id=campaign.id), metadata=as_(f"u_lead_{i}"), timeout=10)
        .team.id
        for i in range(TEAMS)
    ]
    gate = SeatGate(redis.Redis.from_url(redis_url, decode_responses=True))
    finished = itertools.count(1)
    flushed = threading.Event()

    def attempt(i: int) -> str:
        user_id, team_id = f"u_{i % USERS}", team_ids[(i * 7 + i // USERS) % TEAMS]
        try:
            stubs[i % 2].JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=as_(user_id), timeout=30)
            outcome = "ok"
        except grpc.RpcError as err:
            outcome = dict(err.trailing_metadata() or ()).get("error-code", err.code().name)
        if next(finished) == ATTEMPTS // 3:  # count() hands each thread a distinct number
            flushed.set()
            gate.redis.flushdb()  # mid-crowd: every later claim must rebuild the gate from MongoDB
        return outcome

    with ThreadPoolExecutor(32) as threads:
        outcomes = Counter(threads.map(attempt, range(ATTEMPTS)))
    for channel in channels:
        channel.close()

    assert flushed.is_set()
    assert outcomes["ok"] == TEAMS * (SIZE - 1), outcomes
    assert set(outcomes) - {"ok"} <= EXPECTED_REFUSALS, outcomes
    seats = list(Seat.objects(campaign_id=campaign.id, status__in=["held", "paid"]))
    assert len(seats) == TEAMS * SIZE
    for team_id in team_ids:
        members = [s for s in seats if s.team_id == team_id]
        assert sorted(s.seat_no for s in members) == list(range(1, SIZE + 1))
        assert len({s.user_id for s in members}) == SIZE
    joined = Counter(s.user_id for s in seats if s.kind == "j")
    assert max(joined.values()) <= JOIN_LIMIT
    # the gate agrees with MongoDB after the flush
    assert gate.claimed(campaign.id) == TEAMS * SIZE
    assert gate.joinable(campaign.id, 100) == []
