"""Catalog use cases against a Mongo wire server: products, review, visibility."""

from __future__ import annotations

import pytest

from mallkit import context
from mallkit.errors import InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.domain.catalog import CommissionRates, NewSku, ProductStatus
from retail_s2b2c.service import catalog

pytestmark = pytest.mark.integration

OWNER = context.Caller("u_brand", frozenset({"brand"}))
RIVAL = context.Caller("u_brand2", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))
SHOPPER = context.Caller("u_shopper", frozenset({"consumer"}))
ANONYMOUS = context.ANONYMOUS


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def sku(spec: str = "250g", price: int = 1000, stock: int = 5, supply: int | None = 600, **band) -> NewSku:
    return NewSku(spec, price, stock, supply_price_fen=supply, **band)


def new_product(title: str = "Tea", skus: list[NewSku] | None = None, who: context.Caller = OWNER, **extra):
    with as_user(who):
        brand = Brand.objects(owner_id=who.user_id).first() or catalog.create_brand(f"brand-of-{who.user_id}")
        return catalog.create_product(brand.id, title, "food", skus or [sku()], **extra)


def review(product_id: str, approve: bool, reason: str = ""):
    with as_user(ADMIN):
        return catalog.review_product(product_id, approve, reason)


def test_a_new_product_waits_for_review_with_every_field_stored(mongo_db):
    product, _ = new_product(
        skus=[sku("250g", 1000, 5, 600, price_min_fen=800, price_max_fen=1500), sku("500g", 1800, 2, 1200)],
        image_urls=["https://cdn.example/tea.jpg"],
        attributes={"origin": "Yunnan"},
        commission=CommissionRates(1200, None),
    )
    stored = Product.objects.get(id=product.id)
    assert stored.status == ProductStatus.PENDING_REVIEW and stored.reject_reason == ""
    assert stored.image_urls == ["https://cdn.example/tea.jpg"] and stored.attributes == {"origin": "Yunnan"}
    assert (stored.level1_rate_bp, stored.level2_rate_bp) == (1200, None)
    rows = {s.spec: s for s in Sku.objects(product_id=product.id)}
    assert [(s.supply_price_fen, s.price_min_fen, s.price_fen, s.price_max_fen) for s in rows.values()] == [
        (600, 800, 1000, 1500),
        (1200, 1800, 1800, 1800),  # no band given: exactly the suggested price
    ]
    assert not any(s.sellable for s in rows.values())


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"skus": [sku(supply=1001)]}, "supply_above_price"),
        ({"skus": [sku(price_min_fen=500)]}, "invalid_price_band"),
        ({"skus": [sku(supply=None)]}, "supply_price_required"),
        ({"commission": CommissionRates(3001, None)}, "invalid_commission_rate"),
        ({"attributes": {"a.b": "x"}}, "invalid_attributes"),
        ({"image_urls": ["not a url"]}, "invalid_image_urls"),
    ],
)
def test_an_invalid_product_is_refused_and_nothing_is_stored(mongo_db, bad, code):
    with as_user(OWNER):
        brand = catalog.create_brand("Lotus")
        with pytest.raises(InvalidArgument) as err:
            catalog.create_product(brand.id, "Tea", "food", bad.pop("skus", [sku()]), **bad)
    assert err.value.code == code
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


def test_only_brands_create_and_only_owners_add_products(mongo_db):
    with as_user(SHOPPER), pytest.raises(PermissionDenied):
        catalog.create_brand("Nope")
    with as_user(OWNER):
        brand = catalog.create_brand("Mine")
    with as_user(RIVAL), pytest.raises(PermissionDenied) as err:
        catalog.create_product(brand.id, "x", "", [sku()])
    assert err.value.code == "not_brand_owner"
    assert Product.objects.count() == 0 and Sku.objects.count() == 0


def test_approval_makes_every_sku_sellable_and_rejection_needs_a_reason(mongo_db):
    product, _ = new_product(skus=[sku("a"), sku("b")])
    with as_user(OWNER), pytest.raises(PermissionDenied) as err:  # brands cannot approve themselves
        catalog.review_product(product.id, True, "")
    assert err.value.code == "role_required"
    with as_user(ADMIN), pytest.raises(InvalidArgument) as err:
        catalog.review_product(product.id, False, "  ")
    assert err.value.code == "reason_required"
    stored = Product.objects.get(id=product.id)
    assert stored.status == ProductStatus.PENDING_REVIEW and stored.review_version == 0
    assert Sku.objects(product_id=product.id, sellable=True).count() == 0

    approved, skus = review(product.id, True)
    assert approved.status == ProductStatus.APPROVED and approved.reviewed_by == ADMIN.user_id
    assert [s.sellable for s in skus] == [True, True]
    assert Sku.objects(product_id=product.id, sellable=True).count() == 2


