"""Catalog rules: what a valid product and SKU are."""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.errors import InvalidArgument

MAX_SKUS = 50
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000.00
MAX_STOCK = 10_000_000


@dataclass(frozen=True)
class NewSku:
    spec: str
    price_fen: int
    stock: int


def check_name(value: str, field: str, max_len: int) -> str:
    value = value.strip()
    if not value or len(value) > max_len:
        raise InvalidArgument(f"{field} must be 1..{max_len} characters", f"invalid_{field}")
    return value


def check_skus(skus: list[NewSku]) -> list[NewSku]:
    if not 1 <= len(skus) <= MAX_SKUS:
        raise InvalidArgument(f"a product has 1..{MAX_SKUS} SKUs", "invalid_skus")
    specs = [check_name(s.spec, "spec", 60) for s in skus]
    if len(set(specs)) != len(specs):
        raise InvalidArgument("SKU specs must be distinct within a product", "duplicate_sku_spec")
    for sku in skus:
        if not 0 < sku.price_fen <= MAX_PRICE_FEN:
            raise InvalidArgument(f"SKU price must be 1..{MAX_PRICE_FEN} fen", "invalid_price")
        if not 0 <= sku.stock <= MAX_STOCK:
            raise InvalidArgument(f"SKU stock must be 0..{MAX_STOCK}", "invalid_stock")
    return [NewSku(spec, s.price_fen, s.stock) for spec, s in zip(specs, skus, strict=True)]
