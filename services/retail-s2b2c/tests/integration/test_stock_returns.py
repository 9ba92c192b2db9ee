"""Stock is never lost nor counted twice between an order and its SKUs: units a checkout holds
(service.stock_holds) and units a cancel or a refund before shipping gives back
(service.stock_returns), also when the process stops half-way, stalls past its lease, or races
the sweep."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from mallkit import clock, context
from mallkit.errors import FailedPrecondition, Unavailable
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain.orders import Line
from retail_s2b2c.service import orders, payments, refunds, stock_holds, stock_returns

pytestmark = pytest.mark.integration

BUYER = context.Caller("u_buyer")
BRAND = context.Caller("u_brand", frozenset({"brand"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def stock(sku_id: str) -> int:
    return Sku.objects.get(id=sku_id).stock


def keys_on(sku_id: str) -> list[str]:
    return [kept["key"] for kept in Sku.objects.get(id=sku_id).returns]


def left_on(order_id: str) -> list[dict]:
    return Order.objects.get(id=order_id).stock_returns


def later(minutes: float):
    return clock.frozen_at(clock.now() + timedelta(minutes=minutes))


@pytest.fixture
def unpaid(mongo_db, make_sku):
    """Two SKUs of stock 10, and an unpaid order of 3 + 2 units (stock now 7 and 8)."""
    tea, kettle = make_sku(stock=10), make_sku(stock=10)
    with as_user(BUYER):
        order = orders.create_order([Line(tea, 3), Line(kettle, 2)], {})
    assert (stock(tea), stock(kettle)) == (7, 8)
    return order, tea, kettle


class Stopped(Exception):
    """The process giving stock back stops here."""


def stop_after(monkeypatch, calls: int) -> None:
    """The process stops after `calls` steps of the return (0: right after the causing write; a
    step is a SKU's stock write or the order dropping the return)."""
    collection = type(Sku._get_collection())
    real = collection.update_one
    done = [0]

    def update_one(self, filter, update, *args, **kwargs):
        sku_step = self.name == "skus" and "returns" in str(update)
        order_step = self.name == "orders" and "stock_returns" in update.get("$pull", {})
        if sku_step or order_step:
            if done[0] == calls:
                raise Stopped
            done[0] += 1
        return real(self, filter, update, *args, **kwargs)

    monkeypatch.setattr(collection, "update_one", update_one)


def test_a_cancel_gives_the_stock_back_once_and_leaves_no_trace(unpaid):
    order, tea, kettle = unpaid
    assert orders.cancel_unpaid(order, "payment_timeout")
    assert not orders.cancel_unpaid(order, "payment_timeout")  # a racer or a redelivery
    assert (stock(tea), stock(kettle)) == (10, 10)
    assert left_on(order.id) == [] and keys_on(tea) == keys_on(kettle) == []
    with later(10):
        assert stock_returns.finish_stale() == 0


@pytest.mark.parametrize("stopped_after", [0, 1, 2], ids=["before any sku", "after one sku", "after both skus"])
def test_a_return_a_crash_left_half_done_is_finished_once_by_the_sweep(unpaid, monkeypatch, stopped_after):
    order, tea, kettle = unpaid
    with monkeypatch.context() as patched:
        stop_after(patched, stopped_after)
        with pytest.raises(Stopped):
            orders.cancel_unpaid(order, "payment_timeout")
    assert Order.objects.get(id=order.id).status == "cancelled"
    assert len(left_on(order.id)) == 1
    assert stock_returns.finish_stale() == 0  # within the lease: the process may still be at it
    with later(6):
        assert stock_returns.finish_stale() == 1
        assert stock_returns.finish_stale() == 0
    assert (stock(tea), stock(kettle)) == (10, 10)
    assert left_on(order.id) == []
    # the sweep keeps the keys (a stalled process could still be writing), for a day
    assert keys_on(tea) == [f"{order.id}:cancelled"]
    with later(60 * 24 + 10):
        stock_returns.finish_stale()
    assert keys_on(tea) == keys_on(kettle) == []


def test_keys_of_a_return_nobody_finished_for_a_day_are_kept_until_it_is(unpaid, monkeypatch):
    """The worker was down for two days after a cancel stopped half-way: the tea's key must outlive
    the day, or the take-over would give the tea back twice."""
    order, tea, kettle = unpaid
    with monkeypatch.context() as patched:
        stop_after(patched, 1)
        with pytest.raises(Stopped):
            orders.cancel_unpaid(order, "payment_timeout")
    with monkeypatch.context() as patched, later(60 * 24 * 2):
        patched.setattr(stock_returns, "_take_over", lambda *a: (_ for _ in ()).throw(Stopped()))
        assert stock_returns.finish_stale() == 0  # the take-over fails; the keys stay
    assert keys_on(tea) == [f"{order.id}:cancelled"]
    with later(60 * 24 * 2):
        assert stock_returns.finish_stale() == 1
    assert (stock(tea), stock(kettle)) == (10, 10)


def test_a_process_that_wakes_after_the_sweep_took_over_adds_nothing(unpaid, monkeypatch):
    """The original process stalls past its lease between its SKU writes; the sweep finishes the
    return; the process then writes its remaining SKU and its order step, which find it done."""
    order, tea, kettle = unpaid
    entry = stock_returns.recorded(f"{order.id}:cancelled", order.items)
    Order.objects(id=order.id).update_one(set__status="cancelled", push__stock_returns=entry)
    with later(6):
        assert stock_returns.finish_stale() == 1
    stock_returns.give_back(order.id, entry)  # the stalled process, with its stale entry
    assert (stock(tea), stock(kettle)) == (10, 10)
    assert keys_on(tea) == [f"{order.id}:cancelled"]  # not forgotten by a process that lost its lease


def test_racing_sweeps_finish_a_return_once(unpaid, monkeypatch):
    order, tea, kettle = unpaid
    with monkeypatch.context() as patched:
        stop_after(patched, 1)
        with pytest.raises(Stopped):
            orders.cancel_unpaid(order, "payment_timeout")
    with later(6), ThreadPoolExecutor(8) as pool:
        finished = list(pool.map(lambda _: stock_returns.finish_stale(), range(8)))
    assert sum(finished) == 1
    assert (stock(tea), stock(kettle)) == (10, 10)


def test_a_refund_before_shipping_gives_its_units_back_once_after_a_crash(mongo_db, make_sku, settings, paid_callback):
    sku_id = make_sku(price_fen=5000, stock=5)
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 2)], {})
    with as_user(context.ANONYMOUS):
        payments.handle_payment_notify(*paid_callback(order.id, 10000, "tx_1"), settings)
    with as_user(BUYER):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "too many", "r1")
    with as_user(BRAND), pytest.MonkeyPatch.context() as patched:
        stop_after(patched, 0)
        with pytest.raises(Stopped):
            refunds.review_refund(asked.id, approve=True)
    assert Order.objects.get(id=order.id).refunded_fen == 5000
    assert stock(sku_id) == 3
    with as_user(BRAND):
        assert refunds.review_refund(asked.id, approve=True).status == "refunded"  # the seller retries
    assert stock(sku_id) == 3  # the retry does not give back what the applied refund recorded
    with later(6):
        assert stock_returns.finish_stale() == 1
    assert stock(sku_id) == 4


