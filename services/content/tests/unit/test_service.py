"""Use cases that refuse before touching the database, with a fake retail client."""

import pytest

from content import service
from mallkit import context
from mallkit.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable

AUTHOR = context.Caller("u_author", frozenset({"consumer"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def test_posting_needs_a_signed_in_caller_and_asks_retail_nothing(fake_retail):
    with as_user(context.ANONYMOUS), pytest.raises(PermissionDenied) as err:
        service.create_post(fake_retail, "Rose mist", "", ["sku_mist"])
    assert err.value.code == "unauthenticated"
    assert fake_retail.asked == []


def test_an_invalid_post_is_refused_before_asking_retail(fake_retail):
    with as_user(AUTHOR), pytest.raises(InvalidArgument) as err:
        service.create_post(fake_retail, "Rose mist", "", ["sku_mist", "sku_mist"])
    assert err.value.code == "duplicate_sku_id"
    assert fake_retail.asked == []


def test_every_sku_is_checked_and_an_unknown_one_is_sku_not_found(fake_retail):
    with as_user(AUTHOR), pytest.raises(NotFound) as err:
        service.create_post(fake_retail, "Rose mist", "", ["sku_mist", "sku_gone", "sku_cream"])
    assert err.value.code == "sku_not_found"
    assert "sku_gone" in err.value.message
    assert fake_retail.asked == [("u_author", "sku_mist"), ("u_author", "sku_gone")]


def test_retail_being_down_stays_unavailable(fake_retail):
    with as_user(AUTHOR), pytest.raises(Unavailable):
        service.create_post(fake_retail, "Rose mist", "", ["sku_down"])


def test_orders_from_no_post_or_malformed_ones_change_nothing(order_paid):
    assert service.count_post_purchase(order_paid("ord_1")) is False
    broken = order_paid("ord_1", post_id="pst_1")
    broken["data"]["attribution"] = ["pst_1"]
    assert service.count_post_purchase(broken) is False
