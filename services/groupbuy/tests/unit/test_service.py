"""Use cases that refuse before touching the database, with a fake retail client."""

import pytest

from groupbuy import service
from mallkit import context
from mallkit.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable

BRAND = context.Caller("u_brand", frozenset({"brand"}))
BUYER = context.Caller("u_buyer", frozenset({"consumer"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


@pytest.mark.parametrize(("who", "code"), [(context.ANONYMOUS, "unauthenticated"), (BUYER, "role_required")])
def test_only_brands_and_admins_create_campaigns_and_retail_is_not_asked(fake_retail, who, code):
    with as_user(who), pytest.raises(PermissionDenied) as err:
        service.create_campaign(fake_retail, "sku_mist", 990, 2, 24)
    assert err.value.code == code
    assert fake_retail.callers == []


def test_bad_terms_are_refused_before_asking_retail(fake_retail):
    with as_user(BRAND), pytest.raises(InvalidArgument) as err:
        service.create_campaign(fake_retail, "sku_mist", 990, 51, 24)
    assert err.value.code == "invalid_team_size"
    assert fake_retail.callers == []


def test_an_unknown_sku_is_sku_not_found(fake_retail):
    with as_user(BRAND), pytest.raises(NotFound) as err:
        service.create_campaign(fake_retail, "sku_gone", 990, 2, 24)
    assert err.value.code == "sku_not_found"
    assert "sku_gone" in err.value.message


@pytest.mark.parametrize("price", [1990, 2500])
def test_the_group_price_must_undercut_retail(fake_retail, price):
    with as_user(BRAND), pytest.raises(InvalidArgument) as err:
        service.create_campaign(fake_retail, "sku_mist", price, 2, 24)
    assert err.value.code == "group_price_not_below_price"


def test_retail_being_down_stays_unavailable(fake_retail):
    with as_user(BRAND), pytest.raises(Unavailable):
        service.create_campaign(fake_retail, "sku_down", 990, 2, 24)


def test_paid_orders_need_a_signed_in_caller():
    with as_user(context.ANONYMOUS), pytest.raises(PermissionDenied) as err:
        service.get_paid_order("ord_1")
    assert err.value.code == "unauthenticated"


def test_a_malformed_order_paid_is_dropped_not_retried(order_paid):
    event = order_paid("ord_1")
    event["data"]["total_fen"] = "lots"
    assert service.record_paid_order(event) is False
