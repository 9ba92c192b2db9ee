"""Catalog rules: what a valid product and SKU are, the review states, stock adjustments.

Prices of a SKU (integer fen), always in this order:

    supply price ≤ band minimum ≤ suggested price ≤ band maximum

- supply price: what the brand charges the platform (required);
- suggested price (`price_fen`): what the platform itself sells at;
- band: the range a micro-store's own price must stay in; unset ends default to the suggested price,
  so a SKU without a band is sold everywhere at exactly the suggested price.

A store can never sell below the supply price, so the platform never sells at a loss through a store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mallkit.errors import InvalidArgument

MAX_SKUS = 50
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000.00
MAX_STOCK = 10_000_000
MAX_IMAGES = 9
MAX_URL_LEN = 500
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_KEY_LEN = 30
MAX_ATTRIBUTE_VALUE_LEN = 200
MAX_REASON_LEN = 200
# per-product commission rates, basis points; both levels together stay within the default 30 % payout cap
MAX_RATE_BP = 3000
URL_PATTERN = re.compile(r"^https?://\S+$")


class ProductStatus(StrEnum):
    """pending_review → approved | rejected; an admin may review again at any time (see review)."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class NewSku:
    spec: str
    price_fen: int
    stock: int
    supply_price_fen: int | None = None
    price_min_fen: int | None = None
    price_max_fen: int | None = None


@dataclass(frozen=True)
class CheckedSku:
    """A SKU that passed `check_skus`: spec trimmed, band filled in."""

    spec: str
    price_fen: int
    stock: int
    supply_price_fen: int
    price_min_fen: int
    price_max_fen: int


@dataclass(frozen=True)
class CommissionRates:
    """Per-product distribution rates in basis points; None: the platform policy applies."""

    level1_rate_bp: int | None = None
    level2_rate_bp: int | None = None


def check_name(value: str, field: str, max_len: int) -> str:
    value = value.strip()
    if not value or len(value) > max_len:
        raise InvalidArgument(f"{field} must be 1..{max_len} characters", f"invalid_{field}")
    return value


@dataclass(frozen=True)
class PriceBand:
    supply_price_fen: int
    price_min_fen: int
    price_max_fen: int


def check_price_band(price_fen: int, supply_price_fen: int | None, low: int | None, high: int | None) -> PriceBand:
    """A SKU's prices, band defaults filled in; refuses any break of supply ≤ min ≤ price ≤ max."""
    if not 0 < price_fen <= MAX_PRICE_FEN:
        raise InvalidArgument(f"SKU price must be 1..{MAX_PRICE_FEN} fen", "invalid_price")
    if supply_price_fen is None:
        raise InvalidArgument("a SKU needs its supply price", "supply_price_required")
    if supply_price_fen <= 0:
        raise InvalidArgument("the supply price must be at least 1 fen", "invalid_supply_price")
    if supply_price_fen > price_fen:
        raise InvalidArgument(
            f"the supply price ({supply_price_fen} fen) is above the suggested price ({price_fen} fen)",
            "supply_above_price",
        )
    low = price_fen if low is None else low
    high = price_fen if high is None else high
    if not supply_price_fen <= low <= price_fen <= high <= MAX_PRICE_FEN:
        raise InvalidArgument(
            f"the price band must satisfy supply ({supply_price_fen}) ≤ min ({low}) ≤ price ({price_fen})"
            f" ≤ max ({high}) ≤ {MAX_PRICE_FEN} fen",
            "invalid_price_band",
        )
    return PriceBand(supply_price_fen, low, high)


def check_skus(skus: Sequence[NewSku]) -> list[CheckedSku]:
    if not 1 <= len(skus) <= MAX_SKUS:
        raise InvalidArgument(f"a product has 1..{MAX_SKUS} SKUs", "invalid_skus")
    specs = [check_name(s.spec, "spec", 60) for s in skus]
    if len(set(specs)) != len(specs):
        raise InvalidArgument("SKU specs must be distinct within a product", "duplicate_sku_spec")
    checked = []
    for spec, sku in zip(specs, skus, strict=True):
        band = check_price_band(sku.price_fen, sku.supply_price_fen, sku.price_min_fen, sku.price_max_fen)
        if not 0 <= sku.stock <= MAX_STOCK:
            raise InvalidArgument(f"SKU stock must be 0..{MAX_STOCK}", "invalid_stock")
        checked.append(
            CheckedSku(spec, sku.price_fen, sku.stock, band.supply_price_fen, band.price_min_fen, band.price_max_fen)
        )
    return checked


