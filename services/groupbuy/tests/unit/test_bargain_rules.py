"""Bargain rules: the cut algorithm (BUSINESS_RULES "Bargain"), campaign terms, who may help or buy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupbuy.domain import bargains as rules
from groupbuy.domain.bargains import BargainStatus, BargainTerms, BuyRule
from groupbuy.domain.campaigns import CampaignStatus, require_live
from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def documented_range(remaining: int, seq: int, n: int) -> tuple[int, int]:
    """BUSINESS_RULES, written out independently with real numbers: R, m = N − k."""
    m = n - seq
    if m == 0:
        return remaining, remaining
    import math

    return max(1, math.floor(0.2 * (remaining - m))), max(1, math.floor(0.8 * (remaining - m)))


def run_bargain(original: int, floor: int, n: int, seed: int, bonus_at: frozenset[int] = frozenset()) -> list[int]:
    """Every cut of a whole bargain, checking each against its documented range as it goes."""
    rng, current, cuts = random.Random(seed), original, []
    for seq in range(1, n + 1):
        low, high = documented_range(current - floor, seq, n)
        bonus = seq in bonus_at
        cut = rules.next_cut(current, floor, seq, n, rng, bonus=bonus)
        assert low <= cut <= high, (seq, current, cut, low, high)
        if bonus and seq < n:
            assert cut >= (low + high + 1) // 2
        assert cut >= 1
        current -= cut
        assert current >= floor
        if seq < n:
            assert current - floor >= n - seq  # a fen left for each later helper
        cuts.append(cut)
    return cuts


# ── the documented worked values ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("remaining", "seq", "n", "expected"),
    [
        (1000, 1, 5, (199, 796)),  # R − m = 996: ⌊199.2⌋, ⌊796.8⌋
        (100, 1, 1, (100, 100)),  # a single helper cuts everything
        (7, 3, 3, (7, 7)),  # the N-th cut reaches the floor exactly
        (5, 1, 5, (1, 1)),  # R == N: one fen each
        (6, 1, 5, (1, 1)),  # R − m = 2: ⌊0.4⌋ → 1, ⌊1.6⌋ → 1
        (9, 1, 5, (1, 4)),  # R − m = 5
        (10, 2, 5, (1, 5)),  # m = 3, R − m = 7: ⌊1.4⌋, ⌊5.6⌋
    ],
)
def test_cut_range_is_the_documented_one(remaining, seq, n, expected):
    assert rules.cut_range(remaining, seq, n) == expected == documented_range(remaining, seq, n)


def test_new_user_bonus_takes_the_upper_half_and_never_the_last_cut():
    assert rules.cut_range(1000, 1, 5, bonus=True) == (498, 796)  # ⌈(199 + 796) / 2⌉
    assert rules.cut_range(9, 1, 5, bonus=True) == (3, 4)
    assert rules.cut_range(5, 1, 5, bonus=True) == (1, 1)
    assert rules.cut_range(7, 3, 3, bonus=True) == (7, 7)


def test_the_random_source_is_injected():
    draws = {rules.next_cut(10_000, 100, 1, 10, random.Random(seed)) for seed in range(50)}
    assert len(draws) > 10  # really random over seeds
    assert rules.next_cut(10_000, 100, 1, 10, random.Random(7)) == rules.next_cut(10_000, 100, 1, 10, random.Random(7))


def test_cut_range_rejects_impossible_states():
    with pytest.raises(ValueError):
        rules.cut_range(2, 1, 3)  # fewer fen than cuts to come
    with pytest.raises(ValueError):
        rules.cut_range(10, 4, 3)


@settings(max_examples=400, deadline=None)
@given(
    floor=st.integers(1, 100_000),
    gap=st.integers(0, 200_000),
    n=st.integers(1, 100),
    seed=st.integers(0, 2**32),
    bonus_at=st.frozensets(st.integers(1, 100), max_size=20),
)
def test_every_bargain_reaches_the_floor_exactly_at_the_nth_cut(floor, gap, n, seed, bonus_at):
    original = floor + n + gap  # original − floor ≥ N
    cuts = run_bargain(original, floor, n, seed, bonus_at)
    assert len(cuts) == n
    assert all(cut >= 1 for cut in cuts)
    assert sum(cuts) == original - floor  # Σ cuts = original − final, and final == floor
    assert original - sum(cuts[:-1]) > floor  # not before the N-th


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 100), seed=st.integers(0, 2**32))
def test_the_tightest_bargain_cuts_one_fen_each(n, seed):
    assert run_bargain(100 + n, 100, n, seed) == [1] * n


# ── campaign terms ──────────────────────────────────────────────────────────────────────────


def terms(**changes) -> BargainTerms:
    base = {"sku_id": "sku_1", "original_price_fen": 9900, "floor_price_fen": 100, "helpers_needed": 5}
    return BargainTerms(**{**base, **changes})


def test_terms_get_their_defaults():
    checked = rules.check_terms(terms(), T0)
    assert (checked.expiry_hours, checked.buy_rule, checked.daily_help_limit) == (24, BuyRule.ANY_PRICE, 3)
    assert (checked.start_time, checked.end_time) == (T0, T0 + timedelta(days=30))
    assert not checked.new_users_only and not checked.new_user_bonus


def test_the_gap_may_be_exactly_one_fen_per_helper():
    assert rules.check_terms(terms(original_price_fen=105, floor_price_fen=100, helpers_needed=5), T0)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"original_price_fen": 104, "floor_price_fen": 100, "helpers_needed": 5}, "floor_too_close"),
        ({"original_price_fen": 200, "floor_price_fen": 101, "helpers_needed": 100}, "floor_too_close"),
        ({"sku_id": ""}, "invalid_sku_id"),
        ({"original_price_fen": 0}, "invalid_original_price"),
        ({"floor_price_fen": 0}, "invalid_floor_price"),
        ({"floor_price_fen": 9900}, "invalid_floor_price"),
        ({"floor_price_fen": 10_000}, "invalid_floor_price"),
        ({"helpers_needed": 0}, "invalid_helpers_needed"),
        ({"helpers_needed": 101}, "invalid_helpers_needed"),
        ({"expiry_hours": 169}, "invalid_expiry"),
        ({"expiry_hours": -1}, "invalid_expiry"),
        ({"daily_help_limit": 101}, "invalid_daily_help_limit"),
        ({"daily_help_limit": -2}, "invalid_daily_help_limit"),
        ({"start_time": T0, "end_time": T0}, "invalid_schedule"),
        ({"start_time": T0 - timedelta(days=9), "end_time": T0 - timedelta(days=1)}, "invalid_schedule"),
    ],
)
def test_terms_out_of_bounds_are_refused_with_their_code(changes, code):
    with pytest.raises(InvalidArgument) as err:
        rules.check_terms(terms(**changes), T0)
    assert err.value.code == code


def test_the_original_price_may_be_the_sku_price_but_not_above():
    rules.check_original_price(terms(original_price_fen=9900), 9900)
    with pytest.raises(InvalidArgument) as err:
        rules.check_original_price(terms(original_price_fen=9901), 9900)
    assert err.value.code == "original_above_price"


def test_campaign_status_follows_the_clock():
    start, end = T0, T0 + timedelta(days=1)
    assert rules.campaign_status(start, end, T0 - timedelta(seconds=1)) == CampaignStatus.SCHEDULED
    assert rules.campaign_status(start, end, T0) == CampaignStatus.LIVE
    assert rules.campaign_status(start, end, end) == CampaignStatus.ENDED
    with pytest.raises(FailedPrecondition) as err:
        require_live(CampaignStatus.SCHEDULED)
    assert err.value.code == "campaign_not_live"


# ── bargains ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("status", "expires_in", "code"),
    [
        ("active", timedelta(0), "bargain_expired"),
        ("expired", timedelta(hours=1), "bargain_expired"),
        ("completed", timedelta(hours=1), "bargain_finished"),
        ("ordering", timedelta(hours=1), "bargain_finished"),
        ("ordered", timedelta(hours=1), "bargain_finished"),
    ],
)
def test_only_an_active_unexpired_bargain_takes_cuts(status, expires_in, code):
    rules.check_can_be_helped("active", T0 + timedelta(seconds=1), T0)
    with pytest.raises(FailedPrecondition) as err:
        rules.check_can_be_helped(status, T0 + expires_in, T0)
    assert err.value.code == code


def test_one_help_per_user_and_new_users_only():
    rules.check_not_helped("u_2", ["u_1"])
    with pytest.raises(FailedPrecondition) as err:
        rules.check_not_helped("u_1", ["u_1"])
    assert err.value.code == "already_helped"
    rules.check_new_user(True)
    with pytest.raises(PermissionDenied) as err:
        rules.check_new_user(False)
    assert err.value.code == "not_allowed_to_help"


@pytest.mark.parametrize(
    ("rule", "status", "expires_in", "code"),
    [
        ("floor_only", "active", timedelta(hours=1), "floor_not_reached"),
        ("floor_only", "completed", timedelta(0), "bargain_expired"),
        ("any_price", "active", timedelta(0), "bargain_expired"),
        ("any_price", "expired", timedelta(hours=1), "bargain_expired"),
    ],
)
def test_buy_rules(rule, status, expires_in, code):
    later = T0 + timedelta(hours=1)
    rules.check_can_buy("floor_only", "completed", later, T0)
    rules.check_can_buy("any_price", "completed", later, T0)
    rules.check_can_buy("any_price", "active", later, T0)
    with pytest.raises(FailedPrecondition) as err:
        rules.check_can_buy(rule, status, T0 + expires_in, T0)
    assert err.value.code == code


def test_only_the_initiator_buys():
    rules.check_initiator("u_1", "u_1")
    with pytest.raises(PermissionDenied) as err:  # a bargain is public: refused, not hidden
        rules.check_initiator("u_1", "u_2")
    assert err.value.code == "not_initiator"


def test_shown_status_reads_the_clock_and_hides_the_buying_step():
    later = T0 + timedelta(hours=1)
    assert rules.shown_status("active", 1, 5, later, T0) == BargainStatus.ACTIVE
    assert rules.shown_status("active", 1, 5, T0, T0) == BargainStatus.EXPIRED
    assert rules.shown_status("completed", 5, 5, T0, T0) == BargainStatus.EXPIRED
    assert rules.shown_status("ordering", 2, 5, later, T0) == BargainStatus.ACTIVE
    assert rules.shown_status("ordering", 5, 5, T0, T0) == BargainStatus.COMPLETED
    assert rules.shown_status("ordered", 5, 5, T0, T0) == BargainStatus.ORDERED
