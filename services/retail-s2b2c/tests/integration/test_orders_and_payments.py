"""Use cases against a real Mongo wire server."""

import pytest

from mallkit import context
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.orders import Order, Payment, ReturnedPayment
from retail_s2b2c.domain.orders import Line, Quote
from retail_s2b2c.service import orders, payments

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
BUYER = context.Caller("u_buyer", frozenset({"consumer"}))
OTHER = context.Caller("u_other", frozenset({"consumer"}))


def as_user(who):
    return context.bound(context.new_request_id(), who)


# catalog use cases (products, review, visibility): test_catalog.py


def test_order_prices_server_side_and_reserves_stock(mongo_db, make_sku):
    sku_id = make_sku(price_fen=1990, stock=3)
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 2)], {"post_id": "pst_1"})
    assert order.total_fen == 3980 and order.status == "created"
    assert order.attribution.post_id == "pst_1"
    assert Sku.objects.get(id=sku_id).stock == 1
    assert [e["type"] for e in Order.objects.get(id=order.id).outbox] == ["order_created"]
    with as_user(BUYER), pytest.raises(FailedPrecondition) as err:
        orders.create_order([Line(sku_id, 2)], {})
    assert err.value.code == "out_of_stock"
    assert Sku.objects.get(id=sku_id).stock == 1


def test_failed_multi_line_order_gives_back_what_it_took(mongo_db, make_sku):
    plenty, scarce = make_sku(stock=10), make_sku(stock=1)
    with as_user(BUYER), pytest.raises(FailedPrecondition):
        orders.create_order([Line(plenty, 4), Line(scarce, 2)], {})
    assert Sku.objects.get(id=plenty).stock == 10 and Sku.objects.get(id=scarce).stock == 1
    assert Order.objects.count() == 0


def test_same_idempotency_key_returns_the_first_order(mongo_db, make_sku):
    sku_id = make_sku(stock=5)
    with as_user(BUYER):
        first = orders.create_order([Line(sku_id, 1)], {}, "key-1")
        again = orders.create_order([Line(sku_id, 1)], {}, "key-1")
    assert again.id == first.id
    assert Sku.objects.get(id=sku_id).stock == 4
    with as_user(OTHER):  # keys are per buyer
        assert orders.create_order([Line(sku_id, 1)], {}, "key-1").id != first.id


def test_a_services_keys_are_apart_from_the_buyers_own(mongo_db, make_sku):
    cheap, seat_sku = make_sku(price_fen=1), make_sku(price_fen=5000)
    with as_user(BUYER):  # the buyer squats the key groupbuy will use for their seat's order
        squatted = orders.create_order([Line(cheap, 1)], {}, "seat:seat_1")
    quote = Quote("groupbuy", {seat_sku: 3900}, distribution_enabled=False)
    with as_user(context.Caller(BUYER.user_id, service="groupbuy")):
        seat_order = orders.create_order([Line(seat_sku, 1)], {"group_team_id": "tm_1"}, "seat:seat_1", quote)
        assert orders.create_order([Line(seat_sku, 1)], {"group_team_id": "tm_1"}, "seat:seat_1", quote) == seat_order
    assert seat_order.id != squatted.id and seat_order.total_fen == 3900


def test_orders_are_private(mongo_db, make_sku):
    sku_id = make_sku()
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 1)], {})
    with as_user(OTHER), pytest.raises(NotFound):
        orders.get_order(order.id)
    with as_user(context.Caller("u_admin", frozenset({"admin"}))):
        assert orders.get_order(order.id).id == order.id


def test_unknown_sku_is_not_found(mongo_db):
    with as_user(BUYER), pytest.raises(NotFound) as err:
        orders.create_order([Line("sku_missing", 1)], {})
    assert err.value.code == "sku_not_found"


def test_payment_callback_marks_paid_once_and_raises_order_paid(mongo_db, make_sku, settings, paid_callback):
    sku_id = make_sku(price_fen=500)
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 2)], {})
        payment = payments.create_payment(order.id, settings)
    assert payment.provider_params["amount_fen"] == "1000"
    body, signature = paid_callback(order.id, 1000)
    assert payments.handle_payment_notify(body, signature, settings).newly_paid is True
    assert payments.handle_payment_notify(body, signature, settings).newly_paid is False
    stored = Order.objects.get(id=order.id)
    assert stored.status == "paid" and stored.transaction_id == "tx_1"
    assert [e["type"] for e in stored.outbox] == ["order_created", "order_paid"]
    paid_event = stored.outbox[1]["data"]
    assert paid_event["total_fen"] == 1000 and paid_event["items"][0]["quantity"] == 2
    assert Payment.objects.get(order_id=order.id).status == "paid"
    with as_user(BUYER), pytest.raises(FailedPrecondition):
        payments.create_payment(order.id, settings)


