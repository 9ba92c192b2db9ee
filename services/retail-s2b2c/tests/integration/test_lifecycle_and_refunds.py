"""Ship → receive → complete, refunds before and after shipping, and price quotes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from mallkit import clock, context
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order, Refund
from retail_s2b2c.domain.orders import Line, Quote
from retail_s2b2c.service import orders, payments, refunds, stores

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
BUYER = context.Caller("u_buyer")
STRANGER = context.Caller("u_stranger")
STORE_OWNER = context.Caller("u_owner", frozenset({"store_owner"}))


def as_user(who):
    return context.bound(context.new_request_id(), who)


@pytest.fixture
def paid_order(make_sku, settings, paid_callback):
    """An order for 2 units at ¥50.00, paid; returns (order, sku_id)."""

    def make(quantity: int = 2, stock: int = 5) -> tuple[Order, str]:
        sku_id = make_sku(price_fen=5000, stock=stock)
        with as_user(BUYER):
            order = orders.create_order([Line(sku_id, quantity)], {})
        with as_user(context.ANONYMOUS):
            payments.handle_payment_notify(*paid_callback(order.id, 5000 * quantity, f"tx_{order.id}"), settings)
        return order.reload(), sku_id

    return make


def event_types(order_id: str) -> list[str]:
    return [e["type"] for e in Order.objects.get(id=order_id).outbox]


def test_ship_receive_complete(mongo_db, paid_order, settings):
    order, _ = paid_order()
    with as_user(STRANGER), pytest.raises(NotFound):
        orders.ship_order(order.id, "SF", "SF1234567")
    with as_user(BUYER), pytest.raises(PermissionDenied) as err:  # the buyer sees the order: a 403, not a 404
        orders.ship_order(order.id, "SF", "SF1234567")
    assert err.value.code == "not_seller"
    with as_user(BRAND):
        shipped = orders.ship_order(order.id, "SF", "SF1234567")
        assert orders.ship_order(order.id, "SF", "SF1234567").status == "shipped"  # a retry is fine
    assert shipped.status == "shipped" and shipped.tracking_number == "SF1234567"
    with as_user(STRANGER), pytest.raises(NotFound):
        orders.confirm_receipt(order.id)
    with as_user(BRAND), pytest.raises(PermissionDenied) as err:
        orders.confirm_receipt(order.id)
    assert err.value.code == "not_buyer"
    with as_user(BUYER):
        assert orders.confirm_receipt(order.id).status == "received"
    windows = settings.windows
    assert orders.complete_due(windows) == 0
    with clock.frozen_at(clock.now() + timedelta(days=7, minutes=1)):
        assert orders.complete_due(windows) == 1
        assert orders.complete_due(windows) == 0
    done = Order.objects.get(id=order.id)
    assert done.status == "completed" and done.completed_at is not None
    assert event_types(order.id)[-3:] == ["order_shipped", "order_received", "order_completed"]


def test_shipped_orders_are_received_automatically_after_ten_days(mongo_db, paid_order, settings):
    order, _ = paid_order()
    with as_user(BRAND):
        orders.ship_order(order.id, "SF", "SF1234567")
    assert orders.auto_receive_due(settings.windows) == 0
    with clock.frozen_at(clock.now() + timedelta(days=10, minutes=1)):
        assert orders.auto_receive_due(settings.windows) == 1
    assert Order.objects.get(id=order.id).status == "received"
    assert event_types(order.id)[-1] == "order_received"


def test_partial_then_full_refund_before_shipping_returns_stock(mongo_db, paid_order):
    order, sku_id = paid_order(quantity=2, stock=5)
    assert Sku.objects.get(id=sku_id).stock == 3
    with as_user(BUYER):
        first = refunds.request_refund(order.id, [Line(sku_id, 1)], "changed my mind", "r1")
        with pytest.raises(FailedPrecondition) as err:
            refunds.request_refund(order.id, [Line(sku_id, 1)], "again", "r2")
        assert err.value.code == "refund_pending"
    assert first.amount_fen == 5000 and first.status == "requested"
    with as_user(BRAND):
        assert refunds.review_refund(first.id, approve=True).status == "refunded"
        assert refunds.review_refund(first.id, approve=True).status == "refunded"  # a retry applies nothing twice
    after_first = Order.objects.get(id=order.id)
    assert (after_first.refunded_fen, after_first.status, after_first.pending_refund_id) == (5000, "paid", "")
    assert Sku.objects.get(id=sku_id).stock == 4
    refunded = [e for e in after_first.outbox if e["type"] == "order_refunded"]
    assert len(refunded) == 1
    assert refunded[0]["data"] | {"items": None} == refunded[0]["data"] | {
        "refund_id": first.id,
        "amount_fen": 5000,
        "refunded_total_fen": 5000,
        "refunded_by_sku_fen": {sku_id: 5000},
        "total_fen": 10000,
        "items": None,
    }
    with as_user(BUYER):
        second = refunds.request_refund(order.id, [Line(sku_id, 1)], "the rest too", "r3")
    with as_user(BRAND):
        refunds.review_refund(second.id, approve=True)
    final = Order.objects.get(id=order.id)
    assert (final.refunded_fen, final.status) == (10000, "refunded")
    assert Sku.objects.get(id=sku_id).stock == 5
    with as_user(BUYER), pytest.raises(FailedPrecondition) as err:
        refunds.request_refund(order.id, [Line(sku_id, 1)], "more", "r4")
    assert err.value.code == "order_not_refundable"


def test_refund_after_shipping_keeps_stock_and_rejection_needs_a_reason(mongo_db, paid_order):
    order, sku_id = paid_order(quantity=1)
    with as_user(BRAND):
        orders.ship_order(order.id, "SF", "SF1234567")
    with as_user(BUYER):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "broken", "r1")
    with as_user(BRAND):
        with pytest.raises(InvalidArgument) as err:
            refunds.review_refund(asked.id, approve=False, reason="")
        assert err.value.code == "reason_required"
        assert refunds.review_refund(asked.id, approve=False, reason="no photo").status == "rejected"
        with pytest.raises(FailedPrecondition):
            refunds.review_refund(asked.id, approve=True)
    assert Order.objects.get(id=order.id).pending_refund_id == ""
    with as_user(BUYER):
        again = refunds.request_refund(order.id, [Line(sku_id, 1)], "broken, photo attached", "r2")
    with as_user(BRAND):
        refunds.review_refund(again.id, approve=True)
    assert Order.objects.get(id=order.id).status == "refunded"
    assert Sku.objects.get(id=sku_id).stock == 4  # shipped units do not come back to stock


def test_refund_refusals_change_nothing(mongo_db, paid_order):
    order, sku_id = paid_order(quantity=1)
    with as_user(STRANGER), pytest.raises(NotFound):
        refunds.request_refund(order.id, [Line(sku_id, 1)], "not mine", "r1")
    with as_user(BRAND), pytest.raises(PermissionDenied) as err:
        refunds.request_refund(order.id, [Line(sku_id, 1)], "a seller's", "r1")
    assert err.value.code == "not_buyer"
    with as_user(BUYER), pytest.raises(InvalidArgument) as err:
        refunds.request_refund(order.id, [Line(sku_id, 2)], "too many", "r2")
    assert err.value.code == "invalid_refund_quantity"
    with as_user(BUYER):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "ok", "r3")
    with as_user(STRANGER), pytest.raises(NotFound):
        refunds.review_refund(asked.id, approve=True)
    with as_user(BUYER), pytest.raises(PermissionDenied) as err:  # they see it (ListRefunds): a 403
        refunds.review_refund(asked.id, approve=True)
    assert err.value.code == "own_refund"
    assert Refund.objects.count() == 1 and Order.objects.get(id=order.id).refunded_fen == 0


def test_a_refund_priced_before_another_was_applied_is_not_taken(mongo_db, paid_order, monkeypatch):
    order, sku_id = paid_order(quantity=2, stock=5)
    price = refunds.refund_lines

    def another_refund_lands_meanwhile(*args):
        priced = price(*args)  # both units, as nothing was refunded yet
        monkeypatch.setattr(refunds, "refund_lines", price)
        with as_user(BUYER):
            one = refunds.request_refund(order.id, [Line(sku_id, 1)], "one back", "r1")
        with as_user(BRAND):
            refunds.review_refund(one.id, approve=True)
        return priced

    monkeypatch.setattr(refunds, "refund_lines", another_refund_lands_meanwhile)
    with as_user(BUYER), pytest.raises(FailedPrecondition) as err:
        refunds.request_refund(order.id, [Line(sku_id, 2)], "both back", "r2")
    assert err.value.code == "order_changed"
    after = Order.objects.get(id=order.id)
    assert (after.refunded_fen, after.pending_refund_id, Sku.objects.get(id=sku_id).stock) == (5000, "", 4)


def test_only_the_brand_or_an_admin_decides_a_refund_and_never_the_buyer(mongo_db, make_sku, settings, paid_callback):
    sku_id = make_sku(price_fen=5000)
    with as_user(STORE_OWNER):
        store = stores.open_store("My picks")
        stores.put_store_product(store.id, sku_id, 5000)
        order = orders.create_order([Line(sku_id, 1)], {"store_id": store.id})  # bought from their own store
    payments.handle_payment_notify(*paid_callback(order.id, 5000, "tx_own"), settings)
    with as_user(STORE_OWNER):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "keep it and get paid", "r1")
        with pytest.raises(PermissionDenied) as err:
            refunds.review_refund(asked.id, approve=True)
    assert err.value.code == "own_refund"
    with as_user(BRAND):
        assert refunds.review_refund(asked.id, approve=False, reason="delivered and signed for").status == "rejected"


def test_a_rejection_cut_short_before_freeing_the_order_is_finished_by_a_retry(mongo_db, paid_order):
    order, sku_id = paid_order(quantity=1)
    with as_user(BUYER):
        asked = refunds.request_refund(order.id, [Line(sku_id, 1)], "broken", "r1")
    # rejected, then the process died before it freed the order's review slot
    Refund.objects(id=asked.id).update_one(set__status="rejected", set__reject_reason="no photo")
    with as_user(BRAND):
        assert refunds.review_refund(asked.id, approve=False, reason="no photo").status == "rejected"
    assert Order.objects.get(id=order.id).pending_refund_id == ""


def test_concurrent_refund_requests_leave_one_under_review(mongo_db, paid_order):
    order, sku_id = paid_order(quantity=2)

    def ask(i: int) -> str:
        with as_user(BUYER):
            try:
                return refunds.request_refund(order.id, [Line(sku_id, 1)], "why not", f"key-{i}").id
            except FailedPrecondition as err:
                return err.code

    outcomes = list(ThreadPoolExecutor(8).map(ask, range(8)))
    winners = [o for o in outcomes if o.startswith("rfd_")]
    assert len(winners) == 1
    assert Order.objects.get(id=order.id).pending_refund_id == winners[0]
    assert Refund.objects.count() == 1


def test_a_quote_prices_the_order_only_from_its_service(mongo_db, make_sku):
    sku_id = make_sku(price_fen=5000)
    quote = Quote("groupbuy", {sku_id: 3900}, distribution_enabled=False)
    with as_user(context.Caller("u_buyer", service="groupbuy")):
        order = orders.create_order([Line(sku_id, 1)], {"group_team_id": "tm_1"}, quote=quote)
    assert (order.total_fen, order.distribution_enabled) == (3900, False)
    with as_user(BUYER), pytest.raises(PermissionDenied) as err:
        orders.create_order([Line(sku_id, 1)], {"group_team_id": "tm_1"}, quote=quote)
    assert err.value.code == "quote_not_from_source"
    assert Order.objects.count() == 1


def test_buyers_list_their_orders_newest_first(mongo_db, make_sku):
    sku_id = make_sku(stock=10)
    with as_user(BUYER):
        made = [orders.create_order([Line(sku_id, 1)], {}).id for _ in range(3)]
        first, cursor = orders.list_orders("", 2)
        rest, end = orders.list_orders(cursor, 2)
    assert [o.id for o in first + rest] == made[::-1] and end == ""
    with as_user(STRANGER):
        assert orders.list_orders("", 10)[0] == []
