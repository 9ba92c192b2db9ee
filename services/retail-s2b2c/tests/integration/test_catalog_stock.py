"""Stock adjustments against a Mongo wire server: audit, idempotency, never below zero."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mallkit import context, mongo
from mallkit.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.documents import DOCUMENTS
from retail_s2b2c.documents.catalog import Sku, StockAdjustment
from retail_s2b2c.service import stock

pytestmark = pytest.mark.integration

OWNER = context.Caller("u_brand", frozenset({"brand"}))  # the brand owner of make_sku's products
RIVAL = context.Caller("u_brand2", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def adjust(sku_id: str, delta: int, reason: str = "count", key: str = "", who: context.Caller = OWNER) -> Sku:
    with as_user(who):
        return stock.adjust_stock(sku_id, delta, reason, key)


def stock_of(sku_id: str) -> int:
    return Sku.objects.get(id=sku_id).stock


def test_every_adjustment_is_audited_with_the_stock_after_it(mongo_db, make_sku):
    sku_id = make_sku(stock=10)
    assert adjust(sku_id, 5, "restock from the warehouse").stock == 15
    assert adjust(sku_id, -3, "damaged in transit", who=ADMIN).stock == 12
    rows = StockAdjustment.objects.order_by("at", "id")
    audit = [(a.delta, a.reason, a.actor, a.status, a.stock_after) for a in rows]
    assert audit == [
        (5, "restock from the warehouse", OWNER.user_id, "applied", 15),
        (-3, "damaged in transit", ADMIN.user_id, "applied", 12),
    ]
    assert stock_of(sku_id) == 12


def test_a_repeated_key_applies_once(mongo_db, make_sku):
    sku_id = make_sku(stock=10)
    assert adjust(sku_id, 4, key="restock-1").stock == 14
    assert adjust(sku_id, 4, key="restock-1").stock == 14
    assert adjust(sku_id, 4, key="restock-2").stock == 18
    assert StockAdjustment.objects(sku_id=sku_id).count() == 2
    with pytest.raises(FailedPrecondition) as err:
        adjust(sku_id, 5, key="restock-1")
    assert err.value.code == "idempotency_key_reused"
    assert stock_of(sku_id) == 18 and StockAdjustment.objects(sku_id=sku_id).count() == 2


@pytest.mark.parametrize(
    ("who", "delta", "reason", "error", "code"),
    [
        (OWNER, -11, "count", FailedPrecondition, "insufficient_stock"),
        (OWNER, 0, "count", InvalidArgument, "invalid_delta"),
        (OWNER, 5, " ", InvalidArgument, "reason_required"),
        (RIVAL, 5, "count", PermissionDenied, "not_brand_owner"),
        (context.Caller("u_shopper", frozenset({"consumer"})), 5, "count", PermissionDenied, "role_required"),
    ],
)
def test_a_refused_adjustment_changes_nothing(mongo_db, make_sku, who, delta, reason, error, code):
    sku_id = make_sku(stock=10)
    with pytest.raises(error) as err:
        adjust(sku_id, delta, reason, key="k", who=who)
    assert err.value.code == code
    assert stock_of(sku_id) == 10 and StockAdjustment.objects.count() == 0


def test_a_refused_removal_can_be_retried_with_its_key_once_stock_arrives(mongo_db, make_sku):
    sku_id = make_sku(stock=2)
    with pytest.raises(FailedPrecondition):
        adjust(sku_id, -3, key="writeoff")
    adjust(sku_id, 5, key="restock")
    assert adjust(sku_id, -3, key="writeoff").stock == 4
    with pytest.raises(NotFound) as err:
        adjust("sku_missing", 1)
    assert err.value.code == "sku_not_found"


def test_ten_concurrent_removals_never_take_stock_below_zero(mongo_db, make_sku):
    mongo.ensure_indexes(DOCUMENTS)
    sku_id = make_sku(stock=20)

    def remove(i: int) -> str:
        try:
            adjust(sku_id, -3, key=f"writeoff-{i}")
            return "ok"
        except DomainError as err:
            return err.code

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(remove, range(10)))
    assert outcomes.count("ok") == 6 and outcomes.count("insufficient_stock") == 4
    assert stock_of(sku_id) == 2
    applied = StockAdjustment.objects(sku_id=sku_id)
    assert applied.count() == 6 and {a.status for a in applied} == {"applied"}
    assert sorted(a.stock_after for a in applied) == [2, 5, 8, 11, 14, 17]


def test_concurrent_retries_of_one_key_apply_it_once(mongo_db, make_sku):
    mongo.ensure_indexes(DOCUMENTS)
    sku_id = make_sku(stock=0)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: adjust(sku_id, 7, key="inbound-42").stock, range(8)))
    assert set(replies) == {7}
    assert stock_of(sku_id) == 7 and StockAdjustment.objects(sku_id=sku_id).count() == 1


def test_another_brand_cannot_tell_an_unapproved_sku_exists(mongo_db, make_sku):
    sku_id = make_sku(stock=10, approve=False)
    with pytest.raises(NotFound) as err:  # as GetSku answers them; an approved one is a 403 not_brand_owner
        adjust(sku_id, 5, who=RIVAL)
    assert err.value.code == "sku_not_found"
    assert adjust(sku_id, 5).stock == 15  # its owner sees it and stocks it before the review
