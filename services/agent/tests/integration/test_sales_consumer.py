"""The order_paid consumer, called as nameko would call it, against a real Mongo wire server."""

import pytest

from agent.documents import AgentSale
from agent.worker import Worker
from mallkit.consumer import ProcessedEvent

pytestmark = pytest.mark.integration


def test_the_same_event_twice_records_one_sale(register, order_paid):
    agent = register("u_agent")
    event = order_paid("ord_1", agent.id, total_fen=3980)
    Worker().on_order_paid(event)
    Worker().on_order_paid(event)
    (sale,) = AgentSale.objects
    assert (sale.order_id, sale.agent_id, sale.buyer_id, sale.total_fen) == ("ord_1", agent.id, "u_buyer", 3980)
    assert ProcessedEvent.objects(consumer="agent.order_paid", event_id=event["event_id"]).count() == 1
    # a second event about the same order (another event id) is still one sale
    Worker().on_order_paid(order_paid("ord_1", agent.id))
    assert AgentSale.objects.count() == 1


def test_orders_without_a_known_agent_are_not_sales(mongo_db, order_paid):
    Worker().on_order_paid(order_paid("ord_1", ""))
    Worker().on_order_paid(order_paid("ord_2", "agt_unknown"))
    assert AgentSale.objects.count() == 0
