"""Consumer → store binding against a Mongo wire server: first arrival, window, self, concurrency."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from mallkit import context, mongo
from mallkit.clock import frozen_at
from mallkit.errors import FailedPrecondition, NotFound
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents import DOCUMENTS
from retail_s2b2c.documents.stores import Binding, Store
from retail_s2b2c.service import stores

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CONSUMER = context.Caller("u_consumer", frozenset({"consumer"}))


@pytest.fixture
def settings(settings: RetailSettings) -> RetailSettings:
    """The default 30-day window, whatever the environment says."""
    return dataclasses.replace(settings, store_binding_days=30)


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def open_store(owner: str) -> Store:
    with as_user(context.Caller(owner)):
        return stores.open_store(f"store of {owner}")


def bind(store: Store, settings: RetailSettings, who: context.Caller = CONSUMER) -> stores.BindResult:
    with as_user(who):
        return stores.bind_consumer(store.share_code, settings)


def stored() -> list[tuple[str, str, datetime | None]]:
    return [(b.consumer_id, b.store_id, b.expires_at) for b in Binding.objects]


def test_the_first_arrival_binds_for_the_window_and_later_arrivals_change_nothing(mongo_db, settings):
    first, second = open_store("u_a"), open_store("u_b")
    with frozen_at(T0):
        result = bind(first, settings)
    assert result.newly_bound is True
    assert (result.binding.store_id, result.binding.bound_at) == (first.id, T0)
    assert result.binding.expires_at == T0 + timedelta(days=30)
    with frozen_at(T0 + timedelta(days=29)):
        again = bind(second, settings)
        assert (again.newly_bound, again.binding.store_id) == (False, first.id)
        assert stores.bound_store_id(CONSUMER.user_id) == first.id
        with as_user(CONSUMER):
            assert stores.get_my_binding().store_id == first.id
    assert stored() == [(CONSUMER.user_id, first.id, T0 + timedelta(days=30))]


def test_an_expired_binding_counts_as_none_and_the_next_arrival_replaces_it(mongo_db, settings):
    first, second = open_store("u_a"), open_store("u_b")
    with frozen_at(T0):
        bind(first, settings)
    expiry = T0 + timedelta(days=30)
    with frozen_at(expiry):
        assert stores.bound_store_id(CONSUMER.user_id) is None
        with as_user(CONSUMER), pytest.raises(NotFound) as err:
            stores.get_my_binding()
        assert err.value.code == "no_binding"
        result = bind(second, settings)
    assert (result.newly_bound, result.binding.store_id) == (True, second.id)
    assert stored() == [(CONSUMER.user_id, second.id, expiry + timedelta(days=30))]


def test_a_zero_window_binds_permanently(mongo_db, settings):
    permanent = dataclasses.replace(settings, store_binding_days=0)
    first, second = open_store("u_a"), open_store("u_b")
    with frozen_at(T0):
        result = bind(first, permanent)
    assert result.binding.expires_at is None
    with frozen_at(T0 + timedelta(days=3650)):
        assert bind(second, permanent).newly_bound is False
        assert stores.bound_store_id(CONSUMER.user_id) == first.id
        stores.renew_binding(CONSUMER.user_id, first.id, settings)  # permanent stays permanent
    assert stored() == [(CONSUMER.user_id, first.id, None)]


def test_no_self_binding_and_no_unknown_codes(mongo_db, settings):
    own = open_store(CONSUMER.user_id)
    with pytest.raises(FailedPrecondition) as err:
        bind(own, settings)
    assert err.value.code == "self_binding"
    with as_user(CONSUMER), pytest.raises(NotFound) as err:
        stores.bind_consumer("ZZZZZZZZ", settings)
    assert err.value.code == "share_code_not_found"
    assert stored() == []
    other = open_store("u_other")  # a store owner may still be bound to someone else's store
    assert bind(other, settings).newly_bound is True


def test_ten_concurrent_arrivals_through_different_stores_make_one_binding(mongo_db, settings):
    mongo.ensure_indexes(DOCUMENTS)
    shops = [open_store(f"u_owner{i}") for i in range(10)]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda shop: bind(shop, settings), shops))
    winners = [r for r in results if r.newly_bound]
    assert len(winners) == 1
    assert {r.binding.store_id for r in results} == {winners[0].binding.store_id}
    assert stored() == [(CONSUMER.user_id, winners[0].binding.store_id, winners[0].binding.expires_at)]


def test_concurrent_arrivals_after_expiry_replace_the_binding_once(mongo_db, settings):
    mongo.ensure_indexes(DOCUMENTS)
    old, *shops = [open_store(f"u_owner{i}") for i in range(7)]
    with frozen_at(T0):
        bind(old, settings)
    with frozen_at(T0 + timedelta(days=31)), ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda shop: bind(shop, settings), shops))
    winners = [r for r in results if r.newly_bound]
    assert len(winners) == 1
    assert stored() == [(CONSUMER.user_id, winners[0].binding.store_id, T0 + timedelta(days=61))]


def test_a_purchase_through_the_bound_store_renews_the_window(mongo_db, settings):
    bound, other = open_store("u_a"), open_store("u_b")
    with frozen_at(T0):
        bind(bound, settings)
    with frozen_at(T0 + timedelta(days=20)):
        stores.renew_binding(CONSUMER.user_id, other.id, settings)  # not the bound store: nothing
        assert stored() == [(CONSUMER.user_id, bound.id, T0 + timedelta(days=30))]
        stores.renew_binding(CONSUMER.user_id, bound.id, settings)
    assert stored() == [(CONSUMER.user_id, bound.id, T0 + timedelta(days=50))]
    with frozen_at(T0 + timedelta(days=49)):
        assert stores.bound_store_id(CONSUMER.user_id) == bound.id
    with frozen_at(T0 + timedelta(days=50)):
        stores.renew_binding(CONSUMER.user_id, bound.id, settings)  # expired: a purchase no longer renews
        assert stores.bound_store_id(CONSUMER.user_id) is None
    assert stored() == [(CONSUMER.user_id, bound.id, T0 + timedelta(days=50))]