def test_a_decided_product_can_be_reviewed_again(mongo_db):
    """Re-review is allowed: a rejected product is approved after changes, an approved one taken off sale."""
    product, _ = new_product()
    rejected, skus = review(product.id, False, "blurry photos")
    assert (rejected.status, rejected.reject_reason, skus[0].sellable) == ("rejected", "blurry photos", False)
    approved, skus = review(product.id, True)
    assert (approved.status, approved.reject_reason, skus[0].sellable) == ("approved", "", True)
    taken_down, skus = review(product.id, False, "counterfeit report")
    assert (taken_down.status, skus[0].sellable, taken_down.review_version) == ("rejected", False, 3)
    with as_user(ADMIN), pytest.raises(NotFound) as err:
        catalog.review_product("prd_missing", True, "")
    assert err.value.code == "product_not_found"


def test_the_later_review_wins_for_the_skus_even_when_an_earlier_one_lands_after_it(mongo_db):
    """Two admins at once: an approval's SKU update arriving after a later rejection changes nothing."""
    product, _ = new_product()
    slow_approval = Product.objects(id=product.id).modify(
        new=True, inc__review_version=1, set__status=ProductStatus.APPROVED
    )  # the approval's product write (version 1) … then it stalls
    review(product.id, False, "stop")  # version 2, complete
    catalog._apply_review_to_skus(slow_approval)  # the stalled approval's SKU update lands last
    stored = Sku.objects.get(product_id=product.id)
    assert (stored.sellable, stored.review_version) == (False, 2)
    assert Product.objects.get(id=product.id).status == ProductStatus.REJECTED
    fresh, _ = new_product("Fresh")
    catalog._apply_review_to_skus(Product.objects.get(id=fresh.id))  # never reviewed: version 0, no change
    assert Sku.objects.get(product_id=fresh.id).sellable is False


def test_unapproved_products_are_visible_to_their_owner_and_admins_only(mongo_db):
    product, skus = new_product()
    for who in (OWNER, ADMIN):
        with as_user(who):
            assert catalog.get_product(product.id)[0].id == product.id
            assert catalog.get_sku(skus[0].id).id == skus[0].id
    for who in (RIVAL, SHOPPER, ANONYMOUS):
        with as_user(who), pytest.raises(NotFound) as err:
            catalog.get_product(product.id)
        assert err.value.code == "product_not_found"
        with as_user(who), pytest.raises(NotFound) as err:
            catalog.get_sku(skus[0].id)
        assert err.value.code == "sku_not_found"
    review(product.id, True)
    with as_user(ANONYMOUS):
        assert catalog.get_product(product.id)[1][0].sellable is True
        assert catalog.get_sku(skus[0].id).sellable is True


def test_listing_shows_approved_by_default_and_other_statuses_to_owners_and_admins(mongo_db):
    new_product("Pending")
    approved, _ = new_product("Approved")
    rejected, _ = new_product("Rejected")
    rival_pending, _ = new_product("Rival pending", who=RIVAL)
    review(approved.id, True)
    review(rejected.id, False, "no")

    def titles(who: context.Caller, status: ProductStatus | None = None, brand_id: str = "") -> list[str]:
        with as_user(who):
            return [p.title for p, _ in catalog.list_products("", 20, brand_id, status)[0]]

    for who in (ANONYMOUS, SHOPPER, OWNER, ADMIN):
        assert titles(who) == ["Approved"]
    assert titles(OWNER, ProductStatus.PENDING_REVIEW) == ["Pending"]  # only their own
    assert titles(OWNER, ProductStatus.REJECTED) == ["Rejected"]
    assert titles(ADMIN, ProductStatus.PENDING_REVIEW) == ["Pending", "Rival pending"]
    assert titles(ADMIN, ProductStatus.PENDING_REVIEW, rival_pending.brand_id) == ["Rival pending"]
    assert titles(SHOPPER, ProductStatus.PENDING_REVIEW) == []
    with as_user(OWNER), pytest.raises(PermissionDenied) as err:
        catalog.list_products("", 20, rival_pending.brand_id, ProductStatus.PENDING_REVIEW)
    assert err.value.code == "not_brand_owner"
    with as_user(ANONYMOUS), pytest.raises(PermissionDenied) as err:
        catalog.list_products("", 20, "", ProductStatus.PENDING_REVIEW)
    assert err.value.code == "unauthenticated"


def test_catalog_roundtrip_and_pagination(mongo_db):
    with as_user(OWNER):
        brand = catalog.create_brand("Lotus")
        for i in range(3):
            skus = [sku("250g", 1000 + i), sku("500g", 1800)]
            product, _ = catalog.create_product(brand.id, f"Tea {i}", "food", skus)
            review(product.id, True)
    first, cursor = catalog.list_products("", 2)
    assert [p.title for p, _ in first] == ["Tea 0", "Tea 1"] and cursor
    rest, end = catalog.list_products(cursor, 2)
    assert [p.title for p, _ in rest] == ["Tea 2"] and end == ""
    _, skus = catalog.get_product(first[0][0].id)
    assert [(s.spec, s.price_fen, s.stock, s.sellable) for s in skus] == [
        ("250g", 1000, 5, True),
        ("500g", 1800, 5, True),
    ]
