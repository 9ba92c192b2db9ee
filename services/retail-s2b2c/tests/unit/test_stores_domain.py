"""Store rules with no I/O: share codes, names, store prices in the band, the binding window."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from mallkit.clock import frozen_at, now
from mallkit.errors import FailedPrecondition, InvalidArgument
from retail_s2b2c.domain import stores

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_share_codes_use_an_unambiguous_alphabet_and_are_not_predictable():
    assert not set("01OIL") & set(stores.SHARE_CODE_ALPHABET) and len(set(stores.SHARE_CODE_ALPHABET)) == 31
    codes = {stores.new_share_code() for _ in range(2000)}
    assert len(codes) == 2000  # 31^8 codes: a repeat in 2000 draws would mean a broken generator
    assert all(stores.SHARE_CODE_PATTERN.match(c) for c in codes)
    assert set("".join(codes)) == set(stores.SHARE_CODE_ALPHABET)  # every symbol is used
    cycle = itertools.cycle("AB")
    assert stores.new_share_code(lambda _alphabet: next(cycle)) == "ABABABAB"


def test_share_codes_are_read_case_insensitively_and_refused_when_malformed():
    assert stores.normalize_share_code(" abcd2345 ") == "ABCD2345"
    for bad in ("", "ABCD234", "ABCD23456", "ABCD0345", "ABCD 345", "ABCD234$"):
        assert stores.normalize_share_code(bad) is None


def test_store_name_and_profile():
    assert stores.check_name("  Lily's picks ") == "Lily's picks"
    assert stores.check_name("x" * 30) == "x" * 30
    for bad in ("", "   ", "x" * 31):
        with pytest.raises(InvalidArgument) as err:
            stores.check_name(bad)
        assert err.value.code == "invalid_name"
    assert stores.check_profile(" https://cdn.example/a.png ", " hi ") == ("https://cdn.example/a.png", "hi")
    assert stores.check_profile("", "") == ("", "")
    with pytest.raises(InvalidArgument) as err:
        stores.check_profile("ftp://x", "")
    assert err.value.code == "invalid_avatar_url"
    with pytest.raises(InvalidArgument) as err:
        stores.check_profile("", "x" * 201)
    assert err.value.code == "invalid_intro"


def test_store_price_stays_inside_the_band_and_the_refusal_names_it():
    assert stores.check_store_price(1500, 1500, 2500) == 1500
    assert stores.check_store_price(2500, 1500, 2500) == 2500
    for price in (1499, 2501):
        with pytest.raises(InvalidArgument) as err:
            stores.check_store_price(price, 1500, 2500)
        assert err.value.code == "price_outside_band"
        assert "¥15.00–¥25.00" in err.value.message


def test_no_self_binding():
    stores.check_not_own_store("u_owner", "u_consumer")
    with pytest.raises(FailedPrecondition) as err:
        stores.check_not_own_store("u_owner", "u_owner")
    assert err.value.code == "self_binding"


def test_the_binding_window_and_its_renewal():
    with frozen_at(T0):
        expires = stores.binding_expiry(now(), 30)
    assert expires == T0 + timedelta(days=30)
    assert stores.binding_expiry(T0, 0) is None  # 0: permanent
    with pytest.raises(ValueError):
        stores.binding_expiry(T0, -1)
    assert stores.is_live(expires, T0 + timedelta(days=30) - timedelta(milliseconds=1))
    assert not stores.is_live(expires, T0 + timedelta(days=30))  # the expiry instant is already out
    assert stores.is_live(None, T0 + timedelta(days=10_000))
    later = T0 + timedelta(days=20)
    assert stores.renewed_expiry(expires, later, 30) == later + timedelta(days=30)
    assert stores.renewed_expiry(None, later, 30) is None  # permanent stays permanent
    assert stores.renewed_expiry(expires, later, 0) is None  # the platform switched to permanent
