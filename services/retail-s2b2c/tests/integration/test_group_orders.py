"""Group orders: the ship hold until the team forms, and voiding the orders of a failed team or a
released seat exactly once (redelivered events, racing workers, a buyer's refund under review)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from mallkit import context
from mallkit.errors import FailedPrecondition, PermissionDenied
from mallkit.events import new_event
from mallkit.testing import publish_events
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order, Refund
from retail_s2b2c.domain.orders import Line, Quote
from retail_s2b2c.service import group_orders, orders, payments, refunds
from retail_s2b2c.servicers.retail import order_pb
from retail_s2b2c.worker import Worker

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
TEAM = "tm_1"
PRICE_FEN = 3900


def as_user(who):
    return context.bound(context.new_request_id(), who)


@pytest.fixture
def sku_id(make_sku) -> str:
    return make_sku(price_fen=5000, stock=10)


@pytest.fixture
def group_order(sku_id, settings, paid_callback):
    """A seat order of TEAM created through groupbuy at the group price, paid unless `paid=False`."""

    def make(buyer: str, quantity: int = 1, *, paid: bool = True, team_id: str = TEAM) -> Order:
        quote = Quote("groupbuy", {sku_id: PRICE_FEN}, distribution_enabled=False)
        with as_user(context.Caller(buyer, service="groupbuy")):
            order = orders.create_order([Line(sku_id, quantity)], {"group_team_id": team_id}, quote=quote)
        if paid:
            with as_user(context.ANONYMOUS):
                payments.handle_payment_notify(*paid_callback(order.id, order.total_fen, f"tx_{order.id}"), settings)
        return order.reload()

    return make


def team_event(type_: str, order_ids: list[str], team_id: str = TEAM, **data: object) -> dict:
    return new_event("groupbuy", type_, {"team_id": team_id, "campaign_id": "gc_1", "order_ids": order_ids, **data})


def seat_event(order_id: str, reason: str = "left", team_id: str = TEAM) -> dict:
    data = {"team_id": team_id, "campaign_id": "gc_1", "user_id": "u_1", "order_id": order_id, "reason": reason}
    return new_event("groupbuy", "seat_released", data)


def events_of(order_id: str, type_: str) -> list[dict]:
    return [e["data"] for e in Order.objects.get(id=order_id).outbox if e["type"] == type_]


def stock(sku_id: str) -> int:
    return Sku.objects.get(id=sku_id).stock


def assert_refunded_once(order: Order) -> None:
    order.reload()
    assert (order.status, order.refunded_fen, order.pending_refund_id) == ("refunded", order.total_fen, "")
    refunded = events_of(order.id, "order_refunded")
    assert [(e["refund_id"], e["amount_fen"], e["fully_refunded"]) for e in refunded] == [
        (f"rfd_void_{order.id}", order.total_fen, True)
    ]
    [refund] = Refund.objects(order_id=order.id)
    assert (refund.status, refund.reviewed_by, refund.amount_fen) == ("refunded", "groupbuy", order.total_fen)


def assert_cancelled_once(order: Order, reason: str) -> None:
    assert order.reload().status == "cancelled"
    assert [e["reason"] for e in events_of(order.id, "order_cancelled")] == [reason]
    assert Refund.objects(order_id=order.id).count() == 0


# ── the ship hold ─────────────────────────────────────────────────────────────────────────────


def test_a_group_order_ships_only_once_its_team_formed(mongo_db, group_order):
    order = group_order("u_a")
    assert order.awaiting_group and order_pb(order).awaiting_group
    with as_user(BRAND), pytest.raises(FailedPrecondition) as err:
        orders.ship_order(order.id, "SF", "SF1234567")
    assert err.value.code == "group_not_formed"
    # another team's event names the order: it is not this team's to release
    assert group_orders.on_team_formed(team_event("team_formed", [order.id], team_id="tm_other")) == 0
    formed = team_event("team_formed", [order.id, "ord_unknown"], virtually_filled=False)
    Worker().lift_ship_hold(formed)
    Worker().lift_ship_hold(formed)  # a redelivery
    assert group_orders.on_team_formed(formed) == 0  # even past the processed-event record
    assert not order.reload().awaiting_group
    with as_user(BRAND):
        assert orders.ship_order(order.id, "SF", "SF1234567").status == "shipped"


def test_a_solo_campaign_purchase_is_quoted_by_groupbuy_and_ships_at_once(mongo_db, sku_id, settings, paid_callback):
    quote = Quote("groupbuy", {sku_id: 4500}, distribution_enabled=True)
    attribution = {"group_campaign_id": "gc_1"}
    for caller in (context.Caller("u_solo"), context.Caller("u_solo", service="agent")):
        with as_user(caller), pytest.raises(PermissionDenied):
            orders.create_order([Line(sku_id, 1)], attribution, quote=quote)
    with as_user(context.Caller("u_solo", service="groupbuy")):
        order = orders.create_order([Line(sku_id, 1)], attribution, quote=quote)
    assert (order.total_fen, order.awaiting_group) == (4500, False)
    assert events_of(order.id, "order_created")[0]["attribution"]["group_campaign_id"] == "gc_1"
    assert order_pb(order).attribution.group_campaign_id == "gc_1"
    with as_user(context.ANONYMOUS):
        payments.handle_payment_notify(*paid_callback(order.id, 4500, "tx_solo"), settings)
    with as_user(BRAND):
        assert orders.ship_order(order.id, "SF", "SF1234567").status == "shipped"


def test_a_team_id_without_a_groupbuy_quote_is_no_seat_order_and_ships(mongo_db, sku_id, settings, paid_callback):
    with as_user(context.Caller("u_self")):
        order = orders.create_order([Line(sku_id, 1)], {"group_team_id": TEAM})
    assert not order.awaiting_group
    with as_user(context.ANONYMOUS):
        payments.handle_payment_notify(*paid_callback(order.id, 5000, "tx_self"), settings)
    with as_user(BRAND):
        assert orders.ship_order(order.id, "SF", "SF1234567").status == "shipped"


# ── a failed team ─────────────────────────────────────────────────────────────────────────────


def test_a_failed_team_refunds_each_paid_order_once_and_cancels_the_unpaid(mongo_db, group_order, sku_id):
    paid = [group_order("u_a"), group_order("u_b", quantity=2)]
    unpaid = group_order("u_c", paid=False)
    assert stock(sku_id) == 6
    failed = team_event("team_failed", [o.id for o in [*paid, unpaid]], reason="expired")
    Worker().void_failed_team(failed)
    Worker().void_failed_team(failed)  # a redelivery: skipped by the processed-event record
    group_orders.on_team_failed(failed)  # and the effect itself is keyed too
    for order in paid:
        assert_refunded_once(order)
    assert Refund.objects.get(order_id=paid[1].id).reason == "group_failed: expired"
    assert_cancelled_once(unpaid, "group_failed")
    assert stock(sku_id) == 10  # nothing had shipped: every unit back, once


def test_workers_racing_on_one_void_refund_and_cancel_once(mongo_db, group_order, sku_id):
    paid, unpaid, asking = group_order("u_a", quantity=2), group_order("u_b", paid=False), group_order("u_c", 2)
    with as_user(context.Caller("u_c")):
        asked = refunds.request_refund(asking.id, [Line(sku_id, 1)], "one is enough", "r1")
    assert stock(sku_id) == 5
    order_ids = [paid.id, unpaid.id, asking.id]
    start = Barrier(12)

    def deliver(i: int) -> None:  # separate deliveries (event ids): no processed-event record helps
        event = team_event("team_failed", order_ids[i % 3 :] + order_ids[: i % 3], reason="expired")
        start.wait()
        group_orders.on_team_failed(event)

    list(ThreadPoolExecutor(12).map(deliver, range(12)))
    assert_refunded_once(paid)
    assert_cancelled_once(unpaid, "group_failed")
    asking.reload()
    assert (asking.status, asking.refunded_fen) == ("refunded", 2 * PRICE_FEN)
    assert [e["refund_id"] for e in events_of(asking.id, "order_refunded")] == [asked.id, f"rfd_void_{asking.id}"]
    assert stock(sku_id) == 10


def test_a_void_that_crashed_before_paying_back_is_finished_by_the_redelivery(mongo_db, group_order, monkeypatch):
    order = group_order("u_a", quantity=2)
    pay_back = refunds._pay_back

    def crash(refund: Refund, order: Order) -> None:
        raise ConnectionError("the worker died here")

    monkeypatch.setattr(refunds, "_pay_back", crash)
    failed = team_event("team_failed", [order.id], reason="expired")
    with pytest.raises(ConnectionError):
        Worker().void_failed_team(failed)
    held = order.reload()
    assert (held.status, held.pending_refund_id) == ("paid", f"rfd_void_{order.id}")  # claimed and priced
    assert Refund.objects.get(order_id=order.id).status == "approved"
    monkeypatch.setattr(refunds, "_pay_back", pay_back)
    Worker().void_failed_team(failed)  # requeued: the same envelope again
    assert_refunded_once(order)


def test_a_refund_under_review_is_approved_first_then_the_rest_refunded(mongo_db, group_order, sku_id):
    order = group_order("u_a", quantity=3)
    with as_user(context.Caller("u_a")):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "one is enough", "r1")
    group_orders.on_team_failed(team_event("team_failed", [order.id], reason="leader_left"))
    order.reload()
    assert (order.status, order.refunded_fen, order.pending_refund_id) == ("refunded", 3 * PRICE_FEN, "")
    assert [(e["refund_id"], e["amount_fen"]) for e in events_of(order.id, "order_refunded")] == [
        (asked.id, PRICE_FEN),
        (f"rfd_void_{order.id}", 2 * PRICE_FEN),
    ]
    assert (asked.reload().status, asked.reviewed_by) == ("refunded", "groupbuy")
    assert stock(sku_id) == 10


def test_a_partly_refunded_order_gets_only_the_rest_back(mongo_db, group_order, sku_id):
    order = group_order("u_a", quantity=2)
    with as_user(context.Caller("u_a")):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "one is enough", "r1")
    with as_user(BRAND):
        refunds.review_refund(asked.id, approve=True)
    group_orders.on_team_failed(team_event("team_failed", [order.id], reason="expired"))
    assert [e["amount_fen"] for e in events_of(order.id, "order_refunded")] == [PRICE_FEN, PRICE_FEN]
    assert (order.reload().status, order.refunded_fen) == ("refunded", 2 * PRICE_FEN)
    assert Refund.objects.get(id=f"rfd_void_{order.id}").lines[0].quantity == 1
    assert stock(sku_id) == 10


def test_orders_of_another_team_and_malformed_events_are_left_alone(mongo_db, group_order, sku_id):
    order = group_order("u_a", team_id="tm_other")
    assert group_orders.on_team_failed(team_event("team_failed", [order.id], reason="expired")) == []
    malformed = new_event("groupbuy", "team_failed", {"team_id": TEAM, "order_ids": order.id})
    Worker().void_failed_team(malformed)  # dropped with a log line, not requeued
    order.reload()
    assert (order.status, order.refunded_fen) == ("paid", 0)
    assert Refund.objects.count() == 0


# ── a released seat ───────────────────────────────────────────────────────────────────────────


def test_a_released_seat_voids_its_one_order(mongo_db, group_order, sku_id):
    paid, unpaid, other = group_order("u_a"), group_order("u_b", paid=False), group_order("u_c")
    released = seat_event(paid.id, "left")
    Worker().void_released_seat(released)
    Worker().void_released_seat(released)
    group_orders.on_seat_released(seat_event(unpaid.id, "hold_expired"))
    group_orders.on_seat_released(seat_event(unpaid.id, "hold_expired"))
    assert group_orders.on_seat_released(seat_event("", "hold_expired")) == []  # a seat without an order
    assert_refunded_once(paid)
    assert Refund.objects.get(order_id=paid.id).reason == "group_seat_released: left"
    assert_cancelled_once(unpaid, "group_seat_released")
    assert other.reload().status == "paid"
    assert stock(sku_id) == 9


# ── the worker process ────────────────────────────────────────────────────────────────────────


def test_the_worker_refunds_a_failed_team_once_from_real_events(mongo_db, group_order, start_worker, amqp_uri):
    paid = [group_order("u_a"), group_order("u_b")]
    failed = team_event("team_failed", [o.id for o in paid], reason="expired")
    worker = start_worker("retail_s2b2c", {"MONGO_DB": mongo_db})
    publish_events(amqp_uri, "groupbuy", [failed, failed])

    def refunded() -> bool:
        return all(o.reload().status == "refunded" for o in paid)

    deadline = time.monotonic() + 30
    while not refunded() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert refunded(), worker.log()
    time.sleep(1)  # the duplicate had time to arrive: it changed nothing
    for order in paid:
        assert_refunded_once(order)
