"""groupbuy_flash: a flash crowd on 拼团 seats — 20,000 JoinTeam attempts from 64 concurrent clients
for 2,000 free seats, through the real groupbuy API process (Redis seat gate + MongoDB).

Setup opens 500 teams of 5 (the leaders' seats); the crowd (8,000 users, each allowed 3 seats)
then joins random teams until all 2,000 member seats are taken; most attempts are refused (team
full, already in it, limit reached), which is what a flash crowd looks like.

ceiling: a bare grpcio echo server in its own process under the same 64 client threads, same run.
correct: MongoDB holds exactly 2,000 member seats and 500 leader seats; every team has seats 1..5
held by 5 different users; no user holds more than 3 member seats; every granted join is in
MongoDB and every MongoDB seat was granted; the Redis gate agrees with MongoDB.
details.phases: when the last seat was granted, and the refusal rate after that (gate only).
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import Counter
from typing import Any

import grpc
import mongoengine
from harness import api_process, echo_ceiling, fixed_work

from mallkit import context, mongo
from mallkit.redis_conn import connect as connect_redis
from socialmall.common.v1 import money_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2

CLIENTS = 64
ATTEMPTS = 20_000
TEAMS, SIZE = 500, 5
MEMBER_SEATS = TEAMS * (SIZE - 1)
USERS, JOIN_LIMIT = 8_000, 3
CEILING_SECONDS = 4.0


class _SkuStandIn:
    """Retail's answer for the campaign's SKU (the bench measures groupbuy, not retail)."""

    def GetSku(self, request: retail_pb2.GetSkuRequest) -> retail_pb2.GetSkuResponse:
        price = money_pb2.Money(fen=1990)
        return retail_pb2.GetSkuResponse(sku=retail_pb2.Sku(id=request.sku_id, price=price, sellable=True))


def seed_campaign(db_name: str) -> str:
    from groupbuy.documents import DOCUMENTS
    from groupbuy.domain.campaigns import CampaignTerms, UserLimits
    from groupbuy.service import campaigns

    mongo.connect(db_name)
    mongo.ensure_indexes(DOCUMENTS)
    terms = CampaignTerms(
        "sku_bench", 990, SIZE, 24, seat_allotment=TEAMS * SIZE, limits=UserLimits(teams_joined=JOIN_LIMIT)
    )
    with context.bound("bench", context.Caller("u_bench_admin", frozenset({"admin"}))):
        return campaigns.create_campaign(_SkuStandIn(), terms, publish=True).id


def check(campaign_id: str, granted: int) -> dict[str, Any]:
    from groupbuy.documents import Seat
    from groupbuy.service.seat_gate import SeatGate

    seats = list(
        Seat.objects(campaign_id=campaign_id, status__in=["held", "paid"]).only("team_id", "user_id", "seat_no", "kind")
    )
    by_team: dict[str, list] = {}
    for seat in seats:
        by_team.setdefault(seat.team_id, []).append(seat)
    teams_exact = len(by_team) == TEAMS and all(
        sorted(s.seat_no for s in members) == list(range(1, SIZE + 1)) and len({s.user_id for s in members}) == SIZE
        for members in by_team.values()
    )
    joined = Counter(s.user_id for s in seats if s.kind == "j")
    member_seats = sum(joined.values())
    gate_claimed = SeatGate(connect_redis()).claimed(campaign_id)
    return {
        "member_seats": member_seats,
        "leader_seats": len(seats) - member_seats,
        "granted_joins": granted,
        "teams_exact": teams_exact,
        "max_seats_per_user": max(joined.values(), default=0),
        "gate_claimed": gate_claimed,
        "exact": member_seats == MEMBER_SEATS == granted
        and len(seats) - member_seats == TEAMS
        and teams_exact
        and max(joined.values(), default=0) <= JOIN_LIMIT
        and gate_claimed == len(seats),
    }


def phases(finished: list[tuple[float, bool]], started: float) -> dict[str, float]:
    """Until the last seat was granted (seat inserts set the pace), and after it (refusals only)."""
    finished.sort()
    last_grant = max((i for i, (_, granted) in enumerate(finished) if granted), default=-1)
    sold_out_at = finished[last_grant][0] if last_grant >= 0 else started
    after = len(finished) - last_grant - 1
    return {
        "sold_out_after_s": round(sold_out_at - started, 2),
        "attempts_until_sold_out": last_grant + 1,
        "refusals_per_s_after": round(after / (finished[-1][0] - sold_out_at), 1) if after else 0.0,
    }


def run() -> dict:
    ceiling = echo_ceiling(CLIENTS, CEILING_SECONDS)
    db_name = f"bench_groupbuy_{os.getpid()}"
    campaign_id = seed_campaign(db_name)
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {"granted": [], "refused": []}
    finished: list[tuple[float, bool]] = []  # (when, granted) per attempt, for the two phases
    lock = threading.Lock()
    try:
        with api_process("groupbuy.api", {"MONGO_DB": db_name}) as target, grpc.insecure_channel(target) as channel:
            stub = pb_grpc.GroupbuyServiceStub(channel)
            team_ids = [
                stub.OpenTeam(
                    pb.OpenTeamRequest(campaign_id=campaign_id),
                    metadata=context.to_metadata("bench", context.Caller(f"u_leader_{i}")),
                    timeout=10,
                ).team.id
                for i in range(TEAMS)
            ]

            def attempt(user_id: str, team_id: str):
                metadata = context.to_metadata("bench", context.Caller(user_id))

                def call() -> None:
                    began = time.perf_counter()
                    try:
                        stub.JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=metadata, timeout=30)
                        code = "ok"
                    except grpc.RpcError as err:
                        code = dict(err.trailing_metadata() or ()).get("error-code", err.code().name)
                    with lock:
                        outcomes[code] += 1
                        latencies["granted" if code == "ok" else "refused"].append(time.perf_counter() - began)
                        finished.append((time.perf_counter(), code == "ok"))
                    if code not in {"ok", "team_full", "already_joined", "join_limit_reached"}:
                        raise RuntimeError(code)

                return call

            calls = [attempt(f"u_{rng.randrange(USERS)}", rng.choice(team_ids)) for _ in range(ATTEMPTS)]
            started = time.perf_counter()
            load = fixed_work(calls, CLIENTS)
        books = check(campaign_id, outcomes["ok"])
    finally:
        mongoengine.get_connection().drop_database(db_name)
    return {
        "name": "groupbuy_flash",
        "value": round(load.per_second, 1),
        "unit": "join attempts/s",
        "ceiling": round(ceiling.per_second, 1),
        "ratio": round(load.per_second / ceiling.per_second, 3),
        "correct": bool(books["exact"]) and load.errors == 0,
        "details": {
            "clients": CLIENTS,
            "attempts": ATTEMPTS,
            "seconds": round(load.seconds, 2),
            "join": load.summary(),
            "outcomes": dict(outcomes),
            # a granted join waits for its seat's MongoDB insert; a refusal is answered by the gate
            "p50_ms_by_outcome": {k: round(statistics.median(v) * 1000, 1) for k, v in latencies.items() if v},
            "phases": phases(finished, started),
            "raw_echo": ceiling.summary(),
            "books": books,
        },
    }
