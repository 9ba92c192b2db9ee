"""Pure wallet rules: commission math, proportional reversal rounding, the policy, balances."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallkit.errors import InvalidArgument
from retail_s2b2c.domain import ledger
from retail_s2b2c.domain.ledger import Balance, Refunded
from retail_s2b2c.domain.payout_policy import DEFAULT, ItemRates, Policy, check_policy, plan_store_commissions


def test_worked_example_store_commissions():
    """BUSINESS_RULES: store S (owner O, upline U) sells ¥100.00 → O +¥10.00, U +¥5.00."""
    plan = plan_store_commissions("buyer", "O", "U", [ItemRates(10_000)], DEFAULT)
    assert [(p.level, p.beneficiary_id, p.amount_fen) for p in plan] == [(1, "O", 1000), (2, "U", 500)]
    assert plan[0].note == "level 1 commission, 10 % of ¥100.00"
    assert plan[1].note == "level 2 commission, 5 % of ¥100.00"


def test_commission_rounds_down_per_item_and_uses_product_overrides():
    items = [ItemRates(999), ItemRates(999), ItemRates(5_000, level1_rate_bp=1500, level2_rate_bp=0)]
    plan = plan_store_commissions("buyer", "O", "U", items, DEFAULT)
    # level 1: 99 + 99 (not floor(1998 × 10 %) = 199) + 750; level 2: 49 + 49 + 0
    assert [(p.level, p.amount_fen) for p in plan] == [(1, 948), (2, 98)]
    assert plan[0].note == "level 1 commission, 10 % of ¥19.98 + 15 % of ¥50.00"


def test_nobody_earns_from_their_own_purchase():
    assert plan_store_commissions("O", "O", "U", [ItemRates(10_000)], DEFAULT) == []
    upline_buys = plan_store_commissions("U", "O", "U", [ItemRates(10_000)], DEFAULT)
    assert [(p.level, p.beneficiary_id) for p in upline_buys] == [(1, "O")]


def test_one_paid_level_and_no_upline_pay_level_one_only():
    one_level = Policy(paid_levels=1, level1_rate_bp=1000, level2_rate_bp=500, order_cap_bp=3000)
    assert [p.level for p in plan_store_commissions("b", "O", "U", [ItemRates(10_000)], one_level)] == [1]
    assert [p.level for p in plan_store_commissions("b", "O", "", [ItemRates(10_000)], DEFAULT)] == [1]


def test_zero_commissions_are_not_planned():
    assert plan_store_commissions("b", "O", "U", [ItemRates(9)], DEFAULT) == []


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (Policy(3, 1000, 500, 3000), "too_many_paid_levels"),
        (Policy(0, 1000, 500, 3000), "too_few_paid_levels"),
        (Policy(2, 1000, 500, 3001), "payout_cap_too_high"),
        (Policy(2, 1000, 500, -1), "invalid_payout_cap"),
        (Policy(2, -1, 500, 3000), "negative_rate"),
        (Policy(2, 1000, -5, 3000), "negative_rate"),
        (Policy(2, 2000, 1001, 3000), "rates_exceed_cap"),
        (Policy(1, 1000, 500, 1200), "rates_exceed_cap"),
    ],
)
def test_policy_outside_the_compliance_limits_is_refused(policy, code):
    with pytest.raises(InvalidArgument) as err:
        check_policy(policy)
    assert err.value.code == code


def test_policy_at_the_limits_is_accepted():
    assert check_policy(Policy(2, 2000, 1000, 3000)) == Policy(2, 2000, 1000, 3000)
    assert check_policy(DEFAULT) is DEFAULT


def test_cap_rounds_down():
    assert ledger.cap_fen(10_000, 3000) == 3000
    assert ledger.cap_fen(999, 3000) == 299


def refunded(paid: int, back: int) -> Refunded:
    return Refunded(paid_fen=paid, refunded_fen=back)


def test_worked_example_reversals():
    """Partial refund ¥40 of ¥100: O −¥4.00, U −¥2.00; the remaining ¥60 reverses the rest."""
    assert ledger.reversal_delta(1000, 0, refunded(10_000, 4000)) == 400
    assert ledger.reversal_delta(500, 0, refunded(10_000, 4000)) == 200
    assert ledger.reversal_delta(1000, 400, refunded(10_000, 10_000)) == 600
    assert ledger.reversal_delta(500, 200, refunded(10_000, 10_000)) == 300


def test_reversal_never_goes_backwards_or_past_the_paid_amount():
    assert ledger.reversal_delta(1000, 600, refunded(10_000, 4000)) == 0  # an older refund seen late
    assert ledger.reversal_target(1000, refunded(10_000, 20_000)) == 1000
    assert ledger.reversal_target(1000, refunded(10_000, 0)) == 0
    assert ledger.reversal_target(1000, refunded(0, 10)) == 0


@given(
    amount=st.integers(1, 10**7),
    paid=st.integers(1, 10**8),
    refunds=st.lists(st.integers(1, 10**8), min_size=1, max_size=6),
)
def test_proportional_reversals_sum_to_their_target_and_never_exceed_the_earning(amount, paid, refunds):
    reversed_fen, back = 0, 0
    for refund in refunds:
        back = min(paid, back + refund)
        delta = ledger.reversal_delta(amount, reversed_fen, refunded(paid, back))
        assert delta >= 0
        reversed_fen += delta
        assert reversed_fen == amount * back // paid <= amount
    if back == paid:
        assert reversed_fen == amount  # a full refund reverses exactly everything


# an order of two ¥100.00 items: tea at the policy's 10 %, a kettle at its product's 20 %
TEA_AND_KETTLE = {"sku_tea": 10_000, "sku_kettle": 10_000}


def test_refunding_an_item_reverses_what_that_item_earned():
    """O earned ¥10.00 on the tea and ¥20.00 on the kettle: the kettle back reverses ¥20.00, not
    half of ¥30.00; the tea back then reverses the last ¥10.00."""
    plan = plan_store_commissions(
        "buyer",
        "O",
        "U",
        [ItemRates(10_000, "sku_tea"), ItemRates(10_000, "sku_kettle", level1_rate_bp=2000, level2_rate_bp=1000)],
        DEFAULT,
    )
    level1, level2 = plan
    assert (level1.amount_fen, level1.basis) == (3000, {"sku_tea": 1000, "sku_kettle": 2000})
    assert (level2.amount_fen, level2.basis) == (1500, {"sku_tea": 500, "sku_kettle": 1000})
    kettle_back = Refunded(20_000, 10_000, TEA_AND_KETTLE, {"sku_kettle": 10_000})
    assert ledger.reversal_target(3000, kettle_back, level1.basis) == 2000
    assert ledger.reversal_target(1500, kettle_back, level2.basis) == 1000
    assert ledger.reversal_target(3000, kettle_back) == 1500  # an earning not booked per item
    both_back = Refunded(20_000, 20_000, TEA_AND_KETTLE, {"sku_kettle": 10_000, "sku_tea": 10_000})
    assert ledger.reversal_delta(3000, 2000, both_back, level1.basis) == 1000


def test_part_of_an_item_back_reverses_that_part_of_what_it_earned_rounded_down():
    basis = {"sku_tea": 999, "sku_kettle": 2000}  # 3 teas at ¥33.33 (10 %), one kettle
    paid = {"sku_tea": 9999, "sku_kettle": 10_000}
    one_tea_back = Refunded(19_999, 3333, paid, {"sku_tea": 3333})
    assert ledger.reversal_target(2999, one_tea_back, basis) == 333  # floor(999 × 3333 / 9999)


@pytest.mark.parametrize(
    ("basis", "by_sku", "why"),
    [
        ({"sku_tea": 1000, "sku_kettle": 1999}, {"sku_kettle": 10_000}, "the basis does not add up to the amount"),
        ({"sku_tea": 1000, "sku_lamp": 2000}, {"sku_kettle": 10_000}, "the basis names a SKU the order lacks"),
        ({"sku_tea": 1000, "sku_kettle": 2000}, {}, "the refund did not say what each SKU got back"),
    ],
)
def test_without_a_usable_split_the_earning_is_reversed_in_proportion_of_the_order(basis, by_sku, why):
    half_back = Refunded(20_000, 10_000, TEA_AND_KETTLE, by_sku)
    assert ledger.reversal_target(3000, half_back, basis) == 1500, why


@given(
    items=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 10**6), st.integers(0, 3000)), min_size=1, max_size=5),
    refunds=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 5)), min_size=1, max_size=8),
)
def test_item_by_item_reversals_only_grow_stay_within_the_earning_and_reverse_all_on_a_full_refund(items, refunds):
    """Items (units, unit price, level-1 rate) refunded unit by unit in any order: the target never
    shrinks, never passes what was booked, and reaches it exactly once everything is back."""
    skus = [f"sku_{n}" for n in range(len(items))]
    plan = plan_store_commissions(
        "buyer",
        "O",
        "",
        [ItemRates(n * price, sku, rate) for sku, (n, price, rate) in zip(skus, items, strict=True)],
        DEFAULT,
    )
    if not plan:
        return
    earning = plan[0]
    paid_by_sku = {sku: n * price for sku, (n, price, _) in zip(skus, items, strict=True)}
    paid = sum(paid_by_sku.values())
    back: dict[str, int] = {}
    target = 0
    for index, units in refunds:
        if index >= len(items):
            continue
        sku, (n, price, _) = skus[index], items[index]
        back[sku] = min(n * price, back.get(sku, 0) + units * price)
        now_target = ledger.reversal_target(
            earning.amount_fen, Refunded(paid, sum(back.values()), paid_by_sku, back), earning.basis
        )
        assert target <= now_target <= earning.amount_fen
        all_back = [s for s in earning.basis if back.get(s) == paid_by_sku[s]]
        assert now_target >= sum(earning.basis[s] for s in all_back)  # an item all back: all it earned
        target = now_target
    everything = Refunded(paid, paid, paid_by_sku, paid_by_sku)
    assert ledger.reversal_target(earning.amount_fen, everything, earning.basis) == earning.amount_fen


def test_balance_is_read_off_the_state_sums():
    balance = Balance.from_state_sums({"frozen": 600, "available": 900, "withdrawing": -2000, "withdrawn": -1500})
    assert balance == Balance(frozen_fen=600, available_fen=-2600, withdrawing_fen=2000, withdrawn_fen=1500)
    assert Balance.from_state_sums({}) == Balance()


def test_keys_and_formatting():
    assert ledger.commission_key("ord_1", 2) == "order:ord_1:l2"
    assert ledger.reversal_key("rf_1", "order:ord_1:l1") == "refund:rf_1:order:ord_1:l1"
    assert ledger.withdrawal_key("u_1", 3) == "withdrawal:u_1:3"
    assert ledger.fmt_fen(123_456) == "¥1,234.56" and ledger.fmt_fen(-600) == "-¥6.00"
    assert ledger.fmt_rate(250) == "2.5 %"
    with pytest.raises(InvalidArgument):
        ledger.check_key(" ")
    with pytest.raises(InvalidArgument):
        ledger.check_key("k" * 201)


def test_settleable_orders():
    assert ledger.is_settleable("completed", None)
    assert ledger.is_settleable("refunded", object())  # refunded after completion
    assert not ledger.is_settleable("received", None)
