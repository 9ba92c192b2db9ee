"""Bargain use cases against the Mongo wire server and a real Redis, with a frozen clock; and the
BargainService through a real in-process gRPC server (error → status + error-code trailer)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import redis
from google.protobuf import timestamp_pb2

from groupbuy.documents.bargains import Bargain, BargainCampaign, BargainDebut, HelpQuota
from groupbuy.domain import bargains as rules
from groupbuy.domain.bargains import BargainTerms, BuyRule
from groupbuy.service import bargains, paid_orders
from groupbuy.servicers.bargains import BargainServicer
from mallkit import clock, context, mongo
from mallkit.errors import DomainError, FailedPrecondition, NotFound, PermissionDenied, Unavailable
from mallkit.paging import encode_cursor
from mallkit.testing import grpc_test_server, order_paid_event
from socialmall.common.v1 import money_pb2, page_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2

from ..conftest import answer_lost

pytestmark = pytest.mark.integration

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
SKU, SKU_PRICE = "sku_bag", 10_000
BRAND = context.Caller("u_brand", frozenset({"brand"}))
OTHER_BRAND = context.Caller("u_brand2", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))
ALICE = context.Caller("u_alice", frozenset({"consumer"}))


def user(name: str) -> context.Caller:
    return context.Caller(f"u_{name}", frozenset({"consumer"}))


def as_(who: context.Caller):
    return context.bound(context.new_request_id(), who)


class FakeRetail:
    """Retail's GetSku/GetProduct/GetBrand/CreateOrder over dicts; CreateOrder keyed like retail's
    (buyer, idempotency key). `refuse` makes CreateOrder raise that error."""

    def __init__(self) -> None:
        self.skus = {SKU: (SKU_PRICE, True), "sku_draft": (SKU_PRICE, False)}
        self.orders: dict[tuple[str, str], retail_pb2.Order] = {}
        self.order_requests: list[retail_pb2.CreateOrderRequest] = []
        self.refuse: DomainError | None = None

    def GetSku(self, request, grpc_context: Any = None):
        if request.sku_id not in self.skus:
            raise NotFound("no such sku")
        price, sellable = self.skus[request.sku_id]
        return retail_pb2.GetSkuResponse(
            sku=retail_pb2.Sku(
                id=request.sku_id, product_id="prd_1", price=money_pb2.Money(fen=price), stock=5, sellable=sellable
            )
        )

    def GetProduct(self, request, grpc_context: Any = None):
        return retail_pb2.GetProductResponse(product=retail_pb2.Product(id=request.product_id, brand_id="brd_1"))

    def GetBrand(self, request, grpc_context: Any = None):
        return retail_pb2.GetBrandResponse(brand=retail_pb2.Brand(id=request.brand_id, owner_id=BRAND.user_id))

    def CreateOrder(self, request, grpc_context: Any = None):
        self.order_requests.append(request)
        if self.refuse is not None:
            raise self.refuse
        key = (context.caller().user_id, request.idempotency_key)
        if key not in self.orders:
            line = request.lines[0]
            unit = request.quote.unit_price_fen[line.sku_id]
            self.orders[key] = retail_pb2.Order(
                id=f"ord_{len(self.orders) + 1}",
                buyer_id=key[0],
                total=money_pb2.Money(fen=unit * line.quantity),
                attribution=request.attribution,
            )
        return retail_pb2.CreateOrderResponse(order=self.orders[key])


@pytest.fixture
def db(mongo_db: str) -> str:
    mongo.ensure_indexes([BargainCampaign, Bargain, HelpQuota, BargainDebut])
    return mongo_db


@pytest.fixture
def retail() -> FakeRetail:
    return FakeRetail()


@pytest.fixture
def rds(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def campaign(db, retail) -> Callable[..., BargainCampaign]:
    """A live bargain campaign at T0 on SKU (¥100.00 → floor ¥1.00, 3 helpers unless changed)."""

    def make(**changes) -> BargainCampaign:
        fields = {"sku_id": SKU, "original_price_fen": 10_000, "floor_price_fen": 100, "helpers_needed": 3}
        with as_(BRAND), clock.frozen_at(T0):
            return bargains.create_bargain_campaign(retail, BargainTerms(**{**fields, **changes}))

    return make


def test_campaigns_are_listed_newest_first_by_sku_and_by_the_clock(campaign, retail):
    retail.skus["sku_tea"] = (SKU_PRICE, True)
    live = campaign()
    scheduled = campaign(start_time=T0 + timedelta(days=1))
    tea = campaign(sku_id="sku_tea")

    def listed(cursor: str = "", limit: int = 0, at: datetime = T0, **filters) -> tuple[list[str], str]:
        with context.bound("rid"), clock.frozen_at(at):  # public
            found, next_cursor = bargains.list_bargain_campaigns(cursor, limit, **filters)
        return [c.id for c in found], next_cursor

    assert listed()[0] == [tea.id, scheduled.id, live.id]
    first, cursor = listed(limit=2)
    assert (first, listed(cursor, 2)) == ([tea.id, scheduled.id], ([live.id], ""))
    assert listed(sku_id=SKU)[0] == [scheduled.id, live.id]
    assert listed(status="live")[0] == [tea.id, live.id]
    assert listed(status="scheduled")[0] == [scheduled.id]
    assert listed(status="ended", at=T0 + timedelta(days=30, seconds=1))[0] == [tea.id, live.id]
    assert listed(status="draft")[0] == []


def test_my_bargains_are_mine_newest_first_whatever_became_of_them(campaign, retail):
    first, second = campaign(), campaign()
    older = start(ALICE, first.id)
    newer = start(ALICE, second.id)
    start(user("bob"), first.id)
    buy(ALICE, older.id, retail)  # ordered: still listed

    def mine(who: context.Caller, cursor: str = "", limit: int = 0) -> tuple[list[str], str]:
        with as_(who), clock.frozen_at(T0):
            found, next_cursor = bargains.list_my_bargains(cursor, limit)
        return [b.id for b in found], next_cursor

    assert mine(ALICE)[0] == [newer.id, older.id]
    page, cursor = mine(ALICE, limit=1)
    assert (page, mine(ALICE, cursor, 1)) == ([newer.id], ([older.id], encode_cursor(older.id)))
    assert len(mine(user("bob"))[0]) == 1
    with context.bound("rid"), pytest.raises(PermissionDenied):
        bargains.list_my_bargains("", 0)


def snapshot() -> dict[str, list[dict]]:
    """Everything bargains keep, to prove a refusal changed nothing."""
    return {
        d.__name__: sorted((d._get_collection().find()), key=lambda doc: str(doc["_id"]))
        for d in (BargainCampaign, Bargain, HelpQuota, BargainDebut)
    }


def refused(call: Callable[[], Any]) -> str:
    """Run a call that must be refused; returns its code after checking nothing changed."""
    before = snapshot()
    with pytest.raises(DomainError) as err:
        call()
    assert snapshot() == before, f"{err.value.code} changed state"
    return err.value.code


def start(who: context.Caller, campaign_id: str, at: datetime = T0) -> Bargain:
    with as_(who), clock.frozen_at(at):
        return bargains.start_bargain(campaign_id)


def help_(who: context.Caller, bargain_id: str, at: datetime = T0, rds=None, rng=None):
    with as_(who), clock.frozen_at(at):
        return bargains.help_bargain(bargain_id, redis=rds, rng=rng)


def buy(who: context.Caller, bargain_id: str, retail: FakeRetail, at: datetime = T0) -> Bargain:
    with as_(who), clock.frozen_at(at):
        return bargains.buy_bargain(retail, bargain_id)


def events(bargain_id: str) -> list[tuple[str, dict]]:
    return [(e["type"], e["data"]) for e in Bargain.objects.get(id=bargain_id).outbox]


# ── campaigns ───────────────────────────────────────────────────────────────────────────────


def test_a_brand_creates_a_campaign_with_defaults_and_its_status_follows_the_clock(campaign):
    created = campaign()
    assert created.id.startswith("bgc_") and created.owner_id == BRAND.user_id
    stored = BargainCampaign.objects.get(id=created.id)
    assert (stored.expiry_hours, stored.buy_rule, stored.daily_help_limit) == (24, "any_price", 3)
    assert (stored.start_time, stored.end_time) == (T0, T0 + timedelta(days=30))
    with context.bound("rid"):  # public
        assert bargains.get_bargain_campaign(created.id).id == created.id
    for at, status in [(T0, "live"), (T0 + timedelta(days=30), "ended")]:
        with clock.frozen_at(at):
            assert bargains.campaign_status(stored) == status
    later = campaign(start_time=T0 + timedelta(hours=2))
    with clock.frozen_at(T0):
        assert bargains.campaign_status(later) == "scheduled"


def test_an_admin_may_create_one_for_any_brand(db, retail):
    with as_(ADMIN), clock.frozen_at(T0):
        made = bargains.create_bargain_campaign(
            retail, BargainTerms(SKU, 10_000, 9_000, 100, buy_rule=BuyRule.FLOOR_ONLY)
        )
    assert (made.owner_id, made.buy_rule, made.helpers_needed) == ("u_admin", "floor_only", 100)


@pytest.mark.parametrize(
    ("who", "changes", "code"),
    [
        (ALICE, {}, "role_required"),
        (context.ANONYMOUS, {}, "unauthenticated"),
        (OTHER_BRAND, {}, "not_sku_owner"),
        (BRAND, {"original_price_fen": 102, "floor_price_fen": 100}, "floor_too_close"),
        (BRAND, {"original_price_fen": 10_001}, "original_above_price"),
        (BRAND, {"floor_price_fen": 0}, "invalid_floor_price"),
        (BRAND, {"helpers_needed": 101}, "invalid_helpers_needed"),
        (BRAND, {"expiry_hours": 169}, "invalid_expiry"),
        (BRAND, {"sku_id": "sku_draft"}, "sku_not_sellable"),
        (BRAND, {"sku_id": "sku_gone"}, "sku_not_found"),
    ],
)
def test_campaign_refusals_create_nothing(db, retail, who, changes, code):
    fields = {"sku_id": SKU, "original_price_fen": 10_000, "floor_price_fen": 100, "helpers_needed": 3, **changes}

    def create():
        with as_(who), clock.frozen_at(T0):
            bargains.create_bargain_campaign(retail, BargainTerms(**fields))

    assert refused(create) == code
    assert BargainCampaign.objects.count() == 0


# ── start, help, buy ────────────────────────────────────────────────────────────────────────


def test_start_help_to_the_floor_and_buy(campaign, retail, rds):
    cmp = campaign()
    bargain = start(ALICE, cmp.id)
    assert (bargain.current_fen, bargain.helps, bargain.status) == (10_000, 0, "active")
    assert bargain.expires_at == T0 + timedelta(hours=24)
    assert events(bargain.id) == [
        (
            "bargain_started",
            {
                "bargain_id": bargain.id,
                "campaign_id": cmp.id,
                "initiator_id": "u_alice",
                "original_fen": 10_000,
                "floor_fen": 100,
                "helpers_needed": 3,
            },
        )
    ]
    # the initiator cuts once themselves: one of the N
    first, after = help_(ALICE, bargain.id, rds=rds)
    assert first.seq == 1 and after.helps == 1 and after.current_fen == 10_000 - first.cut_fen
    low, high = rules.cut_range(9_900, 1, 3)
    assert low <= first.cut_fen <= high
    second, _ = help_(user("bob"), bargain.id, T0 + timedelta(hours=1), rds=rds)
    third, done = help_(user("carol"), bargain.id, T0 + timedelta(hours=2), rds=rds)
    assert (second.seq, third.seq) == (2, 3)
    assert (done.status, done.current_fen, done.helps) == ("completed", 100, 3)
    assert first.cut_fen + second.cut_fen + third.cut_fen == 9_900
    assert [t for t, _ in events(bargain.id)] == [
        "bargain_started",
        "bargain_helped",
        "bargain_helped",
        "bargain_helped",
        "bargain_completed",
    ]
    assert events(bargain.id)[3][1] == {
        "bargain_id": bargain.id,
        "helper_id": "u_carol",
        "seq": 3,
        "cut_fen": third.cut_fen,
        "price_after_fen": 100,
    }
    assert events(bargain.id)[4][1]["price_fen"] == 100
    # no more cuts once at the floor
    assert refused(lambda: help_(user("dave"), bargain.id, rds=rds)) == "bargain_finished"
    # the helps are public, in order, paged
    with context.bound("rid"):
        page, cursor = bargains.list_bargain_helps(bargain.id, "", 2)
        rest, end = bargains.list_bargain_helps(bargain.id, cursor, 2)
    assert [(h.helper_id, h.seq) for h in page + rest] == [("u_alice", 1), ("u_bob", 2), ("u_carol", 3)]
    assert end == ""
    assert [h.price_after_fen for h in page + rest] == [after.current_fen, 100 + third.cut_fen, 100]

    ordered = buy(ALICE, bargain.id, retail)
    assert (ordered.status, ordered.order_id, ordered.order_price_fen) == ("ordered", "ord_1", 100)
    request = retail.order_requests[0]
    assert request.idempotency_key == bargain.id and request.attribution.bargain_id == bargain.id
    assert dict(request.quote.unit_price_fen) == {SKU: 100} and request.quote.source == "groupbuy"
    assert [(line.sku_id, line.quantity) for line in request.lines] == [(SKU, 1)]
    # a second BuyBargain returns the same order; nobody else may buy it
    assert buy(ALICE, bargain.id, retail).order_id == "ord_1"
    assert refused(lambda: buy(user("bob"), bargain.id, retail)) == "not_initiator"
    assert refused(lambda: help_(user("erin"), bargain.id)) == "bargain_finished"
    # ordered frees the place: Alice may start another bargain in the campaign
    assert start(ALICE, cmp.id).id != bargain.id


def test_start_refusals(campaign):
    cmp = campaign()
    first = start(ALICE, cmp.id)
    code = refused(lambda: start(ALICE, cmp.id))
    assert code == "already_started"
    with pytest.raises(DomainError) as err:
        start(ALICE, cmp.id)
    assert first.id in err.value.message
    assert refused(lambda: start(ALICE, cmp.id, T0 + timedelta(days=30))) == "campaign_not_live"
    scheduled = campaign(start_time=T0 + timedelta(days=1))
    assert refused(lambda: start(user("bob"), scheduled.id)) == "campaign_not_live"
    assert refused(lambda: start(user("bob"), "bgc_nope")) == "bargain_campaign_not_found"
    assert refused(lambda: start(context.ANONYMOUS, cmp.id)) == "unauthenticated"


def test_help_refusals_change_nothing(campaign, rds):
    bargain = start(ALICE, campaign().id)
    help_(user("bob"), bargain.id, rds=rds)
    assert refused(lambda: help_(user("bob"), bargain.id, rds=rds)) == "already_helped"
    assert refused(lambda: help_(context.ANONYMOUS, bargain.id)) == "unauthenticated"
    assert refused(lambda: help_(user("carol"), "brg_nope")) == "bargain_not_found"
    expiry = T0 + timedelta(hours=24)
    assert refused(lambda: help_(user("carol"), bargain.id, expiry)) == "bargain_expired"
    assert Bargain.objects.get(id=bargain.id).helps == 1


def test_the_daily_help_limit_counts_per_day_in_china_across_bargains(campaign, rds):
    cmp = campaign(daily_help_limit=2)
    friends = [start(user(f"f{i}"), cmp.id) for i in range(3)]
    late = T0.replace(hour=15, minute=59)  # 23:59 in Beijing
    help_(ALICE, friends[0].id, T0, rds=rds)
    help_(ALICE, friends[1].id, late, rds=rds)
    assert refused(lambda: help_(ALICE, friends[2].id, late, rds=rds)) == "daily_help_limit_reached"
    assert Bargain.objects.get(id=friends[2].id).helps == 0
    # midnight in Beijing: a new day, a new allowance
    help_(ALICE, friends[2].id, late + timedelta(minutes=1), rds=rds)
    assert sorted(q.id for q in HelpQuota.objects(helper_id="u_alice")) == [
        "u_alice:2030-03-01:1",
        "u_alice:2030-03-01:2",
        "u_alice:2030-03-02:1",
    ]


def test_cutting_ones_own_bargain_takes_no_daily_help(campaign, rds):
    cmp = campaign(daily_help_limit=1)
    own = start(ALICE, cmp.id)
    help_(ALICE, start(user("friend"), cmp.id).id, rds=rds)
    mine, _ = help_(ALICE, own.id, rds=rds)
    assert mine.seq == 1
    assert [q.bargain_id for q in HelpQuota.objects(helper_id="u_alice")] != [own.id]
    assert HelpQuota.objects(helper_id="u_alice").count() == 1


def test_a_help_that_fails_after_taking_a_slot_gives_it_back(campaign, rds, monkeypatch):
    bargain = start(ALICE, campaign().id)

    def broken(*args, **kwargs):
        raise FailedPrecondition("the bargain changed", "bargain_finished")

    monkeypatch.setattr(rules, "next_cut", broken)
    assert refused(lambda: help_(user("bob"), bargain.id, rds=rds)) == "bargain_finished"
    assert HelpQuota.objects.count() == 0 and BargainDebut.objects(id="u_bob").count() == 0


def test_new_users_only_lets_only_users_who_never_helped_or_started(campaign, rds):
    open_cmp, new_only = campaign(), campaign(new_users_only=True)
    bargain = start(ALICE, new_only.id)
    start(user("starter"), open_cmp.id)  # started a bargain before
    help_(user("helper"), start(user("x"), open_cmp.id).id, rds=rds)  # helped before
    assert refused(lambda: help_(user("starter"), bargain.id, rds=rds)) == "not_allowed_to_help"
    assert refused(lambda: help_(user("helper"), bargain.id, rds=rds)) == "not_allowed_to_help"
    fresh, _ = help_(user("fresh"), bargain.id, rds=rds)
    assert fresh.new_user
    # the fresh user is new no more
    other = start(user("y"), new_only.id)
    assert refused(lambda: help_(user("fresh"), other.id, rds=rds)) == "not_allowed_to_help"
    # the initiator may still cut their own bargain
    own, _ = help_(ALICE, bargain.id, rds=rds)
    assert own.seq == 2 and not own.new_user


def test_a_failed_first_help_does_not_make_new_again_a_user_whose_other_help_landed(campaign, rds, monkeypatch):
    open_cmp, new_only = campaign(), campaign(new_users_only=True)
    landing, finishing = start(user("a"), open_cmp.id), start(user("b"), open_cmp.id)
    lock = bargains.bargain_lock

    @contextmanager
    def meanwhile(client, bargain_id):
        # the failing help has inserted the debut; now the same user's other help lands, and the
        # bargain this help is on ends before its cut
        monkeypatch.setattr(bargains, "bargain_lock", lock)
        help_(user("mallory"), landing.id, rds=rds)
        Bargain.objects(id=finishing.id).update_one(set__status="expired")
        with lock(client, bargain_id) as held:
            yield held

    monkeypatch.setattr(bargains, "bargain_lock", meanwhile)
    with pytest.raises(FailedPrecondition):
        help_(user("mallory"), finishing.id, rds=rds)
    assert BargainDebut.objects.get(id="u_mallory").confirmed
    newcomers_only = start(ALICE, new_only.id)
    assert refused(lambda: help_(user("mallory"), newcomers_only.id, rds=rds)) == "not_allowed_to_help"


def test_new_user_bonus_draws_from_the_upper_half(campaign, rds):
    cmp = campaign(new_user_bonus=True, helpers_needed=5, original_price_fen=10_000, floor_price_fen=100)
    for seed in range(3):
        bargain = start(user(f"init{seed}"), cmp.id)
        new_help, _ = help_(user(f"new{seed}"), bargain.id, rds=rds, rng=random.Random(seed))
        assert new_help.new_user
        low, high = rules.cut_range(9_900, 1, 5, bonus=True)
        assert (low, high) == (4_948, 7_916)  # plain: (1_979, 7_916) and low <= new_help.cut_fen <= high
        # the initiator is not new: the plain range
        own, _ = help_(user(f"init{seed}"), bargain.id, rds=rds, rng=random.Random(seed))
        plain_low, plain_high = rules.cut_range(9_900 - new_help.cut_fen, 2, 5)
        assert not own.new_user and plain_low <= own.cut_fen <= plain_high


def test_floor_only_buys_only_at_the_floor(campaign, retail, rds):
    bargain = start(ALICE, campaign(buy_rule=BuyRule.FLOOR_ONLY, helpers_needed=2).id)
    help_(user("bob"), bargain.id, rds=rds)
    assert refused(lambda: buy(ALICE, bargain.id, retail)) == "floor_not_reached"
    help_(user("carol"), bargain.id, rds=rds)
    assert buy(ALICE, bargain.id, retail).order_price_fen == 100


def test_any_price_buys_at_the_current_price_and_stops_the_cuts(campaign, retail, rds):
    bargain = start(ALICE, campaign().id)
    _, cut_once = help_(user("bob"), bargain.id, rds=rds)
    ordered = buy(ALICE, bargain.id, retail, T0 + timedelta(hours=1))
    assert ordered.status == "ordered" and ordered.order_price_fen == cut_once.current_fen
    assert retail.order_requests[0].quote.unit_price_fen[SKU] == cut_once.current_fen
    assert refused(lambda: help_(user("carol"), bargain.id, rds=rds)) == "bargain_finished"
    # the same order again, even after the bargain's time ran out, and expiry leaves it alone
    assert buy(ALICE, bargain.id, retail, T0 + timedelta(hours=30)).order_id == ordered.order_id
    with clock.frozen_at(T0 + timedelta(hours=30)):
        assert bargains.expire_due() == 0
    assert len(retail.order_requests) == 1


def test_a_retail_refusal_thaws_the_bargain_and_an_outage_is_finished_by_a_retry(campaign, retail, rds):
    bargain = start(ALICE, campaign().id)
    help_(user("bob"), bargain.id, rds=rds)
    retail.refuse = FailedPrecondition("out of stock", "out_of_stock")
    assert refused(lambda: buy(ALICE, bargain.id, retail)) == "out_of_stock"
    # still open for cuts
    help_(user("carol"), bargain.id, rds=rds)
    retail.refuse = Unavailable("retail is down")
    with pytest.raises(Unavailable):
        buy(ALICE, bargain.id, retail)
    frozen = Bargain.objects.get(id=bargain.id)
    assert frozen.status == "ordering" and frozen.order_id == ""
    with clock.frozen_at(T0):
        assert bargains.shown_status(frozen) == "active"
    assert refused(lambda: help_(user("dave"), bargain.id, rds=rds)) == "bargain_finished"
    retail.refuse = None
    done = buy(ALICE, bargain.id, retail, T0 + timedelta(minutes=5))
    assert done.status == "ordered" and done.order_price_fen == frozen.order_price_fen
    assert {r.idempotency_key for r in retail.order_requests} == {bargain.id}


def test_a_refused_second_tap_does_not_thaw_the_purchase_the_first_tap_is_making(campaign, retail, rds, monkeypatch):
    bargain = start(ALICE, campaign().id)
    help_(user("bob"), bargain.id, rds=rds)
    create_order = retail.CreateOrder

    def second_tap_meanwhile(request, grpc_context=None):
        monkeypatch.setattr(retail, "CreateOrder", create_order)
        retail.refuse = FailedPrecondition("out of stock", "out_of_stock")  # the first tap took the last unit
        with pytest.raises(FailedPrecondition):
            buy(ALICE, bargain.id, retail)
        retail.refuse = None
        return create_order(request, grpc_context)

    monkeypatch.setattr(retail, "CreateOrder", second_tap_meanwhile)
    bought = buy(ALICE, bargain.id, retail)
    assert (bought.status, bought.order_id, bought.order_price_fen) == ("ordered", "ord_1", bought.current_fen)


def test_a_freeze_left_by_a_call_that_is_gone_is_thawed_by_a_refused_retry(campaign, retail, rds):
    bargain = start(ALICE, campaign().id)
    retail.refuse = Unavailable("retail is down")
    with pytest.raises(Unavailable):
        buy(ALICE, bargain.id, retail)
    retail.refuse = FailedPrecondition("out of stock", "out_of_stock")
    with pytest.raises(FailedPrecondition):
        buy(ALICE, bargain.id, retail, T0 + bargains.ORDERING_GRACE / 2)
    assert Bargain.objects.get(id=bargain.id).status == "ordering"  # its call may still be under way
    with pytest.raises(FailedPrecondition):
        buy(ALICE, bargain.id, retail, T0 + bargains.ORDERING_GRACE)
    thawed = Bargain.objects.get(id=bargain.id)
    assert (thawed.status, thawed.order_price_fen, thawed.ordering_token) == ("active", 0, "")
    help_(user("carol"), bargain.id, T0 + bargains.ORDERING_GRACE, rds=rds)


def test_a_bargain_whose_order_is_cancelled_unpaid_is_lost_and_may_be_started_again(campaign, retail, gate):
    cmp = campaign()
    bargain = start(ALICE, cmp.id)
    ordered = buy(ALICE, bargain.id, retail)

    def cancelled(order_id: str, buyer_id: str) -> dict:
        return {"data": {"order_id": order_id, "buyer_id": buyer_id, "attribution": {"bargain_id": bargain.id}}}

    # anyone may attribute an order of theirs to a bargain: only the initiator's bargain order counts
    assert not paid_orders.order_cancelled(gate, cancelled("ord_other", "u_mallory"))
    assert not paid_orders.order_cancelled(gate, cancelled("ord_other", ALICE.user_id))
    assert paid_orders.order_cancelled(gate, cancelled(ordered.order_id, ALICE.user_id))
    assert paid_orders.order_cancelled(gate, cancelled(ordered.order_id, ALICE.user_id)) is False  # delivered twice
    assert Bargain.objects.get(id=bargain.id).status == "expired"
    assert start(ALICE, cmp.id).id != bargain.id


def test_a_purchase_whose_order_was_cancelled_before_it_was_recorded_loses_the_bargain(campaign, retail):
    bargain = start(ALICE, campaign().id)
    retail.refuse = Unavailable("retail timed out after making the order")
    with pytest.raises(Unavailable):
        buy(ALICE, bargain.id, retail)
    retail.refuse = None
    retail.orders[(ALICE.user_id, bargain.id)] = retail_pb2.Order(
        id="ord_dead", buyer_id=ALICE.user_id, status=retail_pb2.ORDER_STATUS_CANCELLED
    )
    with pytest.raises(FailedPrecondition) as err:  # the retry gets retail's cancelled order back
        buy(ALICE, bargain.id, retail, T0 + timedelta(minutes=40))
    assert err.value.code == "bargain_expired"
    assert Bargain.objects.get(id=bargain.id).status == "expired"


def test_a_freeze_stored_before_freezes_had_a_token_is_thawed_too(campaign, retail, rds):
    bargain = start(ALICE, campaign().id)
    Bargain._get_collection().update_one(
        {"_id": bargain.id}, {"$set": {"status": "ordering", "order_price_fen": 10_000}}
    )  # as an older version froze it: no ordering_token, no ordering_since
    retail.refuse = FailedPrecondition("out of stock", "out_of_stock")
    with pytest.raises(FailedPrecondition):
        buy(ALICE, bargain.id, retail)
    assert Bargain.objects.get(id=bargain.id).status == "active"


def test_buy_refusals(campaign, retail, rds):
    bargain = start(ALICE, campaign().id)
    assert refused(lambda: buy(user("bob"), bargain.id, retail)) == "not_initiator"
    assert refused(lambda: buy(ALICE, "brg_nope", retail)) == "bargain_not_found"
    assert refused(lambda: buy(ALICE, bargain.id, retail, T0 + timedelta(hours=24))) == "bargain_expired"
    assert retail.order_requests == []


def test_expire_due_closes_open_bargains_past_their_time(campaign, retail, rds):
    cmp = campaign(expiry_hours=2)
    stale, completed, bought = (start(user(n), cmp.id) for n in ("a", "b", "c"))
    for who, target in [(user("h1"), completed), (user("h2"), completed), (user("h3"), completed)]:
        help_(who, target.id, rds=rds)
    buy(user("c"), bought.id, retail)
    fresh = start(user("e"), cmp.id, T0 + timedelta(hours=1))
    with clock.frozen_at(T0 + timedelta(hours=2)):
        assert bargains.expire_due(limit=100) == 2
        assert bargains.expire_due(limit=100) == 0
    statuses = {b.initiator_id: b.status for b in Bargain.objects}
    assert statuses == {"u_a": "expired", "u_b": "expired", "u_c": "ordered", "u_e": "active"}
    assert Bargain.objects.get(id=stale.id).expired_at == T0 + timedelta(hours=2)
    assert refused(lambda: help_(user("z"), stale.id, T0 + timedelta(hours=2))) == "bargain_expired"
    # expired frees the place; an open bargain past its time (not swept yet) does not block either
    again = start(user("a"), cmp.id, T0 + timedelta(hours=2))
    assert again.id != stale.id
    late = start(user("e"), cmp.id, T0 + timedelta(hours=3))
    assert late.id != fresh.id and Bargain.objects.get(id=fresh.id).status == "expired"


def test_a_lost_or_foreign_lock_does_not_stop_or_break_a_help(campaign, rds, monkeypatch):
    bargain = start(ALICE, campaign().id)
    help_(user("bob"), bargain.id, rds=None)  # no Redis at all: compare-and-set alone
    key = f"groupbuy:bargain-lock:{bargain.id}"
    rds.set(key, "someone-else", px=60_000)  # a lock held by a stuck process
    monkeypatch.setattr(bargains, "LOCK_WAIT_SECONDS", 0.05)
    second, _ = help_(user("carol"), bargain.id, rds=rds)
    assert second.seq == 2
    assert rds.get(key) == "someone-else"  # compare-and-delete never removes another's lock
    rds.delete(key)
    help_(user("dave"), bargain.id, rds=rds)
    assert rds.get(key) is None  # our own lock is released
    assert Bargain.objects.get(id=bargain.id).status == "completed"


# ── the gRPC servicer ───────────────────────────────────────────────────────────────────────


@pytest.fixture
def stub(db, retail, rds) -> Iterator[pb_grpc.BargainServiceStub]:
    register = lambda server: pb_grpc.add_BargainServiceServicer_to_server(  # noqa: E731
        BargainServicer(retail, rds), server
    )
    with grpc_test_server(register) as target, grpc.insecure_channel(target) as channel:
        yield pb_grpc.BargainServiceStub(channel)


def metadata(who: context.Caller) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), who)


def test_the_service_over_grpc_maps_refusals_to_status_and_code(stub):
    request = pb.CreateBargainCampaignRequest(
        sku_id=SKU,
        original_price=money_pb2.Money(fen=10_000),
        floor_price=money_pb2.Money(fen=9_998),
        helpers_needed=3,
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateBargainCampaign(request, metadata=metadata(BRAND), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.value.trailing_metadata())["error-code"] == "floor_too_close"

    request.floor_price.fen = 100
    request.buy_rule = pb.BUY_RULE_FLOOR_ONLY
    made = stub.CreateBargainCampaign(request, metadata=metadata(BRAND), timeout=10).campaign
    assert (made.status, made.buy_rule, made.daily_help_limit, made.expiry_hours) == (
        pb.CAMPAIGN_STATUS_LIVE,
        pb.BUY_RULE_FLOOR_ONLY,
        3,
        24,
    )
    assert stub.GetBargainCampaign(pb.GetBargainCampaignRequest(campaign_id=made.id), timeout=10).campaign == made
    bargain = stub.StartBargain(
        pb.StartBargainRequest(campaign_id=made.id), metadata=metadata(ALICE), timeout=10
    ).bargain
    assert (bargain.status, bargain.current_price.fen, bargain.helpers_needed) == (pb.BARGAIN_STATUS_ACTIVE, 10_000, 3)
    helped = stub.HelpBargain(pb.HelpBargainRequest(bargain_id=bargain.id), metadata=metadata(user("bob")), timeout=10)
    assert helped.help.seq == 1 and helped.bargain.current_price.fen == 10_000 - helped.help.cut.fen
    assert helped.help.price_after == helped.bargain.current_price

    with pytest.raises(grpc.RpcError) as err:
        stub.HelpBargain(pb.HelpBargainRequest(bargain_id=bargain.id), metadata=metadata(user("bob")), timeout=10)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(err.value.trailing_metadata())["error-code"] == "already_helped"
    with pytest.raises(grpc.RpcError) as err:
        stub.BuyBargain(pb.BuyBargainRequest(bargain_id=bargain.id), metadata=metadata(ALICE), timeout=10)
    assert (err.value.code(), dict(err.value.trailing_metadata())["error-code"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "floor_not_reached",
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.StartBargain(pb.StartBargainRequest(campaign_id=made.id), metadata=metadata(ALICE), timeout=10)
    assert (err.value.code(), dict(err.value.trailing_metadata())["error-code"]) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "already_started",
    )
    assert json.loads(dict(err.value.trailing_metadata())["error-details"]) == {"bargain_id": bargain.id}

    shown = stub.GetBargain(pb.GetBargainRequest(bargain_id=bargain.id), timeout=10).bargain  # public
    assert shown == helped.bargain
    assert (shown.sku_id, shown.buy_rule) == (SKU, pb.BUY_RULE_FLOOR_ONLY)
    mine = stub.ListMyBargains(pb.ListMyBargainsRequest(), metadata=metadata(ALICE), timeout=10)
    assert [b.id for b in mine.bargains] == [bargain.id]
    listed = stub.ListBargainCampaigns(pb.ListBargainCampaignsRequest(status=pb.CAMPAIGN_STATUS_LIVE), timeout=10)
    assert [c.id for c in listed.campaigns] == [made.id]
    helps = stub.ListBargainHelps(pb.ListBargainHelpsRequest(bargain_id=bargain.id), timeout=10).helps
    assert [(h.helper_id, h.seq, h.cut) for h in helps] == [("u_bob", 1, helped.help.cut)]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        # a cursor decoding to "²": str.isdigit() accepts it, int() does not
        (lambda stub: stub.ListBargainHelps(
            pb.ListBargainHelpsRequest(bargain_id="brg_1", page=page_pb2.PageRequest(cursor="wrI")), timeout=10
        ), "invalid_cursor"),
        (lambda stub: stub.CreateBargainCampaign(
            _new_campaign(start_time=timestamp_pb2.Timestamp(seconds=1, nanos=-5)), metadata=metadata(BRAND), timeout=10
        ), "invalid_start_time"),
        (lambda stub: stub.CreateBargainCampaign(
            _new_campaign(start_time=timestamp_pb2.Timestamp(seconds=253_401_000_000)), metadata=metadata(BRAND),
            timeout=10,
        ), "invalid_schedule"),  # 9999-12-20: a default end 30 days later is past year 9999
    ],
)  # fmt: skip
def test_input_no_value_can_hold_is_an_invalid_argument_not_an_internal_error(stub, call, code):
    with pytest.raises(grpc.RpcError) as err:
        call(stub)
    assert (err.value.code(), dict(err.value.trailing_metadata())["error-code"]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        code,
    )


def _new_campaign(**fields) -> pb.CreateBargainCampaignRequest:
    prices = {"original_price": money_pb2.Money(fen=10_000), "floor_price": money_pb2.Money(fen=100)}
    return pb.CreateBargainCampaignRequest(sku_id=SKU, helpers_needed=3, **prices, **fields)


def test_the_api_process_serves_bargains_and_relays_their_events(db, amqp_uri, retail_target, monkeypatch):
    """groupbuy.api wires BargainService (health names it) and Bargain's outbox into the relay."""
    import json

    import pika
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from groupbuy import api
    from groupbuy.config import GroupbuySettings
    from mallkit.config import KitSettings
    from mallkit.outbox import wait_until_drained

    monkeypatch.setenv("AMQP_URI", amqp_uri)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel_ = connection.channel()
    channel_.exchange_declare("groupbuy.events", exchange_type="topic", durable=True)
    queue = channel_.queue_declare("", exclusive=True).method.queue
    channel_.queue_bind(queue, "groupbuy.events", routing_key="bargain_started")
    settings = GroupbuySettings(grpc_port=0, db_name=db, retail_target=retail_target)
    app = api.build(KitSettings.from_env(), settings, port=0).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="socialmall.groupbuy.v1.BargainService"), timeout=10
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stub = pb_grpc.BargainServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetBargainCampaign(pb.GetBargainCampaignRequest(campaign_id="bgc_nope"), timeout=10)
            assert dict(err.value.trailing_metadata())["error-code"] == "bargain_campaign_not_found"
            with as_(ADMIN):
                made = bargains.create_bargain_campaign(FakeRetail(), BargainTerms(SKU, 1_000, 500, 2))
            bargain = stub.StartBargain(
                pb.StartBargainRequest(campaign_id=made.id), metadata=metadata(ALICE), timeout=10
            ).bargain
        published = []
        for _method, _props, body in channel_.consume(queue, inactivity_timeout=5):
            if body is None:
                break
            published.append(json.loads(body))
            break
        channel_.cancel()
        assert [(e["source"], e["type"], e["data"]["bargain_id"]) for e in published] == [
            ("groupbuy", "bargain_started", bargain.id)
        ]
        assert wait_until_drained([Bargain], timeout=5)
    finally:
        app.stop(grace=0)
        connection.close()


