"""The seat gate under a crowd: two real API processes, 200 concurrent join attempts, a Redis
flush; and an API killed between the gate and MongoDB, with the crowd going on without it."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlparse

import grpc
import pytest
import redis

from groupbuy.documents import Seat
from groupbuy.service import gate_sync
from groupbuy.service.seat_gate import SeatGate
from mallkit import context
from mallkit.clock import frozen_at, now
from mallkit.testing import ServiceProcess, TcpProxy, free_port, wait_serving
from socialmall.common.v1 import money_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc

from ..conftest import BRAND

pytestmark = pytest.mark.integration

TEAMS, SIZE, JOIN_LIMIT, USERS, ATTEMPTS = 10, 5, 2, 60, 200
EXPECTED_REFUSALS = {"team_full", "already_joined", "join_limit_reached"}


@pytest.fixture
def mongo_proxy(mongo_uri: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the Mongo server, for an API to lose it."""
    address = urlparse(mongo_uri.replace("mongodb://", "http://", 1))
    proxy = TcpProxy((address.hostname or "127.0.0.1", address.port or 27017)).start()
    yield proxy
    proxy.cut()


@pytest.fixture
def two_apis(
    mongo_db, mongo_uri, mongo_proxy, infra_env, spawn, retail_target
) -> Iterator[list[tuple[str, ServiceProcess]]]:
    """Two groupbuy API processes on one database, (target, process) each; the second reaches
    MongoDB through `mongo_proxy`."""
    apis = []
    for i in range(2):
        port = free_port()
        uri = mongo_uri if i == 0 else _through(mongo_uri, mongo_proxy.port)
        env = {**infra_env, "MONGO_URI": uri, "MONGO_DB": mongo_db, "GRPC_PORT": str(port),
               "RETAIL_GRPC_TARGET": retail_target}  # fmt: skip
        apis.append((f"127.0.0.1:{port}", spawn(f"groupbuy-api-{i}", ["-m", "groupbuy.api"], env)))
    for target, _ in apis:
        wait_serving(target, timeout=30)
    yield apis
    for _, process in apis:
        assert "Traceback" not in process.log(), process.log()


def _through(mongo_uri: str, port: int) -> str:
    address = urlparse(mongo_uri)
    return address._replace(netloc=f"127.0.0.1:{port}").geturl()


def as_(user_id: str, *roles: str) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), context.Caller(user_id, frozenset(roles or {"consumer"})))


def campaign_with_teams(stubs: list[pb_grpc.GroupbuyServiceStub]) -> tuple[str, list[str]]:
    """A live campaign with TEAMS teams of SIZE, each holding its leader's seat."""
    request = pb.CreateCampaignRequest(
        sku_id="sku_mist",
        group_price=money_pb2.Money(fen=990),
        team_size=SIZE,
        limits=pb.UserLimits(teams_joined=JOIN_LIMIT),
        publish=True,
    )
    campaign = stubs[0].CreateCampaign(request, metadata=as_(BRAND.user_id, "brand"), timeout=10).campaign
    team_ids = [
        stubs[i % 2]
        .OpenTeam(pb.OpenTeamRequest(campaign_id=campaign.id), metadata=as_(f"u_lead_{i}"), timeout=10)
        .team.id
        for i in range(TEAMS)
    ]
    return campaign.id, team_ids


