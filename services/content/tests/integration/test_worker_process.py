"""The real content worker process, fed by RabbitMQ the way retail's outbox relay publishes."""

import re
import time

import pytest

from content import service
from content.documents import Post
from mallkit import context
from mallkit.testing import publish_events

pytestmark = pytest.mark.integration


def test_duplicate_deliveries_credit_a_post_once(mongo_db, amqp_uri, start_worker, fake_retail, order_paid):
    with context.bound("rid", context.Caller("u_author")):
        post_id = service.create_post(fake_retail, "Rose mist", "", ["sku_mist"]).id
    worker = start_worker("content", {"MONGO_DB": mongo_db})
    first = order_paid("ord_1", post_id=post_id)
    publish_events(
        amqp_uri, "retail", [first, first, order_paid("ord_1", post_id=post_id), order_paid("ord_2", post_id=post_id)]
    )

    # Done when both orders are credited and the worker turned away both duplicates: by the
    # processed-event record, or (deliveries handled concurrently) by the order key on the post.
    turned_away = re.compile(rf"skipping duplicate event {first['event_id']}|order ord_1: post {post_id} is unknown")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if Post.objects.get(id=post_id).purchases >= 2 and len(turned_away.findall(worker.log())) == 2:
            break
        time.sleep(0.2)
    post = Post.objects.get(id=post_id)
    assert (post.purchases, sorted(post.purchase_order_ids)) == (2, ["ord_1", "ord_2"]), worker.log()
    assert len(turned_away.findall(worker.log())) == 2, worker.log()
