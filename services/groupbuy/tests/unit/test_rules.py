"""Campaign terms and the order_paid payload: pure rules, no I/O."""

import pytest

from groupbuy.domain import campaigns, paid_orders
from mallkit.errors import InvalidArgument


def test_terms_within_bounds_pass_and_zero_expiry_means_a_day():
    assert campaigns.check_terms("sku_1", 990, 2, 0) == campaigns.CampaignTerms("sku_1", 990, 2, 24)
    assert campaigns.check_terms("sku_1", 1, 50, 72).expiry_hours == 72
    assert campaigns.check_terms("sku_1", 1, 3, 1).expiry_hours == 1


@pytest.mark.parametrize(
    ("sku_id", "price", "team_size", "expiry", "code"),
    [
        ("", 990, 2, 24, "invalid_sku_id"),
        ("sku 1", 990, 2, 24, "invalid_sku_id"),
        ("sku_1", 0, 2, 24, "invalid_group_price"),
        ("sku_1", -5, 2, 24, "invalid_group_price"),
        ("sku_1", 990, 1, 24, "invalid_team_size"),
        ("sku_1", 990, 51, 24, "invalid_team_size"),
        ("sku_1", 990, 2, 73, "invalid_expiry"),
        ("sku_1", 990, 2, -1, "invalid_expiry"),
    ],
)
def test_terms_out_of_bounds_are_refused_with_their_code(sku_id, price, team_size, expiry, code):
    with pytest.raises(InvalidArgument) as err:
        campaigns.check_terms(sku_id, price, team_size, expiry)
    assert err.value.code == code


def test_group_price_must_be_strictly_below_the_sku_price():
    terms = campaigns.check_terms("sku_1", 1990, 2, 0)
    campaigns.check_group_price(terms, 1991)
    for sku_price in (1990, 1000):
        with pytest.raises(InvalidArgument) as err:
            campaigns.check_group_price(terms, sku_price)
        assert err.value.code == "group_price_not_below_price"


def test_order_paid_data_gives_the_facts_groupbuy_keeps(order_paid):
    data = order_paid("ord_1", buyer_id="u_b", total_fen=3980, group_team_id="tm_7")["data"]
    assert paid_orders.from_order_paid(data) == paid_orders.PaidOrderFacts("ord_1", "u_b", 3980, "tm_7")
    del data["attribution"]
    assert paid_orders.from_order_paid(data).group_team_id == ""


@pytest.mark.parametrize(
    "change",
    [
        {"order_id": ""},
        {"order_id": None},
        {"buyer_id": 7},
        {"total_fen": "3980"},
        {"total_fen": True},
        {"total_fen": -1},
        {"attribution": "tm_7"},
        {"attribution": {"group_team_id": 7}},
    ],
)
def test_malformed_order_paid_data_is_refused(order_paid, change):
    data = {**order_paid("ord_1")["data"], **change}
    with pytest.raises(InvalidArgument) as err:
        paid_orders.from_order_paid(data)
    assert err.value.code == "malformed_event"


def test_order_paid_data_without_a_total_is_refused(order_paid):
    data = order_paid("ord_1")["data"]
    del data["total_fen"]
    with pytest.raises(InvalidArgument, match="total_fen"):
        paid_orders.from_order_paid(data)