def crowd(stubs: list[pb_grpc.GroupbuyServiceStub], team_ids: list[str], on: Callable[[int], None]) -> Counter[str]:
    """ATTEMPTS joins from 32 threads, alternating the APIs; `on(n)` runs as the n-th one finishes."""
    finished = itertools.count(1)

    def attempt(i: int) -> str:
        user_id, team_id = f"u_{i % USERS}", team_ids[(i * 7 + i // USERS) % TEAMS]
        try:
            stubs[i % 2].JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=as_(user_id), timeout=30)
            outcome = "ok"
        except grpc.RpcError as err:
            outcome = dict(err.trailing_metadata() or ()).get("error-code", err.code().name)
        on(next(finished))  # count() hands each thread a distinct number
        return outcome

    with ThreadPoolExecutor(32) as threads:
        return Counter(threads.map(attempt, range(ATTEMPTS)))


def assert_exact(campaign_id: str, team_ids: list[str], gate: SeatGate) -> None:
    """Full teams of distinct users, per-user limits held, and the gate agreeing with MongoDB."""
    seats = list(Seat.objects(campaign_id=campaign_id, status__in=["held", "paid"]))
    assert len(seats) == TEAMS * SIZE
    for team_id in team_ids:
        members = [s for s in seats if s.team_id == team_id]
        assert sorted(s.seat_no for s in members) == list(range(1, SIZE + 1))
        assert len({s.user_id for s in members}) == SIZE
    joined = Counter(s.user_id for s in seats if s.kind == "j")
    assert max(joined.values()) <= JOIN_LIMIT
    assert gate.claimed(campaign_id) == TEAMS * SIZE
    assert gate.joinable(campaign_id, 100) == []


def test_two_hundred_join_attempts_on_ten_teams_of_five_take_exactly_fifty_seats(two_apis, redis_url):
    channels = [grpc.insecure_channel(target) for target, _ in two_apis]
    stubs = [pb_grpc.GroupbuyServiceStub(c) for c in channels]
    campaign_id, team_ids = campaign_with_teams(stubs)
    gate = SeatGate(redis.Redis.from_url(redis_url, decode_responses=True))
    flushed = threading.Event()

    def flush_a_third_of_the_way(n: int) -> None:
        if n == ATTEMPTS // 3:
            flushed.set()
            gate.redis.flushdb()  # mid-crowd: every later claim must rebuild the gate from MongoDB

    outcomes = crowd(stubs, team_ids, flush_a_third_of_the_way)
    for channel in channels:
        channel.close()

    assert flushed.is_set()
    assert outcomes["ok"] == TEAMS * (SIZE - 1), outcomes
    assert set(outcomes) - {"ok"} <= EXPECTED_REFUSALS, outcomes
    assert_exact(campaign_id, team_ids, gate)


def test_an_api_killed_between_the_gate_and_mongodb_loses_no_place(two_apis, mongo_proxy, redis_url):
    channels = [grpc.insecure_channel(target) for target, _ in two_apis]
    survivor, victim = (pb_grpc.GroupbuyServiceStub(c) for c in channels)
    campaign_id, team_ids = campaign_with_teams([survivor, victim])
    gate = SeatGate(redis.Redis.from_url(redis_url, decode_responses=True))
    for team_id in team_ids:  # the victim has read every team and the campaign: only inserts are left
        victim.JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=as_(f"u_warm_{team_id}"), timeout=10)

    mongo_proxy.stall()  # the victim's next claims pass the gate and hang before MongoDB...
    in_flight = [
        victim.JoinTeam.future(pb.JoinTeamRequest(team_id=team_id), metadata=as_(f"u_lost_{team_id}"), timeout=30)
        for team_id in team_ids
    ]
    time.sleep(1.0)
    two_apis[1][1].process.kill()  # ...and die there (SIGKILL: no cleanup runs)
    assert all(f.exception() is not None for f in in_flight)
    stranded = gate.claimed(campaign_id) - Seat.objects(campaign_id=campaign_id, status__in=["held", "paid"]).count()
    assert stranded == TEAMS  # the gate counts places MongoDB never received

    outcomes = crowd([survivor, survivor], team_ids, lambda n: None)
    assert set(outcomes) - {"ok"} <= EXPECTED_REFUSALS, outcomes
    # the worker's repair timer gives the stranded places back once they are past the grace...
    with frozen_at(now() + gate_sync.PENDING_GRACE + timedelta(seconds=1)):
        assert gate_sync.sweep_pending(gate, campaign_id) == TEAMS
    # ...and the survivor fills them, and no more
    for n, team_id in itertools.product(range(SIZE), team_ids):
        with contextlib.suppress(grpc.RpcError):
            survivor.JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=as_(f"u_new_{n}_{team_id}"), timeout=30)
    for channel in channels:
        channel.close()
    assert_exact(campaign_id, team_ids, gate)
