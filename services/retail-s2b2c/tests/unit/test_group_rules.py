"""Group orders: which orders wait for their team, what a full refund owes, reading team events."""

import pytest

from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from retail_s2b2c.domain import group_events
from retail_s2b2c.domain.group_events import TeamOrders
from retail_s2b2c.domain.orders import (
    Line,
    PricedLine,
    Quote,
    awaits_group,
    check_group_formed,
    check_quote,
    remaining_lines,
)

GROUP_QUOTE = Quote("groupbuy", {"sku_a": 990}, distribution_enabled=False)


def test_only_a_team_seat_priced_by_groupbuy_waits_for_its_team():
    assert awaits_group({"group_team_id": "tm_1"}, GROUP_QUOTE)
    assert not awaits_group({"group_campaign_id": "gc_1"}, GROUP_QUOTE)  # a solo purchase: no team
    assert not awaits_group({"bargain_id": "brg_1"}, GROUP_QUOTE)
    assert not awaits_group({"group_team_id": "tm_1"}, None)  # the buyer's own attribution, store price
    assert not awaits_group({"group_team_id": "tm_1"}, Quote("agent", {"sku_a": 990}, False))
    check_group_formed(False)
    with pytest.raises(FailedPrecondition) as err:
        check_group_formed(True)
    assert err.value.code == "group_not_formed"


def test_groupbuy_may_quote_a_campaign_solo_purchase_and_no_one_else_may():
    check_quote(GROUP_QUOTE, "groupbuy", {"group_campaign_id": "gc_1"}, [Line("sku_a", 1)])
    with pytest.raises(PermissionDenied):
        check_quote(GROUP_QUOTE, "agent", {"group_campaign_id": "gc_1"}, [Line("sku_a", 1)])
    with pytest.raises(InvalidArgument) as err:
        check_quote(Quote("agent", {"sku_a": 990}, False), "agent", {"group_campaign_id": "gc_1"}, [Line("sku_a", 1)])
    assert err.value.code == "quote_attribution_missing"


def test_a_full_refund_owes_every_unit_not_refunded_yet_at_what_was_paid():
    bought = [PricedLine("a", 3, 1250), PricedLine("b", 1, 500)]
    assert [(r.sku_id, r.quantity, r.amount_fen) for r in remaining_lines(bought, {})] == [
        ("a", 3, 3750),
        ("b", 1, 500),
    ]
    assert [(r.sku_id, r.quantity, r.amount_fen) for r in remaining_lines(bought, {"a": 2})] == [
        ("a", 1, 1250),
        ("b", 1, 500),
    ]
    assert remaining_lines(bought, {"a": 3, "b": 1}) == []


def test_team_events_are_read_with_their_orders_once_each():
    data = {"team_id": "tm_1", "campaign_id": "gc_1", "order_ids": ["o1", "o2", "o1"], "virtually_filled": False}
    assert group_events.team_formed(data) == TeamOrders("tm_1", ("o1", "o2"))
    failed = {"team_id": "tm_1", "campaign_id": "gc_1", "reason": "expired", "order_ids": []}
    assert group_events.team_failed(failed) == TeamOrders("tm_1", (), "expired")
    seat = {"team_id": "tm_1", "campaign_id": "gc_1", "user_id": "u_1", "order_id": "o1", "reason": "left"}
    assert group_events.seat_released(seat) == TeamOrders("tm_1", ("o1",), "left")
    assert group_events.seat_released({**seat, "order_id": ""}) == TeamOrders("tm_1", (), "left")


@pytest.mark.parametrize(
    ("read", "data"),
    [
        (group_events.team_failed, None),
        (group_events.team_failed, {"team_id": "tm_1"}),
        (group_events.team_failed, {"team_id": "tm_1", "order_ids": "o1"}),
        (group_events.team_failed, {"team_id": "tm_1", "order_ids": ["o1", ""]}),
        (group_events.team_failed, {"team_id": "tm_1", "order_ids": [7]}),
        (group_events.team_formed, {"team_id": "", "order_ids": ["o1"]}),
        (group_events.team_formed, {"order_ids": ["o1"]}),
        (group_events.team_failed, {"team_id": "tm_1", "order_ids": ["o1"], "reason": 3}),
        (group_events.seat_released, {"team_id": "tm_1", "order_id": None}),
        (group_events.seat_released, {"order_id": "o1"}),
        (group_events.seat_released, ["tm_1"]),
    ],
)
def test_malformed_team_events_are_refused(read, data):
    with pytest.raises(InvalidArgument) as err:
        read(data)
    assert err.value.code == "malformed_event"