def test_a_purchase_whose_call_was_lost_after_retail_made_the_order_is_recorded_when_paid(
    campaign, retail, rds, gate, monkeypatch
):
    bargain = start(ALICE, campaign().id)
    monkeypatch.setattr(retail, "CreateOrder", answer_lost(retail.CreateOrder))
    with pytest.raises(Unavailable):
        buy(ALICE, bargain.id, retail)
    [order] = retail.orders.values()
    key = f"groupbuy/{bargain.id}"  # how retail stores the key the purchase used
    # orders naming the bargain that its purchase did not make change nothing: someone else's, or
    # another order of the initiator's
    for buyer, other_key in (("u_mallory", key), (ALICE.user_id, "k-1")):
        paid = order_paid_event("ord_other", buyer_id=buyer, bargain_id=bargain.id, idempotency_key=other_key)
        paid_orders.order_paid(gate, paid)
    assert Bargain.objects.get(id=bargain.id).status == "ordering"
    paid = order_paid_event(order.id, buyer_id=ALICE.user_id, bargain_id=bargain.id, idempotency_key=key)
    with clock.frozen_at(T0 + timedelta(minutes=10)):  # the initiator paid it from their order list
        paid_orders.order_paid(gate, paid)
    ordered = Bargain.objects.get(id=bargain.id)
    assert (ordered.status, ordered.order_id) == ("ordered", order.id)
    assert start(ALICE, ordered.campaign_id).id != bargain.id  # the campaign is free for another


