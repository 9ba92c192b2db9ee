"""Order rules: lines, server-side pricing, and the status machine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mallkit.errors import InvalidArgument

MAX_LINES = 50
MAX_QUANTITY = 999


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Line:
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    sku_id: str
    quantity: int
    unit_price_fen: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


def check_lines(lines: list[Line]) -> list[Line]:
    """One line per SKU, 1..MAX_LINES lines, quantities 1..MAX_QUANTITY."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidArgument(f"an order has 1..{MAX_LINES} lines", "invalid_lines")
    if len({line.sku_id for line in lines}) != len(lines):
        raise InvalidArgument("each SKU may appear on one line only", "duplicate_sku")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidArgument(f"quantity must be 1..{MAX_QUANTITY}", "invalid_quantity")
    # a fixed order for stock reservation, so concurrent orders never wait on each other in a cycle
    return sorted(lines, key=lambda line: line.sku_id)


def total_fen(lines: list[PricedLine]) -> int:
    return sum(line.amount_fen for line in lines)
