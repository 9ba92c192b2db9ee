"""Order rules: lines, server-side pricing, price quotes, the status machine and its clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied

MAX_LINES = 50
MAX_QUANTITY = 999


class OrderStatus(StrEnum):
    """The lifecycle. Refunds are tracked beside it (pending refund, refunded amount); a full
    refund ends the lifecycle in REFUNDED."""

    CREATED = "created"
    PAID = "paid"
    SHIPPED = "shipped"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


SHIPPABLE = (OrderStatus.PAID,)
# completed too: a refund after settlement claws the payouts back (BUSINESS_RULES, the worked example)
REFUNDABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED, OrderStatus.COMPLETED)


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


# ── price quotes from other services ──────────────────────────────────────────────────────────

# Which attribution field a quoting service must set: the team, bargain, campaign (a groupbuy
# campaign's solo purchase) or agent the price is for.
QUOTE_SOURCES: dict[str, tuple[str, ...]] = {
    "groupbuy": ("group_team_id", "bargain_id", "group_campaign_id"),
    "agent": ("agent_id",),
}


@dataclass(frozen=True)
class Quote:
    source: str
    unit_price_fen: dict[str, int]
    distribution_enabled: bool


def check_quote(quote: Quote, calling_service: str, attribution: dict[str, str], lines: list[Line]) -> None:
    """A quote is accepted only from the service that made it, for what it sells, at a sane price."""
    if quote.source not in QUOTE_SOURCES:
        raise InvalidArgument(f"unknown quote source {quote.source!r}", "unknown_quote_source")
    if calling_service != quote.source:
        raise PermissionDenied("price quotes come only from the quoting service itself", "quote_not_from_source")
    if not any(attribution.get(field) for field in QUOTE_SOURCES[quote.source]):
        raise InvalidArgument(
            f"a {quote.source} quote needs attribution.{' or '.join(QUOTE_SOURCES[quote.source])}",
            "quote_attribution_missing",
        )
    skus = {line.sku_id for line in lines}
    if set(quote.unit_price_fen) != skus:
        raise InvalidArgument("the quote must price exactly the order's SKUs", "quote_lines_mismatch")
    if any(price <= 0 for price in quote.unit_price_fen.values()):
        raise InvalidArgument("quoted prices must be positive", "invalid_quote_price")


def awaits_group(attribution: dict[str, str], quote: Quote | None) -> bool:
    """A team's seat order, priced by groupbuy, ships only once the team forms. A solo campaign
    purchase has no team; a buyer's own group_team_id without groupbuy's quote is no seat order."""
    return quote is not None and quote.source == "groupbuy" and bool(attribution.get("group_team_id"))


# ── shipping, receipt, completion ─────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Windows:
    """The clocks of an order after payment (BUSINESS_RULES: auto-receive 10 days after shipping,
    after-sale window 7 days after receipt; completion closes the window and frees commissions)."""

    auto_receive: timedelta = timedelta(days=10)
    after_sale: timedelta = timedelta(days=7)

    def receive_due_before(self, now: datetime) -> datetime:
        return now - self.auto_receive

    def complete_due_before(self, now: datetime) -> datetime:
        return now - self.after_sale


def check_group_formed(awaiting_group: bool) -> None:
    if awaiting_group:
        raise FailedPrecondition("a group order ships once its team has formed", "group_not_formed")


def check_tracking(carrier: str, tracking_number: str) -> tuple[str, str]:
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not 1 <= len(carrier) <= 40 or not 4 <= len(tracking_number) <= 40:
        raise InvalidArgument("carrier (1..40) and tracking number (4..40) are required", "invalid_tracking")
    return carrier, tracking_number


# ── refunds ───────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RefundLine:
    sku_id: str
    quantity: int
    amount_fen: int


def refund_lines(
    requested: list[Line], purchased: dict[str, PricedLine], already_refunded: dict[str, int]
) -> list[RefundLine]:
    """Price a refund request at what was paid; never more units than bought and not yet refunded."""
    if not requested:
        raise InvalidArgument("name at least one item to refund", "invalid_refund_lines")
    if len({line.sku_id for line in requested}) != len(requested):
        raise InvalidArgument("each SKU may appear on one line only", "duplicate_sku")
    lines = []
    for line in requested:
        bought = purchased.get(line.sku_id)
        if bought is None:
            raise InvalidArgument(f"sku {line.sku_id} is not in this order", "sku_not_in_order")
        left = bought.quantity - already_refunded.get(line.sku_id, 0)
        if not 1 <= line.quantity <= left:
            raise InvalidArgument(
                f"sku {line.sku_id}: 1..{left} units can still be refunded", "invalid_refund_quantity"
            )
        lines.append(RefundLine(line.sku_id, line.quantity, bought.unit_price_fen * line.quantity))
    return lines


def remaining_lines(purchased: list[PricedLine], already_refunded: dict[str, int]) -> list[RefundLine]:
    """Every unit not refunded yet, at what was paid for it: what a full refund still owes."""
    left = [(p, p.quantity - already_refunded.get(p.sku_id, 0)) for p in purchased]
    return [RefundLine(p.sku_id, n, p.unit_price_fen * n) for p, n in left if n > 0]


def refunded_by_sku(purchased: list[PricedLine], refunded_quantities: Mapping[str, int]) -> dict[str, int]:
    """What has been paid back per SKU: every refunded unit at what was paid for it, as refund_lines
    and remaining_lines price it."""
    return {p.sku_id: p.unit_price_fen * n for p in purchased if (n := refunded_quantities.get(p.sku_id, 0))}


def check_refundable(status: str, pending_refund_id: str) -> None:
    if status not in REFUNDABLE:
        raise FailedPrecondition(f"a {status} order cannot be refunded", "order_not_refundable")
    if pending_refund_id:
        raise FailedPrecondition("this order already has a refund under review", "refund_pending")


def check_reason(reason: str, code: str = "reason_required") -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= 200:
        raise InvalidArgument("a reason of 1..200 characters is required", code)
    return reason
