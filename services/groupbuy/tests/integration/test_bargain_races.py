"""Concurrent helps on one bargain from real OS processes against the Mongo wire server and Redis.

One pool of spawned helper processes serves every test in this module (spawning and importing
is most of the cost). Each race starts at a wall-clock moment every process waits for, so the
helps really overlap. After a race: helps == N, seqs 1..N each once, Σ cuts == original − floor,
price == floor, one quota slot per help that landed.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from groupbuy.documents.bargains import Bargain, BargainCampaign, BargainDebut, HelpQuota
from groupbuy.domain.bargains import BargainTerms
from groupbuy.service import bargains
from mallkit import context, mongo
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import retail_pb2

pytestmark = pytest.mark.integration

PROCESSES = int(os.environ.get("BARGAIN_RACE_PROCESSES", "50"))
SKU = "sku_bag"
BRAND = context.Caller("u_brand", frozenset({"admin"}))  # an admin: no brand ownership round trip


class SkuOnly:
    def GetSku(self, request):
        sku = retail_pb2.Sku(id=request.sku_id, product_id="prd_1", price=money_pb2.Money(fen=100_000), sellable=True)
        return retail_pb2.GetSkuResponse(sku=sku)


# ── the child side ──────────────────────────────────────────────────────────────────────────

_connected: str | None = None


def _warm_up() -> None:
    """Pool initializer: pay the imports before any race starts."""
    import redis  # noqa: F401

    import groupbuy.service.bargains  # noqa: F401


def _help_in_child(args: tuple[str, str, str, str, str, float]) -> tuple[str, str]:
    """One helper in a helper process: wait for the start moment, then cut once."""
    global _connected
    mongo_uri, db_name, redis_url, bargain_id, helper_id, start_at = args
    import redis

    from groupbuy.service import bargains as child_bargains
    from mallkit import context as child_context
    from mallkit import mongo as child_mongo
    from mallkit.errors import DomainError

    if _connected != db_name:
        os.environ["MONGO_URI"] = mongo_uri
        child_mongo.connect(db_name)
        _connected = db_name
    lock = redis.Redis.from_url(redis_url, decode_responses=True) if redis_url else None
    child_mongo.ping()
    time.sleep(max(0.0, start_at - time.time()))
    with child_context.bound(child_context.new_request_id(), child_context.Caller(helper_id)):
        try:
            help_, _ = child_bargains.help_bargain(bargain_id, redis=lock)
            return helper_id, f"ok:{help_.seq}"
        except DomainError as err:
            return helper_id, err.code
        finally:
            if lock is not None:
                lock.close()


# ── the test side ───────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def pool() -> Iterator[multiprocessing.pool.Pool]:
    """PROCESSES helper processes, forked from a fresh forkserver that imported the code once.

    Like spawn, nothing of the pytest process (its threads, its Mongo and Redis connections) is
    inherited: each child connects on its own. Unlike spawn, fifty children do not each pay ~3 s
    of imports (that made four minutes on a two-core machine)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "groupbuy.service.bargains", "redis"])
    with ctx.Pool(PROCESSES, initializer=_warm_up) as workers:
        workers.map(time.sleep, [0] * PROCESSES)  # every process is up before the first race
        yield workers


@pytest.fixture
def race(pool, mongo_db, mongo_uri, redis_url) -> Callable[..., list[tuple[str, str]]]:
    mongo.ensure_indexes([BargainCampaign, Bargain, HelpQuota, BargainDebut])

    def run(bargain_id: str, helpers: list[str], with_redis: bool = True) -> list[tuple[str, str]]:
        start_at = time.time() + 1.0
        jobs = [(mongo_uri, mongo_db, redis_url if with_redis else "", bargain_id, h, start_at) for h in helpers]
        return pool.map(_help_in_child, jobs, chunksize=1)

    return run


def new_bargain(original: int, floor: int, n: int) -> Bargain:
    with context.bound("rid", BRAND):
        campaign = bargains.create_bargain_campaign(SkuOnly(), BargainTerms(SKU, original, floor, n))
    with context.bound("rid", context.Caller("u_initiator")):
        return bargains.start_bargain(campaign.id)


def assert_cut_exactly(bargain_id: str, outcomes: list[tuple[str, str]], n: int) -> None:
    bargain = Bargain.objects.get(id=bargain_id)
    landed = sorted(int(o.split(":")[1]) for _, o in outcomes if o.startswith("ok:"))
    assert landed == list(range(1, n + 1)), Counter(o for _, o in outcomes)
    assert bargain.helps == n == len(bargain.help_log)
    assert sorted(h.seq for h in bargain.help_log) == list(range(1, n + 1))
    assert len({h.helper_id for h in bargain.help_log}) == n
    assert sum(h.cut_fen for h in bargain.help_log) == bargain.original_fen - bargain.floor_fen
    assert all(h.cut_fen >= 1 for h in bargain.help_log)
    assert (bargain.current_fen, bargain.status) == (bargain.floor_fen, "completed")
    # the price walks down seq by seq with no gap: each help's price_after is the previous minus its cut
    price = bargain.original_fen
    for h in sorted(bargain.help_log, key=lambda h: h.seq):
        price -= h.cut_fen
        assert h.price_after_fen == price
    helped = [e["data"] for e in bargain.outbox if e["type"] == "bargain_helped"]
    assert sorted(e["seq"] for e in helped) == list(range(1, n + 1))
    assert [e["type"] for e in bargain.outbox].count("bargain_completed") == 1
    assert HelpQuota.objects.count() == n  # refused helps gave their slot back


def test_fifty_processes_cut_a_bargain_needing_fifty(race):
    bargain = new_bargain(original=50_000, floor=1_000, n=50)
    outcomes = race(bargain.id, [f"u_h{i}" for i in range(50)])
    assert_cut_exactly(bargain.id, outcomes, 50)


def test_fifty_processes_cut_a_bargain_needing_ten(race):
    bargain = new_bargain(original=10_000, floor=9_990, n=10)  # 1 fen per helper exactly
    outcomes = race(bargain.id, [f"u_h{i}" for i in range(50)])
    assert_cut_exactly(bargain.id, outcomes, 10)
    assert Counter(o for _, o in outcomes if not o.startswith("ok:")) == {"bargain_finished": 40}


def test_without_redis_compare_and_set_alone_keeps_every_cut(race):
    """The lock is an optimisation: with no Redis at all, the conditional write still serializes."""
    bargain = new_bargain(original=10_000, floor=100, n=10)
    outcomes = race(bargain.id, [f"u_h{i}" for i in range(30)], with_redis=False)
    assert_cut_exactly(bargain.id, outcomes, 10)
    assert Counter(o for _, o in outcomes if not o.startswith("ok:")) == {"bargain_finished": 20}


def test_one_user_racing_themselves_cuts_once(race):
    bargain = new_bargain(original=10_000, floor=100, n=10)
    outcomes = race(bargain.id, ["u_same"] * 20, with_redis=False)
    codes = Counter(o for _, o in outcomes)
    assert codes.pop("ok:1") == 1 and "ok:2" not in codes
    # the losers were refused as already helped, or (while racing attempts held the user's
    # three daily slots for a moment) as over the daily limit: never a second cut
    assert set(codes) <= {"already_helped", "daily_help_limit_reached"}, codes
    stored = Bargain.objects.get(id=bargain.id)
    assert stored.helps == 1 and stored.helper_ids == ["u_same"]
    assert [q.id for q in HelpQuota.objects] == [f"u_same:{q.day}:1" for q in HelpQuota.objects]
    assert HelpQuota.objects.count() == 1
