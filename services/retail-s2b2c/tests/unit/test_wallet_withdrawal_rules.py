"""Pure withdrawal rules (BUSINESS_RULES: ¥10.00 .. ¥5,000.00, 3 a day, fee 0 %, auto ≤ ¥50.00)."""

from __future__ import annotations

import pytest

from mallkit.errors import FailedPrecondition, InvalidArgument
from retail_s2b2c.domain.withdrawals import (
    WithdrawalRules,
    check_amount,
    check_can_withdraw,
    check_pending,
    check_reject_reason,
)

RULES = WithdrawalRules()


@pytest.mark.parametrize(
    ("amount", "code"), [(999, "below_minimum"), (600, "below_minimum"), (500_001, "above_maximum")]
)
def test_amount_limits(amount, code):
    with pytest.raises(InvalidArgument) as err:
        check_amount(amount, RULES)
    assert err.value.code == code


def test_amounts_at_the_limits_pass():
    assert check_amount(1000, RULES) == 1000
    assert check_amount(500_000, RULES) == 500_000


@pytest.mark.parametrize(
    ("amount", "available", "today", "code"),
    [
        (1000, -1, 0, "negative_balance"),
        (1000, -1, 3, "negative_balance"),  # the negative balance is the first thing to fix
        (1000, 50_000, 3, "daily_limit_reached"),
        (1001, 1000, 0, "insufficient_balance"),
    ],
)
def test_state_checks(amount, available, today, code):
    with pytest.raises(FailedPrecondition) as err:
        check_can_withdraw(amount, available, today, RULES)
    assert err.value.code == code


def test_the_whole_available_balance_may_be_withdrawn():
    check_can_withdraw(1000, 1000, 2, RULES)


def test_fee_rounds_down_and_auto_approval_threshold():
    assert RULES.fee_fen(10_000) == 0
    assert WithdrawalRules(fee_bp=60).fee_fen(1999) == 11
    assert RULES.auto_approved(5000) and not RULES.auto_approved(5001)


def test_review_rules():
    check_pending("pending_review")
    with pytest.raises(FailedPrecondition) as err:
        check_pending("paid")
    assert err.value.code == "withdrawal_not_pending"
    assert check_reject_reason("  bank account closed ") == "bank account closed"
    with pytest.raises(InvalidArgument):
        check_reject_reason("   ")
