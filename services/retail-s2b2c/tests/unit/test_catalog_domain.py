"""Catalog rules with no I/O: SKU prices and bands, product fields, review, stock changes."""

import pytest

from mallkit.errors import InvalidArgument
from retail_s2b2c.domain import catalog
from retail_s2b2c.domain.catalog import CheckedSku, CommissionRates, NewSku, ProductStatus


def sku(spec: str = "a", price: int = 1000, stock: int = 1, supply: int | None = 600, low=None, high=None) -> NewSku:
    return NewSku(spec, price, stock, supply_price_fen=supply, price_min_fen=low, price_max_fen=high)


def code_of(call) -> str:
    with pytest.raises(InvalidArgument) as err:
        call()
    return err.value.code


def test_a_sku_without_a_band_sells_at_exactly_its_price():
    assert catalog.check_skus([sku(" 500ml ", 1990, 3, 1000)]) == [CheckedSku("500ml", 1990, 3, 1000, 1990, 1990)]


def test_supply_le_min_le_price_le_max_holds_at_its_edges():
    assert catalog.check_price_band(1000, 1000, 1000, 1000) == catalog.PriceBand(1000, 1000, 1000)
    assert catalog.check_price_band(1000, 1, 1, catalog.MAX_PRICE_FEN) == catalog.PriceBand(1, 1, catalog.MAX_PRICE_FEN)
    assert catalog.check_price_band(1000, 600, 800, None) == catalog.PriceBand(600, 800, 1000)


@pytest.mark.parametrize(
    ("price", "supply", "low", "high", "code"),
    [
        (1000, 1001, None, None, "supply_above_price"),
        (1000, 600, 599, None, "invalid_price_band"),  # min below supply: a store could sell at a loss
        (1000, 600, 1001, 1200, "invalid_price_band"),  # min above the suggested price
        (1000, 600, None, 999, "invalid_price_band"),  # max below the suggested price
        (1000, 600, None, catalog.MAX_PRICE_FEN + 1, "invalid_price_band"),
        (1000, None, None, None, "supply_price_required"),
        (1000, 0, None, None, "invalid_supply_price"),
        (0, 1, None, None, "invalid_price"),
        (catalog.MAX_PRICE_FEN + 1, 1, None, None, "invalid_price"),
    ],
)
def test_bad_prices_are_refused_with_their_own_code(price, supply, low, high, code):
    assert code_of(lambda: catalog.check_price_band(price, supply, low, high)) == code
    assert code_of(lambda: catalog.check_skus([sku(price=price, supply=supply, low=low, high=high)])) == code


def test_skus_need_distinct_specs_and_sane_stock():
    assert code_of(lambda: catalog.check_skus([sku("a"), sku(" a ")])) == "duplicate_sku_spec"
    assert code_of(lambda: catalog.check_skus([sku(stock=-1)])) == "invalid_stock"
    assert code_of(lambda: catalog.check_skus([])) == "invalid_skus"
    assert code_of(lambda: catalog.check_skus([sku(f"s{i}") for i in range(catalog.MAX_SKUS + 1)])) == "invalid_skus"
    assert code_of(lambda: catalog.check_skus([sku(" ")])) == "invalid_spec"


def test_images_attributes_and_commission_rates():
    assert catalog.check_image_urls([" https://cdn.example/a.jpg "]) == ["https://cdn.example/a.jpg"]
    assert code_of(lambda: catalog.check_image_urls(["javascript:alert(1)"])) == "invalid_image_urls"
    assert code_of(lambda: catalog.check_image_urls(["https://x/1"] * 10)) == "invalid_image_urls"
    assert catalog.check_attributes({" origin ": " Yunnan "}) == {"origin": "Yunnan"}
    for bad in ({"": "x"}, {"a.b": "x"}, {"$where": "x"}, {"k": "v" * 201}, {f"k{i}": "v" for i in range(21)}):
        assert code_of(lambda bad=bad: catalog.check_attributes(bad)) == "invalid_attributes"
    assert catalog.check_commission_rates(CommissionRates(2000, 1000)) == CommissionRates(2000, 1000)
    assert catalog.check_commission_rates(CommissionRates(0, None)) == CommissionRates(0, None)
    for bad in (CommissionRates(-1, None), CommissionRates(None, 3001), CommissionRates(2000, 1001)):
        assert code_of(lambda bad=bad: catalog.check_commission_rates(bad)) == "invalid_commission_rate"


def test_review_rejection_needs_a_reason_approval_does_not():
    assert catalog.review(True, "  ") == catalog.Review(ProductStatus.APPROVED, "")
    assert catalog.review(True, "nice").sellable is True
    rejected = catalog.review(False, " blurry photos ")
    assert rejected == catalog.Review(ProductStatus.REJECTED, "blurry photos") and rejected.sellable is False
    assert code_of(lambda: catalog.review(False, "   ")) == "reason_required"
    assert code_of(lambda: catalog.review(False, "x" * 201)) == "invalid_reason"


def test_stock_changes_are_non_zero_with_a_reason():
    assert catalog.check_stock_change(-3, " damaged ", "k1") == catalog.StockChange(-3, "damaged", "k1")
    assert code_of(lambda: catalog.check_stock_change(0, "r", "")) == "invalid_delta"
    assert code_of(lambda: catalog.check_stock_change(catalog.MAX_STOCK + 1, "r", "")) == "invalid_delta"
    assert code_of(lambda: catalog.check_stock_change(5, " ", "")) == "reason_required"
    assert code_of(lambda: catalog.check_stock_change(5, "r", "k" * 129)) == "invalid_idempotency_key"
