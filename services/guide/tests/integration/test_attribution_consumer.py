"""The order_paid consumer, called as nameko would call it, against a real Mongo wire server."""

import pytest

from guide.documents import AttributedOrder
from guide.worker import Worker
from mallkit.consumer import ProcessedEvent

pytestmark = pytest.mark.integration


def test_the_same_event_twice_records_one_attributed_order(create_link, order_paid):
    link = create_link("u_kol")
    event = order_paid("ord_1", link.id, total_fen=1990)
    Worker().on_order_paid(event)
    Worker().on_order_paid(event)
    (order,) = AttributedOrder.objects
    assert (order.order_id, order.link_id, order.kol_id, order.buyer_id, order.total_fen) == (
        "ord_1",
        link.id,
        "u_kol",
        "u_buyer",
        1990,
    )
    assert ProcessedEvent.objects(consumer="guide.order_paid", event_id=event["event_id"]).count() == 1
    # a second event about the same order (another event id) is still one record
    Worker().on_order_paid(order_paid("ord_1", link.id))
    assert AttributedOrder.objects.count() == 1


def test_orders_without_a_known_link_are_not_attributed(mongo_db, order_paid):
    Worker().on_order_paid(order_paid("ord_1", ""))
    Worker().on_order_paid(order_paid("ord_2", "lnk_unknown"))
    assert AttributedOrder.objects.count() == 0