def check_image_urls(urls: Sequence[str]) -> list[str]:
    urls = [u.strip() for u in urls]
    if len(urls) > MAX_IMAGES or any(len(u) > MAX_URL_LEN or not URL_PATTERN.match(u) for u in urls):
        raise InvalidArgument(
            f"at most {MAX_IMAGES} image URLs, each http(s) and at most {MAX_URL_LEN} characters", "invalid_image_urls"
        )
    return urls


def check_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """Free-form specs shown on the product page (origin, shelf life…): short keys, short values."""
    cleaned = {k.strip(): v.strip() for k, v in attributes.items()}
    if (
        len(attributes) > MAX_ATTRIBUTES
        or len(cleaned) != len(attributes)
        or any(not 0 < len(k) <= MAX_ATTRIBUTE_KEY_LEN or len(v) > MAX_ATTRIBUTE_VALUE_LEN for k, v in cleaned.items())
        or any(k.startswith("$") or "." in k for k in cleaned)  # MongoDB field names
    ):
        raise InvalidArgument(
            f"at most {MAX_ATTRIBUTES} attributes; keys 1..{MAX_ATTRIBUTE_KEY_LEN} characters without '.' or a"
            f" leading '$', values at most {MAX_ATTRIBUTE_VALUE_LEN}",
            "invalid_attributes",
        )
    return cleaned


def check_commission_rates(rates: CommissionRates) -> CommissionRates:
    for rate in (rates.level1_rate_bp, rates.level2_rate_bp):
        if rate is not None and not 0 <= rate <= MAX_RATE_BP:
            raise InvalidArgument(f"a commission rate is 0..{MAX_RATE_BP} basis points", "invalid_commission_rate")
    if (rates.level1_rate_bp or 0) + (rates.level2_rate_bp or 0) > MAX_RATE_BP:
        raise InvalidArgument(
            f"both commission levels together are at most {MAX_RATE_BP} basis points (the payout cap)",
            "invalid_commission_rate",
        )
    return rates


@dataclass(frozen=True)
class Review:
    status: ProductStatus
    reason: str

    @property
    def sellable(self) -> bool:
        return self.status == ProductStatus.APPROVED


def review(approve: bool, reason: str) -> Review:
    """An admin's decision. A rejection needs a reason (shown to the brand); an approval may carry a note.

    Any product may be reviewed again, whatever its status: a rejected one can be approved after the
    brand fixed it, an approved one can be rejected (taken off sale) when a problem appears later.
    """
    reason = reason.strip()
    if len(reason) > MAX_REASON_LEN:
        raise InvalidArgument(f"the reason is at most {MAX_REASON_LEN} characters", "invalid_reason")
    if approve:
        return Review(ProductStatus.APPROVED, "")
    if not reason:
        raise InvalidArgument("a rejection needs a reason", "reason_required")
    return Review(ProductStatus.REJECTED, reason)


@dataclass(frozen=True)
class StockChange:
    delta: int
    reason: str
    idempotency_key: str


def check_stock_change(delta: int, reason: str, idempotency_key: str) -> StockChange:
    """Positive adds, negative removes; the removal itself is conditional (stock never below zero)."""
    if delta == 0 or abs(delta) > MAX_STOCK:
        raise InvalidArgument(f"delta must be non-zero and within ±{MAX_STOCK}", "invalid_delta")
    reason = reason.strip()
    if not reason:
        raise InvalidArgument("a stock adjustment needs a reason", "reason_required")
    if len(reason) > MAX_REASON_LEN:
        raise InvalidArgument(f"the reason is at most {MAX_REASON_LEN} characters", "invalid_reason")
    if len(idempotency_key) > 128:
        raise InvalidArgument("idempotency key is longer than 128 characters", "invalid_idempotency_key")
    return StockChange(delta, reason, idempotency_key)
