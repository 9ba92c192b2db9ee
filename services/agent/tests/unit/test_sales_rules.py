"""Reading an agent-attributed sale out of retail's order_paid data."""

from datetime import UTC, datetime

import pytest

from agent.domain.sales import AttributedSale, attributed_sale

PAID_AT = "2025-05-01T08:30:00+00:00"


def data(agent_id: str = "agt_1") -> dict:
    return {
        "order_id": "ord_1",
        "buyer_id": "u_buyer",
        "total_fen": 3980,
        "items": [{"sku_id": "sku_1", "quantity": 2, "unit_price_fen": 1990, "amount_fen": 3980}],
        "attribution": {"store_id": "", "kol_link_id": "", "agent_id": agent_id},
        "transaction_id": "tx_1",
        "paid_at": PAID_AT,
    }


def test_an_attributed_order_is_a_sale():
    assert attributed_sale(data()) == AttributedSale(
        order_id="ord_1",
        agent_id="agt_1",
        buyer_id="u_buyer",
        total_fen=3980,
        paid_at=datetime(2025, 5, 1, 8, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize("attribution", [{"agent_id": ""}, {}, None])
def test_an_order_without_an_agent_is_not(attribution):
    event = data()
    event["attribution"] = attribution
    assert attributed_sale(event) is None
