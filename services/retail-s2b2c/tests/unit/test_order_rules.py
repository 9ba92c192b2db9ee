from datetime import UTC, datetime, timedelta

import pytest

from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from retail_s2b2c.domain.orders import (
    Line,
    PricedLine,
    Quote,
    Windows,
    check_quote,
    check_refundable,
    check_tracking,
    refund_lines,
)

TEAM = {"group_team_id": "tm_1"}


def test_a_quote_is_accepted_only_from_its_own_service_for_what_it_sells():
    quote = Quote("groupbuy", {"sku_a": 990}, distribution_enabled=False)
    check_quote(quote, "groupbuy", TEAM, [Line("sku_a", 1)])
    cases = [
        (quote, "", TEAM, PermissionDenied, "quote_not_from_source"),  # straight from the gateway
        (quote, "agent", TEAM, PermissionDenied, "quote_not_from_source"),
        (quote, "groupbuy", {}, InvalidArgument, "quote_attribution_missing"),
        (Quote("content", {"sku_a": 1}, False), "content", TEAM, InvalidArgument, "unknown_quote_source"),
        (Quote("groupbuy", {"sku_b": 1}, False), "groupbuy", TEAM, InvalidArgument, "quote_lines_mismatch"),
        (Quote("groupbuy", {"sku_a": 0}, False), "groupbuy", TEAM, InvalidArgument, "invalid_quote_price"),
    ]
    for bad, service, attribution, error, code in cases:
        with pytest.raises(error) as err:
            check_quote(bad, service, attribution, [Line("sku_a", 1)])
        assert err.value.code == code


def test_refunds_are_priced_at_what_was_paid_and_never_exceed_what_is_left():
    bought = {"a": PricedLine("a", 3, 1250), "b": PricedLine("b", 1, 500)}
    assert [(r.sku_id, r.quantity, r.amount_fen) for r in refund_lines([Line("a", 2)], bought, {})] == [("a", 2, 2500)]
    for lines, refunded, code in [
        ([Line("a", 2)], {"a": 2}, "invalid_refund_quantity"),
        ([Line("a", 0)], {}, "invalid_refund_quantity"),
        ([Line("c", 1)], {}, "sku_not_in_order"),
        ([Line("a", 1), Line("a", 1)], {}, "duplicate_sku"),
        ([], {}, "invalid_refund_lines"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            refund_lines(lines, bought, refunded)
        assert err.value.code == code


def test_refundable_states():
    for status in ("paid", "shipped", "received", "completed"):  # completed: a clawback after settlement
        check_refundable(status, "")
    for status, pending, code in [
        ("created", "", "order_not_refundable"),
        ("cancelled", "", "order_not_refundable"),
        ("refunded", "", "order_not_refundable"),
        ("paid", "rfd_1", "refund_pending"),
    ]:
        with pytest.raises(FailedPrecondition) as err:
            check_refundable(status, pending)
        assert err.value.code == code


def test_order_clocks_follow_the_business_rules():
    windows = Windows()
    at = datetime(2026, 11, 25, tzinfo=UTC)
    assert windows.receive_due_before(at) == at - timedelta(days=10)
    assert windows.complete_due_before(at) == at - timedelta(days=7)


def test_tracking_is_required():
    assert check_tracking(" SF ", " SF1234567 ") == ("SF", "SF1234567")
    with pytest.raises(InvalidArgument):
        check_tracking("", "SF1234567")
