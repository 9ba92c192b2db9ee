"""Campaign terms, team rules and the order_paid payload: pure rules, no I/O."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from groupbuy.domain import campaigns, paid_orders, teams
from groupbuy.domain.campaigns import CampaignTerms, UserLimits
from mallkit.errors import InvalidArgument

AT = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def terms(**changes) -> CampaignTerms:
    return replace(CampaignTerms("sku_1", 990, 3, 0), **changes)


def test_zeros_mean_the_documented_defaults():
    checked = campaigns.check_terms(terms(), AT)
    assert (checked.expiry_hours, checked.seat_allotment) == (24, 1000)
    assert checked.limits == UserLimits(teams_opened=1, teams_joined=3, units_per_order=1)
    assert (checked.start_time, checked.end_time) == (AT, AT + timedelta(days=30))
    assert campaigns.check_terms(terms(team_size=50, expiry_hours=72), AT).expiry_hours == 72


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"sku_id": ""}, "invalid_sku_id"),
        ({"sku_id": "sku 1"}, "invalid_sku_id"),
        ({"group_price_fen": 0}, "invalid_group_price"),
        ({"group_price_fen": -5}, "invalid_group_price"),
        ({"leader_price_fen": -1}, "invalid_price"),
        ({"leader_price_fen": 991}, "invalid_leader_price"),
        ({"solo_price_fen": 990}, "invalid_solo_price"),
        ({"team_size": 1}, "invalid_team_size"),
        ({"team_size": 51}, "invalid_team_size"),
        ({"expiry_hours": 73}, "invalid_expiry"),
        ({"expiry_hours": -1}, "invalid_expiry"),
        ({"seat_allotment": 1_000_001}, "invalid_allotment"),
        ({"team_size": 50, "seat_allotment": 49}, "invalid_allotment"),  # not one team could form
        ({"end_time": AT - timedelta(seconds=1)}, "invalid_schedule"),
        ({"start_time": AT + timedelta(days=2), "end_time": AT + timedelta(days=1)}, "invalid_schedule"),
        ({"limits": UserLimits(teams_joined=101)}, "invalid_limits"),
        ({"virtual_fill_percent": 101}, "invalid_virtual_fill"),
    ],
)
def test_terms_out_of_bounds_are_refused_with_their_code(changes, code):
    with pytest.raises(InvalidArgument) as err:
        campaigns.check_terms(terms(**changes), AT)
    assert err.value.code == code


def test_group_price_must_be_strictly_below_the_sku_price():
    checked = campaigns.check_terms(terms(group_price_fen=1990), AT)
    campaigns.check_prices(checked, 1991)
    for sku_price in (1990, 1000):
        with pytest.raises(InvalidArgument) as err:
            campaigns.check_prices(checked, sku_price)
        assert err.value.code == "group_price_not_below_price"


def test_the_status_follows_the_stage_and_the_clock():
    start, end = AT, AT + timedelta(days=1)
    assert campaigns.status_at("draft", start, end, AT) == "draft"
    assert campaigns.status_at("published", start, end, AT - timedelta(seconds=1)) == "scheduled"
    assert campaigns.status_at("published", start, end, AT) == "live"
    assert campaigns.status_at("published", start, end, end) == "ended"
    assert campaigns.status_at("ended", start, end, AT) == "ended"


def test_virtual_fill_follows_the_worked_example():
    # BUSINESS_RULES: size 4, ratio 40 % → needs ceil(1.6) = 2 paid
    assert teams.virtual_fill_needed(4, 40) == 2
    assert teams.outcome_at_expiry(4, 2, 40) == teams.Outcome(formed=True, virtually_filled=True)
    assert teams.outcome_at_expiry(4, 1, 40) == teams.Outcome(formed=False, virtually_filled=False)
    assert teams.outcome_at_expiry(4, 4, 0) == teams.Outcome(formed=True, virtually_filled=False)
    assert teams.outcome_at_expiry(4, 3, 0) == teams.Outcome(formed=False, virtually_filled=False)
    assert teams.outcome_at_expiry(4, 0, 1) == teams.Outcome(formed=False, virtually_filled=False)


def test_the_leader_price_applies_to_the_leader_only_and_per_unit():
    assert teams.seat_price_fen(990, 890, leader=True, quantity=2) == 1780
    assert teams.seat_price_fen(990, 890, leader=False, quantity=2) == 1980
    assert teams.seat_price_fen(990, 0, leader=True, quantity=1) == 990


def test_units_per_order_are_limited():
    assert UserLimits(units_per_order=3).check_quantity(0) == 1
    assert UserLimits(units_per_order=3).check_quantity(3) == 3
    with pytest.raises(InvalidArgument) as err:
        UserLimits(units_per_order=3).check_quantity(4)
    assert err.value.code == "units_limit_exceeded"


def test_order_paid_data_gives_the_facts_groupbuy_keeps(order_paid):
    data = order_paid("ord_1", buyer_id="u_b", total_fen=3980, group_team_id="tm_7")["data"]
    data["paid_at"] = "2026-12-01T08:00:00.123+08:00"
    assert paid_orders.from_order_paid(data) == paid_orders.PaidOrderFacts(
        "ord_1", "u_b", 3980, "tm_7", "", "ord_1", datetime(2026, 12, 1, 0, 0, 0, 123000, tzinfo=UTC)
    )
    del data["attribution"], data["idempotency_key"], data["paid_at"]
    facts = paid_orders.from_order_paid(data)
    assert (facts.group_team_id, facts.order_key, facts.paid_at) == ("", "", None)
    for unreadable in ("yesterday", "2026-12-01T08:00:00", 7):  # not a time, or no zone to place it in
        assert paid_orders.from_order_paid({**data, "paid_at": unreadable}).paid_at is None


def test_a_seats_order_key_names_the_seat_and_no_other_key_does():
    stored = f"groupbuy/{teams.seat_order_key('seat_9')}"  # how retail stores a service's key
    assert teams.seat_of_order_key(stored, "groupbuy") == "seat_9"
    for other in ("seat:seat_9", "retail/seat:seat_9", "groupbuy/solo:cmp_1:k", "ord_1", ""):
        assert teams.seat_of_order_key(other, "groupbuy") == ""


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
        {"attribution": {"bargain_id": ["brg_1"]}},
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


def test_a_solo_order_key_fits_what_retail_accepts():
    campaign_id = "cmp_6650a1f2c3d4e5f6a7b8c9d1"
    fits = "k" * (128 - len(f"solo:{campaign_id}:"))
    assert len(teams.solo_order_key(campaign_id, fits)) == 128
    with pytest.raises(InvalidArgument, match=f"longer than {len(fits)} characters"):
        teams.solo_order_key(campaign_id, fits + "k")
