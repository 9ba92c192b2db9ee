"""Post rules and the order_paid payload: pure rules, no I/O."""

import pytest

from content.domain import posts
from mallkit.errors import InvalidArgument


def test_a_valid_post_is_trimmed_and_keeps_the_sku_order():
    new = posts.check_post("  Rose mist, week 2  ", "", ["sku_b", "sku_a"])
    assert new == posts.NewPost("Rose mist, week 2", "", ["sku_b", "sku_a"])
    assert posts.check_post("x" * 100, "y" * 5000, [f"sku_{i}" for i in range(9)]).title == "x" * 100


@pytest.mark.parametrize(
    ("title", "body", "sku_ids", "code"),
    [
        ("", "", ["sku_a"], "invalid_title"),
        ("   ", "", ["sku_a"], "invalid_title"),
        ("x" * 101, "", ["sku_a"], "invalid_title"),
        ("t", "y" * 5001, ["sku_a"], "invalid_body"),
        ("t", "", [], "invalid_sku_ids"),
        ("t", "", [f"sku_{i}" for i in range(10)], "invalid_sku_ids"),
        ("t", "", ["sku_a", ""], "invalid_sku_id"),
        ("t", "", ["sku_a", "sku a"], "invalid_sku_id"),
        ("t", "", ["sku_a", "sku_b", "sku_a"], "duplicate_sku_id"),
    ],
)
def test_invalid_posts_are_refused_with_their_code(title, body, sku_ids, code):
    with pytest.raises(InvalidArgument) as err:
        posts.check_post(title, body, sku_ids)
    assert err.value.code == code


def test_an_order_paid_credits_its_post_or_none(order_paid):
    credited = posts.attributed_purchase(order_paid("ord_1", post_id="pst_1")["data"])
    assert credited == posts.AttributedPurchase("ord_1", "pst_1")
    assert posts.attributed_purchase(order_paid("ord_1")["data"]) is None
    assert posts.attributed_purchase({"order_id": "ord_1"}) is None


@pytest.mark.parametrize(
    "data",
    [{}, {"order_id": ""}, {"order_id": 7}, {"order_id": "ord_1", "attribution": "pst_1"}, "ord_1"],
)
def test_malformed_order_paid_data_is_refused(data):
    with pytest.raises(InvalidArgument) as err:
        posts.attributed_purchase(data)
    assert err.value.code == "malformed_event"
