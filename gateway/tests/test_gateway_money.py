"""Money: integer fen with a display string, never a float."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.money import Money, display
from gateway.tests.gateway_fakes import SKU_PRICE_FEN


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "¥0.00"), (1, "¥0.01"), (10, "¥0.10"), (1234, "¥12.34"), (100_000, "¥1000.00"), (-5, "-¥0.05")],
)
def test_display(fen: int, text: str) -> None:
    assert display(fen) == text
    assert Money.of(fen).model_dump() == {"fen": fen, "display": text}


def test_responses_carry_fen_and_display(client: TestClient) -> None:
    price = client.get("/api/v1/skus/sku_1").json()["price"]
    assert price == {"fen": SKU_PRICE_FEN, "display": "¥12.34"}
