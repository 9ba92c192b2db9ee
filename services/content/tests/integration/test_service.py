"""Use cases and the order_paid consumer against the Mongo wire server."""

import mongoengine
import pytest

from content import service, worker
from content.documents import Post
from content.worker import Worker
from mallkit import context
from mallkit.consumer import ProcessedEvent
from mallkit.errors import NotFound

pytestmark = pytest.mark.integration

AUTHOR = context.Caller("u_author", frozenset({"consumer"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


@pytest.fixture
def post_id(mongo_db, fake_retail) -> str:
    with as_user(AUTHOR):
        return service.create_post(fake_retail, " Rose mist ", "Two weeks in.", ["sku_cream", "sku_mist"]).id


def test_a_post_is_saved_with_its_author_and_skus(post_id):
    found = service.get_post(post_id)
    assert (found.author_id, found.title, found.body, found.sku_ids) == (
        "u_author",
        "Rose mist",
        "Two weeks in.",
        ["sku_cream", "sku_mist"],
    )
    assert found.purchases == 0
    with pytest.raises(NotFound) as err:
        service.get_post("pst_missing")
    assert err.value.code == "post_not_found"


def test_a_refused_post_saves_nothing(mongo_db, fake_retail):
    with as_user(AUTHOR), pytest.raises(NotFound):
        service.create_post(fake_retail, "Rose mist", "", ["sku_gone"])
    assert Post.objects.count() == 0


def test_each_paid_order_credits_its_post_once(post_id, order_paid):
    first = order_paid("ord_1", post_id=post_id)
    Worker().count_post_purchase(first)
    Worker().count_post_purchase(first)  # redelivered: stopped by the processed-event record
    Worker().count_post_purchase(order_paid("ord_1", post_id=post_id))  # re-emitted: stopped by the order key
    Worker().count_post_purchase(order_paid("ord_2", post_id=post_id))
    Worker().count_post_purchase(order_paid("ord_3"))  # from no post
    Worker().count_post_purchase(order_paid("ord_4", post_id="pst_unknown"))
    post = Post.objects.get(id=post_id)
    assert (post.purchases, post.purchase_order_ids) == (2, ["ord_1", "ord_2"])
    assert ProcessedEvent.objects(consumer="content.order_paid").count() == 5


def test_worker_setup_builds_the_processed_event_key_before_any_delivery(mongo_db, monkeypatch):
    monkeypatch.setenv("MONGO_DB", mongo_db)
    worker.setup()
    indexes = mongoengine.get_db()["processed_events"].index_information().values()  # raw: builds nothing
    unique = [index["key"] for index in indexes if index.get("unique") and index["key"] != [("_id", 1)]]
    assert unique == [[("consumer", 1), ("event_id", 1)]]
