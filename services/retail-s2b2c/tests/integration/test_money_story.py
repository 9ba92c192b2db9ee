"""The distribution money story of issue #4, through the real use cases of every retail context:
order paid → 2-level commissions frozen → refund reversal → completion settles → withdrawal →
a refund after settlement claws back below zero → withdrawals blocked → a new earning offsets it.
Event handlers are called with the events the outbox really holds (the worker does the same)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mallkit import clock, context
from mallkit.errors import FailedPrecondition
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain.catalog import CommissionRates
from retail_s2b2c.domain.orders import Line
from retail_s2b2c.service import orders, payments, refunds, stores, wallet, withdrawals

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
OWNER, UPLINE, BUYER = context.Caller("u_owner"), context.Caller("u_upline"), context.Caller("u_buyer")


def as_user(who):
    return context.bound(context.new_request_id(), who)


def deliver(order_id: str, event_type: str) -> dict:
    """The latest event of a type in the order's outbox, handed to the wallet as the worker would."""
    event = [e for e in Order.objects.get(id=order_id).outbox if e["type"] == event_type][-1]
    handler = {
        "order_paid": wallet.book_store_commissions,
        "order_refunded": wallet.reverse_for_refund,
        "order_completed": lambda e: wallet.release_order(e["data"]["order_id"]),
    }[event_type]
    handler(event)
    return event


def balance(who):
    with as_user(who):
        return wallet.get_balance()


@pytest.fixture
def shop(mongo_db, make_sku, settings):
    """Store S of owner O (upline U) lists a ¥100.00 SKU; returns a buy(quantity) → paid order."""
    sku_id = make_sku(price_fen=10000, stock=20)
    with as_user(UPLINE):
        upline_store = stores.open_store("Upline's store")
    with as_user(OWNER):
        store = stores.open_store("O's store", invite_code=upline_store.share_code)
        stores.put_store_product(store.id, sku_id, 10000)

    def buy(quantity: int, tx: str, paid_callback) -> Order:
        with as_user(BUYER):
            order = orders.create_order([Line(sku_id, quantity)], {"store_id": store.id})
        with as_user(context.ANONYMOUS):
            payments.handle_payment_notify(*paid_callback(order.id, order.total_fen, tx), settings)
        deliver(order.id, "order_paid")
        return order.reload()

    return buy, sku_id


def refund(order: Order, sku_id: str, quantity: int, key: str) -> None:
    with as_user(BUYER):
        asked = refunds.request_refund(order.id, [Line(sku_id, quantity)], "not as described", key)
    with as_user(BRAND):
        refunds.review_refund(asked.id, approve=True)
    deliver(order.id, "order_refunded")


def settle(order: Order, settings) -> None:
    with as_user(BRAND):
        orders.ship_order(order.id, "SF", "SF1234567")
    with as_user(BUYER):
        orders.confirm_receipt(order.id)
    with clock.frozen_at(clock.now() + timedelta(days=7, minutes=1)):
        assert orders.complete_due(settings.windows) >= 1
    deliver(order.id, "order_completed")


def test_the_worked_example(shop, settings, paid_callback):
    buy, sku_id = shop
    order = buy(5, "tx_1", paid_callback)  # ¥500.00: O +¥50.00, U +¥25.00, frozen
    assert (balance(OWNER).frozen_fen, balance(UPLINE).frozen_fen) == (5000, 2500)
    assert balance(OWNER).available_fen == 0

    refund(order, sku_id, 2, "r1")  # ¥200 of ¥500 back before completion: reversed in proportion
    assert (balance(OWNER).frozen_fen, balance(UPLINE).frozen_fen) == (3000, 1500)

    settle(order, settings)
    assert (balance(OWNER).frozen_fen, balance(OWNER).available_fen) == (0, 3000)
    assert balance(UPLINE).available_fen == 1500

    with as_user(OWNER):
        paid_out = withdrawals.request_withdrawal(3000, "w1", settings.withdrawal_rules)  # ≤ ¥50: auto-approved
    assert paid_out.status == "paid"
    assert (balance(OWNER).available_fen, balance(OWNER).withdrawn_fen) == (0, 3000)

    refund(order, sku_id, 3, "r2")  # the rest, after settlement: clawback below zero
    assert balance(OWNER).available_fen == -3000
    assert balance(UPLINE).available_fen == 0
    with as_user(OWNER), pytest.raises(FailedPrecondition) as err:
        withdrawals.request_withdrawal(1000, "w2", settings.withdrawal_rules)
    assert err.value.code == "negative_balance"

    later = buy(4, "tx_2", paid_callback)  # ¥400.00: O +¥40.00 offsets the debt once settled
    settle(later, settings)
    assert balance(OWNER).available_fen == 1000
    with as_user(OWNER):
        assert withdrawals.request_withdrawal(1000, "w3", settings.withdrawal_rules).status == "paid"
    with as_user(OWNER), pytest.raises(FailedPrecondition) as err:
        withdrawals.request_withdrawal(1000, "w4", settings.withdrawal_rules)
    assert err.value.code == "insufficient_balance"


def test_refunding_one_item_of_two_reverses_what_that_item_earned(mongo_db, make_sku, settings, paid_callback):
    """Tea (¥100.00, the policy's 10 % / 5 %) and a kettle (¥100.00, its product pays 20 % / 10 %):
    O earns ¥30.00, U ¥15.00. The kettle sent back reverses the ¥20.00 / ¥10.00 it earned (in
    proportion of the order it would be ¥15.00 / ¥7.50, leaving O ¥5.00 earned on a returned
    kettle); the tea back reverses the rest."""
    tea = make_sku(price_fen=10000, stock=5)
    kettle = make_sku(price_fen=10000, stock=5, commission=CommissionRates(level1_rate_bp=2000, level2_rate_bp=1000))
    with as_user(UPLINE):
        upline_store = stores.open_store("Upline's store")
    with as_user(OWNER):
        store = stores.open_store("O's store", invite_code=upline_store.share_code)
        stores.put_store_product(store.id, tea, 10000)
        stores.put_store_product(store.id, kettle, 10000)
    with as_user(BUYER):
        order = orders.create_order([Line(tea, 1), Line(kettle, 1)], {"store_id": store.id})
    with as_user(context.ANONYMOUS):
        payments.handle_payment_notify(*paid_callback(order.id, order.total_fen, "tx_1"), settings)
    deliver(order.id, "order_paid")
    assert (balance(OWNER).frozen_fen, balance(UPLINE).frozen_fen) == (3000, 1500)

    refund(order, kettle, 1, "r1")
    event = [e for e in Order.objects.get(id=order.id).outbox if e["type"] == "order_refunded"][-1]
    assert event["data"]["refunded_by_sku_fen"] == {kettle: 10000}
    assert (balance(OWNER).frozen_fen, balance(UPLINE).frozen_fen) == (1000, 500)

    refund(order, tea, 1, "r2")
    event = [e for e in Order.objects.get(id=order.id).outbox if e["type"] == "order_refunded"][-1]
    assert event["data"]["refunded_by_sku_fen"] == {tea: 10000, kettle: 10000}
    assert (balance(OWNER).frozen_fen, balance(UPLINE).frozen_fen) == (0, 0)
