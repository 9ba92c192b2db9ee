"""Use cases and the order_paid consumer against the Mongo wire server."""

import mongoengine
import pytest

from groupbuy import service, worker
from groupbuy.documents import Campaign, PaidOrder
from groupbuy.worker import Worker
from mallkit import context
from mallkit.consumer import ProcessedEvent
from mallkit.errors import NotFound

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
BUYER = context.Caller("u_buyer", frozenset({"consumer"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def test_a_brand_opens_a_live_campaign_anyone_can_read(mongo_db, fake_retail):
    with as_user(BRAND):
        created = service.create_campaign(fake_retail, "sku_mist", 990, 3, 0)
    assert [c.user_id for c in fake_retail.callers] == ["u_brand"]
    found = service.get_campaign(created.id)
    assert (found.owner_id, found.sku_id, found.group_price_fen, found.team_size, found.expiry_hours) == (
        "u_brand",
        "sku_mist",
        990,
        3,
        24,
    )
    assert found.status == "live"
    with pytest.raises(NotFound) as err:
        service.get_campaign("cmp_missing")
    assert err.value.code == "campaign_not_found"


def test_a_refused_campaign_saves_nothing(mongo_db, fake_retail):
    with as_user(BRAND), pytest.raises(NotFound):
        service.create_campaign(fake_retail, "sku_gone", 990, 3, 0)
    assert Campaign.objects.count() == 0


def test_the_same_event_delivered_twice_records_one_paid_order(mongo_db, order_paid):
    event = order_paid("ord_1", total_fen=3980, group_team_id="tm_1")
    Worker().record_paid_order(event)
    Worker().record_paid_order(event)
    paid = PaidOrder.objects.get(order_id="ord_1")
    assert (paid.buyer_id, paid.amount_fen, paid.group_team_id, paid.event_id) == (
        "u_buyer",
        3980,
        "tm_1",
        event["event_id"],
    )
    assert PaidOrder.objects.count() == 1
    assert ProcessedEvent.objects(consumer="groupbuy.order_paid").count() == 1


def test_two_events_for_one_order_still_record_it_once(mongo_db, order_paid):
    first, second = order_paid("ord_1"), order_paid("ord_1", total_fen=1)
    Worker().record_paid_order(first)
    Worker().record_paid_order(second)  # passes the processed-event check: the effect's own key holds
    assert ProcessedEvent.objects(consumer="groupbuy.order_paid").count() == 2
    assert [(p.event_id, p.amount_fen) for p in PaidOrder.objects] == [(first["event_id"], 3980)]
    assert service.record_paid_order(order_paid("ord_2")) is True
    assert PaidOrder.objects.count() == 2


def test_a_paid_order_is_shown_to_its_buyer_and_admins_only(mongo_db, order_paid):
    service.record_paid_order(order_paid("ord_1", buyer_id="u_buyer"))
    for who in (BUYER, ADMIN):
        with as_user(who):
            assert service.get_paid_order("ord_1").amount_fen == 3980
    stranger = context.Caller("u_other", frozenset({"consumer"}))
    for who, order_id in [(stranger, "ord_1"), (BUYER, "ord_2")]:
        with as_user(who), pytest.raises(NotFound) as err:
            service.get_paid_order(order_id)
        assert err.value.code == "paid_order_not_found"


def test_worker_setup_builds_the_unique_keys_before_any_delivery(mongo_db, monkeypatch):
    monkeypatch.setenv("MONGO_DB", mongo_db)
    worker.setup()
    db = mongoengine.get_db()  # raw pymongo: a Document access would build the indexes itself
    unique = {
        (collection, tuple(k for k, _ in index["key"]))
        for collection in ("paid_orders", "processed_events")
        for index in db[collection].index_information().values()
        if index.get("unique") and index["key"] != [("_id", 1)]  # the dev server flags _id_ unique
    }
    assert unique == {("paid_orders", ("order_id",)), ("processed_events", ("consumer", "event_id"))}
