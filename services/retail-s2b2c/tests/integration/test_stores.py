"""Micro-store use cases against a Mongo wire server: opening, profile, products at own prices."""

from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from mallkit import context, mongo
from mallkit.errors import AlreadyExists, DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.documents import DOCUMENTS
from retail_s2b2c.documents.catalog import Sku
from retail_s2b2c.documents.stores import Store, StoreProduct
from retail_s2b2c.domain import stores as rules
from retail_s2b2c.service import catalog, stores

pytestmark = pytest.mark.integration

LILY = context.Caller("u_lily", frozenset({"consumer"}))
MAX = context.Caller("u_max", frozenset({"consumer"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def open_store(who: context.Caller, name: str = "Lily's picks", invite_code: str = "") -> Store:
    with as_user(who):
        return stores.open_store(name, "", "", invite_code)


def put(who: context.Caller, store_id: str, sku_id: str, price_fen: int) -> stores.Listing:
    with as_user(who):
        return stores.put_store_product(store_id, sku_id, price_fen)


def test_opening_is_free_and_gives_an_unguessable_share_code(mongo_db):
    store = open_store(LILY, "  Lily's picks ")
    stored = Store.objects.get(owner_id=LILY.user_id)
    assert (stored.id, stored.name, stored.upline_owner_id) == (store.id, "Lily's picks", "")
    assert rules.SHARE_CODE_PATTERN.match(stored.share_code)
    with as_user(LILY):
        assert stores.get_my_store().id == store.id
    assert stores.get_store(store.id).share_code == stored.share_code


def test_an_invite_code_makes_the_inviters_owner_the_upline(mongo_db):
    lily = open_store(LILY)
    max_store = open_store(MAX, "Max", invite_code=lily.share_code.lower())
    assert max_store.upline_owner_id == LILY.user_id
    assert Store.objects.get(owner_id=MAX.user_id).upline_owner_id == LILY.user_id


def test_refused_openings_change_nothing(mongo_db):
    with as_user(MAX), pytest.raises(NotFound) as err:
        stores.open_store("Max", "", "", "ZZZZZZZZ")
    assert err.value.code == "invite_code_not_found"
    with as_user(MAX), pytest.raises(InvalidArgument) as err:
        stores.open_store("x" * 31, "", "", "")
    assert err.value.code == "invalid_name"
    with as_user(context.ANONYMOUS), pytest.raises(PermissionDenied) as err:
        stores.open_store("Anon", "", "", "")
    assert err.value.code == "unauthenticated"
    assert Store.objects.count() == 0
    first = open_store(LILY)
    with pytest.raises(AlreadyExists) as err:
        open_store(LILY, "Second")
    assert err.value.code == "already_has_store"
    assert [(s.id, s.name) for s in Store.objects] == [(first.id, "Lily's picks")]
    with as_user(MAX), pytest.raises(NotFound) as err:
        stores.get_my_store()
    assert err.value.code == "store_not_found"


def test_one_store_per_user_under_eight_concurrent_opens(mongo_db):
    mongo.ensure_indexes(DOCUMENTS)

    def attempt(i: int) -> str:
        try:
            open_store(LILY, f"Store {i}")
            return "ok"
        except DomainError as err:
            return err.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("ok") == 1 and outcomes.count("already_has_store") == 7
    assert Store.objects(owner_id=LILY.user_id).count() == 1


def test_a_taken_share_code_is_drawn_again(mongo_db, monkeypatch):
    lily = open_store(LILY)
    draws = itertools.chain([lily.share_code, lily.share_code], itertools.repeat("NEWC2DE2"))
    monkeypatch.setattr(rules, "new_share_code", lambda: next(draws))
    assert open_store(MAX, "Max").share_code == "NEWC2DE2"
    assert Store.objects.count() == 2


def test_only_the_owner_updates_the_profile(mongo_db):
    store = open_store(LILY)
    with as_user(LILY):
        updated = stores.update_store(store.id, "Lily 2", "https://cdn.example/l.png", "tea and more")
    assert (updated.name, updated.avatar_url, updated.intro) == ("Lily 2", "https://cdn.example/l.png", "tea and more")
    with as_user(MAX), pytest.raises(PermissionDenied) as err:
        stores.update_store(store.id, "Hijacked", "", "")
    assert err.value.code == "not_store_owner"
    with as_user(LILY), pytest.raises(InvalidArgument) as err:
        stores.update_store(store.id, "", "", "")
    assert err.value.code == "invalid_name"
    assert Store.objects.get(id=store.id).name == "Lily 2"


def test_store_prices_list_update_and_join_title_and_spec(mongo_db, make_sku):
    sku_id = make_sku(price_fen=2000, supply_price_fen=1000, price_min_fen=1500, price_max_fen=2500)
    store = open_store(LILY)
    listed = put(LILY, store.id, sku_id, 1800)
    assert (listed.title, listed.spec, listed.item.price_fen) == ("Rose face mist", "100ml", 1800)
    again = put(LILY, store.id, sku_id, 2500)  # an upsert: same listing, new price
    assert again.item.id == listed.item.id and StoreProduct.objects.count() == 1
    assert stores.store_price_fen(store.id, sku_id) == 2500
    listings, cursor = stores.list_store_products(store.id, "", 20)
    assert [(x.item.sku_id, x.title, x.spec, x.item.price_fen) for x in listings] == [
        (sku_id, "Rose face mist", "100ml", 2500)
    ] and cursor == ""


@pytest.mark.parametrize(
    ("who", "price", "sellable", "error", "code"),
    [
        (LILY, 1499, True, InvalidArgument, "price_outside_band"),
        (LILY, 2501, True, InvalidArgument, "price_outside_band"),
        (LILY, 2000, False, FailedPrecondition, "sku_not_sellable"),
        (MAX, 2000, True, PermissionDenied, "not_store_owner"),
    ],
)
def test_refused_listings_change_nothing(mongo_db, make_sku, who, price, sellable, error, code):
    sku_id = make_sku(price_fen=2000, price_min_fen=1500, price_max_fen=2500, approve=sellable)
    store = open_store(LILY)
    put(LILY, store.id, make_sku(), 1990)  # another listing, which must stay as it is
    before = [(s.sku_id, s.price_fen) for s in StoreProduct.objects]
    with pytest.raises(error) as err:
        put(who, store.id, sku_id, price)
    assert err.value.code == code
    if code == "price_outside_band":
        assert "¥15.00–¥25.00" in err.value.message
    assert [(s.sku_id, s.price_fen) for s in StoreProduct.objects] == before


def test_a_refused_price_change_keeps_the_listed_price(mongo_db, make_sku):
    sku_id = make_sku(price_fen=2000, price_min_fen=1500, price_max_fen=2500)
    store = open_store(LILY)
    put(LILY, store.id, sku_id, 1800)
    with pytest.raises(InvalidArgument):
        put(LILY, store.id, sku_id, 3000)
    assert stores.store_price_fen(store.id, sku_id) == 1800


def test_removal_listing_pages_and_checkout_lookups(mongo_db, make_sku):
    store = open_store(LILY)
    sku_ids = [make_sku(price_fen=1000 + i) for i in range(3)]
    for sku_id in sku_ids:
        put(LILY, store.id, sku_id, Sku.objects.get(id=sku_id).price_fen)
    first, cursor = stores.list_store_products(store.id, "", 2)
    rest, end = stores.list_store_products(store.id, cursor, 2)
    assert [x.item.sku_id for x in first + rest] == sku_ids and end == ""
    with as_user(MAX), pytest.raises(PermissionDenied) as err:
        stores.remove_store_product(store.id, sku_ids[0])
    assert err.value.code == "not_store_owner"
    assert StoreProduct.objects(store_id=store.id).count() == 3
    with as_user(LILY):
        stores.remove_store_product(store.id, sku_ids[0])
        stores.remove_store_product(store.id, sku_ids[0])  # idempotent
    with pytest.raises(FailedPrecondition) as err:
        stores.store_price_fen(store.id, sku_ids[0])
    assert err.value.code == "not_in_store"
    with pytest.raises(NotFound) as err:
        stores.store_price_fen("sto_missing", sku_ids[1])
    assert err.value.code == "store_not_found"
    with as_user(ADMIN):  # a product taken off sale leaves the storefront
        catalog.review_product(Sku.objects.get(id=sku_ids[1]).product_id, False, "recalled")
    assert [x.item.sku_id for x in stores.list_store_products(store.id, "", 20)[0]] == [sku_ids[2]]
    assert stores.list_store_products(open_store(MAX, "Empty").id, "", 20) == ([], "")


def test_the_share_payload_links_to_the_store_with_its_code(mongo_db, settings):
    store = open_store(LILY)
    share = stores.share_payload(store.id, dataclasses.replace(settings, public_base_url="https://m.example"))
    link = f"https://m.example/api/v1/stores/{store.id}?share={store.share_code}"
    assert (share.share_code, share.link, share.qr_content, share.title) == (store.share_code, link, link, store.name)
    with pytest.raises(NotFound):
        stores.share_payload("sto_missing", settings)


def test_concurrent_first_listings_of_one_sku_make_one_listing(mongo_db, make_sku):
    mongo.ensure_indexes(DOCUMENTS)
    sku_id = make_sku(price_fen=2000, price_min_fen=1000, price_max_fen=3000)
    store = open_store(LILY)
    with ThreadPoolExecutor(6) as pool:
        listings = list(pool.map(lambda i: put(LILY, store.id, sku_id, 2000 + i), range(6)))
    assert len({x.item.id for x in listings}) == 1
    assert StoreProduct.objects(store_id=store.id).count() == 1
    assert stores.store_price_fen(store.id, sku_id) in range(2000, 2006)