def test_a_payment_that_cannot_pay_its_order_is_returned_once(mongo_db, make_sku, settings, paid_callback):
    sku_id = make_sku(price_fen=500)
    with as_user(BUYER):
        late, twice = orders.create_order([Line(sku_id, 1)], {}), orders.create_order([Line(sku_id, 1)], {})
    assert orders.cancel_unpaid(late, "payment_timeout")
    # paid in the payment window's last second, the callback after the timeout cancelled the order
    for _ in range(2):
        assert payments.handle_payment_notify(*paid_callback(late.id, 500, "tx_late"), settings).newly_paid is False
    assert payments.handle_payment_notify(*paid_callback(twice.id, 500, "tx_first"), settings).newly_paid
    assert payments.handle_payment_notify(*paid_callback(twice.id, 500, "tx_second"), settings).newly_paid is False
    returned = {(r.transaction_id, r.order_id, r.amount_fen, r.reason) for r in ReturnedPayment.objects}
    assert returned == {("tx_late", late.id, 500, "order_cancelled"), ("tx_second", twice.id, 500, "order_paid")}
    assert (Order.objects.get(id=late.id).status, Order.objects.get(id=twice.id).transaction_id) == (
        "cancelled",
        "tx_first",
    )
    # the first payment's callback delivered again once the order has moved on is just acknowledged
    Order.objects(id=twice.id).update_one(set__status="shipped")
    assert payments.handle_payment_notify(*paid_callback(twice.id, 500, "tx_first"), settings).newly_paid is False
    assert ReturnedPayment.objects.count() == 2


def test_bad_callbacks_change_nothing(mongo_db, make_sku, settings, paid_callback):
    sku_id = make_sku(price_fen=500)
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 1)], {})
    body, _ = paid_callback(order.id, 500)
    with pytest.raises(Unauthenticated) as err:
        payments.handle_payment_notify(body, "0" * 64, settings)
    assert err.value.code == "invalid_signature"
    wrong_amount, signature = paid_callback(order.id, 499)
    with pytest.raises(InvalidArgument) as err:
        payments.handle_payment_notify(wrong_amount, signature, settings)
    assert err.value.code == "amount_mismatch"
    stored = Order.objects.get(id=order.id)
    assert stored.status == "created" and [e["type"] for e in stored.outbox] == ["order_created"]


def test_unpaid_orders_expire_and_give_stock_back(mongo_db, make_sku, settings, monkeypatch):
    sku_id = make_sku(stock=2)
    with as_user(BUYER):
        order = orders.create_order([Line(sku_id, 2)], {})
    assert orders.cancel_expired_orders(settings) == 0
    monkeypatch.setenv("ORDER_UNPAID_TIMEOUT_SECONDS", "0")
    from retail_s2b2c.config import RetailSettings

    assert orders.cancel_expired_orders(RetailSettings.from_env()) == 1
    assert orders.cancel_expired_orders(RetailSettings.from_env()) == 0
    stored = Order.objects.get(id=order.id)
    assert stored.status == "cancelled" and stored.outbox[-1]["type"] == "order_cancelled"
    assert Sku.objects.get(id=sku_id).stock == 2


def test_an_order_that_fails_to_cancel_does_not_hold_back_the_others(mongo_db, make_sku, monkeypatch):
    sku_id = make_sku(stock=3)
    with as_user(BUYER):
        stuck, *others = [orders.create_order([Line(sku_id, 1)], {}) for _ in range(3)]
    cancel_unpaid = orders.cancel_unpaid

    def failing_for_stuck(order, reason):
        if order.id == stuck.id:
            raise RuntimeError("this order cannot be cancelled")
        return cancel_unpaid(order, reason)

    monkeypatch.setattr(orders, "cancel_unpaid", failing_for_stuck)
    monkeypatch.setenv("ORDER_UNPAID_TIMEOUT_SECONDS", "0")
    from retail_s2b2c.config import RetailSettings

    assert orders.cancel_expired_orders(RetailSettings.from_env()) == 2
    assert [Order.objects.get(id=o.id).status for o in (stuck, *others)] == ["created", "cancelled", "cancelled"]
    assert Sku.objects.get(id=sku_id).stock == 2


def test_a_store_sells_at_its_own_price_and_binds_buyers_to_it(mongo_db, make_sku, settings):
    from retail_s2b2c.service import stores

    sku_id = make_sku(price_fen=2000, stock=5, price_min_fen=1800, price_max_fen=2600)
    owner = context.Caller("u_owner")
    with as_user(owner):
        store = stores.open_store("Lin's tea corner")
        stores.put_store_product(store.id, sku_id, 2400)
    with as_user(BUYER):
        in_store = orders.create_order([Line(sku_id, 1)], {"store_id": store.id})
        stores.bind_consumer(store.share_code, settings)
        # later, buying on the platform, the bound consumer is still the store's customer
        on_platform = orders.create_order([Line(sku_id, 1)], {})
    assert (in_store.total_fen, in_store.attribution.store_id) == (2400, store.id)
    assert (on_platform.total_fen, on_platform.attribution.store_id) == (2000, store.id)
    other = make_sku(price_fen=1000)
    with as_user(BUYER), pytest.raises(FailedPrecondition) as err:
        orders.create_order([Line(other, 1)], {"store_id": store.id})
    assert err.value.code == "not_in_store"
    assert Sku.objects.get(id=other).stock == 10
