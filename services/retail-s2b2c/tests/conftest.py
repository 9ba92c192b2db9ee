"""Fixtures shared by retail's integration tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mallkit import context
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.domain import payments
from retail_s2b2c.domain.catalog import NewSku
from retail_s2b2c.service import catalog

BRAND = context.Caller("u_brand", frozenset({"brand"}))


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> RetailSettings:
    monkeypatch.setenv("PAYMENT_HMAC_SECRET", "test-secret")
    return RetailSettings.from_env()


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


@pytest.fixture
def paid_callback(settings: RetailSettings) -> Callable[..., tuple[bytes, str]]:
    """The simulated provider's signed notify callback: (body, signature)."""

    def make(order_id: str, amount_fen: int, transaction_id: str = "tx_1") -> tuple[bytes, str]:
        body = json.dumps(
            {"out_trade_no": order_id, "transaction_id": transaction_id, "amount_fen": amount_fen, "status": "SUCCESS"}
        ).encode()
        return body, payments.sign(body, settings.payment_secret)

    return make


@pytest.fixture
def make_sku(mongo_db: str) -> Callable[..., str]:
    """Create a brand's product with one SKU; returns the SKU id."""

    def make(price_fen: int = 1990, stock: int = 10) -> str:
        with as_user(BRAND):
            brand = catalog.create_brand(f"brand-{context.new_request_id()[:8]}")
            _, skus = catalog.create_product(brand.id, "Rose face mist", "beauty", [NewSku("100ml", price_fen, stock)])
        return skus[0].id

    return make
