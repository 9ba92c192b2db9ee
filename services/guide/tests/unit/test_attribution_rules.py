"""Reading a KOL-attributed order out of retail's order_paid data."""

from datetime import UTC, datetime

import pytest

from guide.domain.attribution import LinkedOrder, linked_order


def data(kol_link_id: str = "lnk_1") -> dict:
    return {
        "order_id": "ord_1",
        "buyer_id": "u_buyer",
        "total_fen": 1990,
        "items": [{"sku_id": "sku_1", "quantity": 1, "unit_price_fen": 1990, "amount_fen": 1990}],
        "attribution": {"store_id": "sto_1", "kol_link_id": kol_link_id, "agent_id": ""},
        "transaction_id": "tx_1",
        "paid_at": "2025-05-01T08:30:00+00:00",
    }


def test_an_order_through_a_link_is_attributed():
    assert linked_order(data()) == LinkedOrder(
        order_id="ord_1",
        link_id="lnk_1",
        buyer_id="u_buyer",
        total_fen=1990,
        paid_at=datetime(2025, 5, 1, 8, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize("attribution", [{"kol_link_id": ""}, {}, None])
def test_an_order_without_a_link_is_not(attribution):
    event = data()
    event["attribution"] = attribution
    assert linked_order(event) is None