# ── holds: stock taken by a checkout whose order is being written ─────────────────────────────


def holds_on(sku_id: str) -> list[dict]:
    return Sku.objects.get(id=sku_id).holds


@pytest.fixture
def two_skus(mongo_db, make_sku):
    return make_sku(stock=10), make_sku(stock=10)


def checkout(*lines: Line) -> Order:
    with as_user(BUYER):
        return orders.create_order(list(lines), {})


def test_a_checkout_keeps_its_units_and_a_failed_one_gives_them_back_without_a_trace(two_skus):
    tea, kettle = two_skus
    order = checkout(Line(tea, 3), Line(kettle, 2))
    assert (stock(tea), stock(kettle)) == (7, 8) and order.status == "created"
    with pytest.raises(FailedPrecondition) as refused:
        checkout(Line(tea, 2), Line(kettle, 9))  # the tea is taken, then the kettles are short
    assert refused.value.code == "out_of_stock"
    assert (stock(tea), stock(kettle)) == (7, 8)
    assert holds_on(tea) == holds_on(kettle) == [] and keys_on(tea) == []


def test_units_held_by_a_checkout_that_stopped_before_its_order_are_given_back_once(two_skus, monkeypatch):
    tea, kettle = two_skus
    with monkeypatch.context() as patched:
        patched.setattr(Order, "save", lambda *a, **k: (_ for _ in ()).throw(Stopped()))
        with pytest.raises(Stopped):
            checkout(Line(tea, 3), Line(kettle, 2))
    assert (stock(tea), stock(kettle)) == (7, 8)
    assert stock_holds.settle_stale() == 0  # within the lease: the checkout may still be writing
    with later(6), ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(lambda _: stock_holds.settle_stale(), range(4))) == 2
    assert (stock(tea), stock(kettle)) == (10, 10)
    assert holds_on(tea) == holds_on(kettle) == []
    assert Order.objects.get(abandoned=True).status == "cancelled"  # its id is taken for good


