"""retail.order_paid as retail really raises it is what every consumer parses (docs/events.md)."""

from __future__ import annotations

import json

import pytest

from agent.domain.sales import attributed_sale
from content.domain.posts import attributed_purchase
from groupbuy.domain.paid_orders import from_order_paid
from groupbuy.domain.teams import seat_of_order_key, seat_order_key
from guide.domain.attribution import linked_order
from mallkit import context, events
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain.catalog import NewSku
from retail_s2b2c.domain.orders import Line
from retail_s2b2c.domain.payments import sign
from retail_s2b2c.service import catalog, orders, payments, stores

pytestmark = pytest.mark.integration

ATTRIBUTION = {
    "store_id": "sto_1",
    "group_team_id": "tm_1",
    "bargain_id": "brg_1",
    "post_id": "pst_1",
    "kol_link_id": "lnk_1",
    "agent_id": "agt_1",
}


@pytest.fixture
def order_paid(mongo_db, monkeypatch) -> dict:
    """The order_paid envelope from retail's outbox, as it crosses the wire (JSON)."""
    monkeypatch.setenv("PAYMENT_HMAC_SECRET", "contract")
    settings = RetailSettings.from_env()
    with context.bound("rid-contract", context.Caller("u_brand", frozenset({"brand"}))):
        brand = catalog.create_brand("Contract")
        product, skus = catalog.create_product(brand.id, "Tea", "", [NewSku("250g", 1250, 9, supply_price_fen=800)])
    with context.bound("rid-contract", context.Caller("u_admin", frozenset({"admin"}))):
        catalog.review_product(product.id, approve=True, reason="")
    with context.bound("rid-contract", context.Caller("u_store_owner")):
        store = stores.open_store("Contract store")
        stores.put_store_product(store.id, skus[0].id, 1250)
    # placed by groupbuy for the buyer's seat, under the seat's key
    with context.bound("rid-contract", context.Caller("u_buyer", service="groupbuy")):
        order = orders.create_order(
            [Line(skus[0].id, 3)], {**ATTRIBUTION, "store_id": store.id}, idempotency_key=seat_order_key("seat_1")
        )
    body = json.dumps({"out_trade_no": order.id, "transaction_id": "tx", "amount_fen": 3750, "status": "SUCCESS"})
    with context.bound("rid-callback", context.ANONYMOUS):  # the provider calls anonymously
        payments.handle_payment_notify(body.encode(), sign(body.encode(), "contract"), settings)
    [event] = [e for e in Order.objects.get(id=order.id).outbox if e["type"] == "order_paid"]
    return json.loads(json.dumps(event))


def test_envelope(order_paid):
    assert events.validate(order_paid) is order_paid
    assert order_paid["source"] == "retail" and order_paid["trace"]["request_id"] == "rid-callback"
    assert order_paid["data"]["items"][0] | {"sku_id": ""} == {
        "sku_id": "",
        "quantity": 3,
        "unit_price_fen": 1250,
        "amount_fen": 3750,
    }


def test_groupbuy_reads_it(order_paid):
    facts = from_order_paid(order_paid["data"])
    assert (facts.buyer_id, facts.amount_fen) == ("u_buyer", 3750)
    assert (facts.group_team_id, facts.bargain_id) == ("tm_1", "brg_1")
    assert seat_of_order_key(facts.order_key, "groupbuy") == "seat_1"
    assert facts.paid_at is not None and facts.paid_at.tzinfo is not None


def test_content_reads_it(order_paid):
    assert attributed_purchase(order_paid["data"]).post_id == "pst_1"


def test_agent_reads_it(order_paid):
    sale = attributed_sale(order_paid["data"])
    assert (sale.agent_id, sale.total_fen, sale.buyer_id) == ("agt_1", 3750, "u_buyer")


def test_guide_reads_it(order_paid):
    linked = linked_order(order_paid["data"])
    assert (linked.link_id, linked.total_fen) == ("lnk_1", 3750)
    assert linked.paid_at.tzinfo is not None
