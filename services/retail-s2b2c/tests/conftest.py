"""Fixtures shared by retail's integration tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mallkit import context
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.domain.catalog import CommissionRates, NewSku
from retail_s2b2c.domain.payments import sign
from retail_s2b2c.service import catalog

BRAND = context.Caller("u_brand", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))


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
        return body, sign(body, settings.payment_secret)

    return make


@pytest.fixture
def make_sku(mongo_db: str) -> Callable[..., str]:
    """Create a brand's product with one SKU (and the product's commission rates, if given),
    approved by an admin (so sellable) unless `approve=False`; returns the SKU id. Supply price:
    half the price; band: exactly the price."""

    def make(
        price_fen: int = 1990,
        stock: int = 10,
        *,
        supply_price_fen: int | None = None,
        price_min_fen: int | None = None,
        price_max_fen: int | None = None,
        approve: bool = True,
        commission: CommissionRates | None = None,
    ) -> str:
        sku = NewSku(
            "100ml",
            price_fen,
            stock,
            supply_price_fen=max(1, price_fen // 2) if supply_price_fen is None else supply_price_fen,
            price_min_fen=price_min_fen,
            price_max_fen=price_max_fen,
        )
        with as_user(BRAND):
            brand = catalog.create_brand(f"brand-{context.new_request_id()[:8]}")
            product, skus = catalog.create_product(brand.id, "Rose face mist", "beauty", [sku], commission=commission)
        if approve:
            with as_user(ADMIN):
                catalog.review_product(product.id, approve=True, reason="")
        return skus[0].id

    return make