def test_units_held_by_a_checkout_that_stopped_after_writing_its_order_stay_with_it(two_skus, monkeypatch):
    tea, kettle = two_skus
    with monkeypatch.context() as patched:
        patched.setattr(stock_holds, "keep", lambda *a: (_ for _ in ()).throw(Stopped()))
        with pytest.raises(Stopped):
            checkout(Line(tea, 3), Line(kettle, 2))
    with later(6):
        assert stock_holds.settle_stale() == 2
    assert (stock(tea), stock(kettle)) == (7, 8)
    assert holds_on(tea) == holds_on(kettle) == []
    assert Order.objects.get(buyer_id=BUYER.user_id).status == "created"


def test_a_checkout_that_stalls_past_its_lease_is_refused_and_loses_no_unit(two_skus, monkeypatch):
    """The sweep abandons the stalled checkout's order (a placeholder takes its id) and gives the
    tea back; the checkout then cannot write its order, gives the kettles back and asks the buyer
    to try again, which works."""
    tea, kettle = two_skus
    save = Order.save

    def stall_then_save(order, *args, **kwargs):
        fresh = clock.now() + timedelta(minutes=2)  # the kettle's hold is within the lease still
        Sku._get_collection().update_one({"_id": kettle}, {"$set": {"holds.0.at": fresh}})
        with later(6):
            assert stock_holds.settle_stale() == 1  # abandons the order, gives the tea back
        assert (stock(tea), stock(kettle)) == (10, 8)
        return save(order, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(Order, "save", stall_then_save)
        with as_user(BUYER), pytest.raises(Unavailable) as refused:
            orders.create_order([Line(tea, 3), Line(kettle, 2)], {}, idempotency_key="k1")
    assert refused.value.code == "checkout_abandoned"
    assert (stock(tea), stock(kettle)) == (10, 10)
    assert holds_on(tea) == holds_on(kettle) == []
    (placeholder,) = Order.objects(abandoned=True)
    assert (placeholder.status, placeholder.items, placeholder.buyer_id) == ("cancelled", [], "")
    with as_user(BUYER):
        assert orders.list_orders("", 10)[0] == []  # nobody's order
        retried = orders.create_order([Line(tea, 3), Line(kettle, 2)], {}, idempotency_key="k1")
    assert retried.status == "created" and (stock(tea), stock(kettle)) == (7, 8)