def test_a_purchase_that_never_made_an_order_expires_a_day_after_its_last_attempt(campaign, retail, rds):
    early = start(ALICE, campaign().id)
    retried = start(user("bob"), early.campaign_id)
    retail.refuse = Unavailable("retail is down")
    expiry = early.expires_at  # T0 + 24 h, a day after both froze
    for who, bargain, at in (
        (ALICE, early, T0),
        (user("bob"), retried, T0),
        (user("bob"), retried, T0 + timedelta(hours=20)),
    ):
        with pytest.raises(Unavailable):
            buy(who, bargain.id, retail, at)  # then nobody tries again
    retail.refuse = None
    with clock.frozen_at(expiry - timedelta(seconds=1)):
        assert bargains.expire_due() == 0  # a retry may still finish them
    with clock.frozen_at(expiry):
        assert bargains.expire_due() == 1  # the one retried at 20 h may still see its order's events
    assert Bargain.objects.get(id=early.id).status == "expired"
    with clock.frozen_at(T0 + timedelta(hours=20) + bargains.STRANDED_AFTER):
        assert bargains.expire_due() == 1
    assert Bargain.objects.get(id=retried.id).status == "expired"
    assert refused(lambda: buy(ALICE, early.id, retail, expiry)) == "bargain_expired"
    assert start(ALICE, early.campaign_id, expiry).id != early.id  # the campaign is free for another
