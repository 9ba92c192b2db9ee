"""Ledger rules: entry kinds and states, idempotency keys, the payout cap, proportional reversal and
how a balance is read off the entries.

The ledger is a signed journal. Every money effect is one entry with a unique idempotency key
derived from its source, so posting the same effect twice is a no-op:

- an earning is a positive entry, `frozen` until its order completes, then `available`;
- a reversal is a negative entry (kind `reversal`) in the state its original has at that moment,
  so a clawback after settlement may drive `available` below zero;
- a withdrawal is a negative entry, `withdrawing` while the withdrawal waits for review,
  `withdrawn` once paid; a rejected withdrawal's entry becomes plain `available` and a positive
  `withdrawal_returned` entry gives the amount back.

A balance is nothing but sums over entries by state (see `Balance.from_state_sums`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mallkit.errors import InvalidArgument

BP = 10_000  # basis points in 100 %
MAX_KEY_LEN = 200


class EntryState(StrEnum):
    FROZEN = "frozen"
    AVAILABLE = "available"
    WITHDRAWING = "withdrawing"
    WITHDRAWN = "withdrawn"


class Kind(StrEnum):
    COMMISSION_L1 = "commission_l1"
    COMMISSION_L2 = "commission_l2"
    GROUP_COMMISSION = "group_commission"
    CREATOR_REWARD = "creator_reward"
    KOL_COMMISSION = "kol_commission"
    AGENT_REBATE = "agent_rebate"
    REVERSAL = "reversal"
    WITHDRAWAL = "withdrawal"
    WITHDRAWAL_RETURNED = "withdrawal_returned"


# What other services may post through PostEntry: earnings from a consumer's paid order only.
# There is deliberately no kind for recruitment, sign-up or upgrade rewards (anti-pyramid rule),
# store commissions are booked by retail itself, and reversals are made by the ledger on refunds.
POSTABLE_KINDS = frozenset({Kind.GROUP_COMMISSION, Kind.CREATOR_REWARD, Kind.KOL_COMMISSION, Kind.AGENT_REBATE})

# Order statuses from which an order counts as paid (the orders contract); anything else is refused.
PAID_OR_LATER = frozenset(
    {"paid", "shipped", "received", "completed", "refund_requested", "partially_refunded", "refunded"}
)


# ── keys ─────────────────────────────────────────────────────────────────────────────────────


# the ledger derives these itself; keys posted by other services may not start with them
RESERVED_KEY_PREFIXES = ("order:", "refund:", "withdrawal:")


def commission_key(order_id: str, level: int) -> str:
    return f"order:{order_id}:l{level}"


def reversal_key(refund_id: str, original_key: str) -> str:
    return f"refund:{refund_id}:{original_key}"


def withdrawal_key(user_id: str, seq: int) -> str:
    """The n-th withdrawal of a user. Two concurrent requests computing the same n collide on the
    unique key, which is what serializes a user's withdrawals (see service.withdrawals)."""
    return f"withdrawal:{user_id}:{seq}"


def withdrawal_returned_key(withdrawal_id: str) -> str:
    return f"withdrawal:{withdrawal_id}:returned"


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= MAX_KEY_LEN:
        raise InvalidArgument(f"idempotency key must be 1..{MAX_KEY_LEN} characters", "invalid_idempotency_key")
    return key


def check_amount_by_sku(amount_by_sku: Mapping[str, int], amount_fen: int, order_skus: set[str]) -> dict[str, int]:
    """An earning's split over the SKUs of its order (empty: not booked per item), without zeros."""
    if not amount_by_sku:
        return {}
    if not set(amount_by_sku) <= order_skus:
        unknown = ", ".join(sorted(set(amount_by_sku) - order_skus))
        raise InvalidArgument(f"amount_by_sku names SKUs not in the order: {unknown}", "invalid_amount_by_sku")
    if any(part < 0 for part in amount_by_sku.values()) or sum(amount_by_sku.values()) != amount_fen:
        raise InvalidArgument(
            f"amount_by_sku must split the amount ({fmt_fen(amount_fen)}) into parts of 0 fen or more",
            "invalid_amount_by_sku",
        )
    return {sku: part for sku, part in amount_by_sku.items() if part}


# ── money ────────────────────────────────────────────────────────────────────────────────────


def share_fen(amount_fen: int, rate_bp: int) -> int:
    """`rate_bp` of `amount_fen`, rounded down to the fen (the platform keeps the remainder)."""
    return amount_fen * rate_bp // BP


def cap_fen(paid_fen: int, cap_bp: int) -> int:
    """Total payout allowed on an order, across every service: floor(paid × cap)."""
    return share_fen(paid_fen, cap_bp)


@dataclass(frozen=True)
class Refunded:
    """What an order was paid and what has been refunded of it, in total and per SKU.

    Per SKU is empty when unknown (a payout record or refund event from before it was recorded)."""

    paid_fen: int
    refunded_fen: int
    paid_by_sku: Mapping[str, int] = field(default_factory=dict)
    refunded_by_sku: Mapping[str, int] = field(default_factory=dict)

    def by_sku(self, basis: Mapping[str, int], amount_fen: int) -> bool:
        """Whether an earning with this basis can be reversed SKU by SKU: the basis splits the
        whole amount over SKUs the order was paid for, and the refund says what each SKU got back."""
        return (
            bool(basis)
            and bool(self.refunded_by_sku)
            and sum(basis.values()) == amount_fen
            and all(self.paid_by_sku.get(sku, 0) > 0 for sku in basis)
        )


def reversal_target(amount_fen: int, refunded: Refunded, basis: Mapping[str, int] | None = None) -> int:
    """How much of an earning must be reversed once `refunded` was refunded of its order.

    An earning booked per item (`basis`: the part of it each SKU earned, e.g. 10 % of one item and
    20 % of another) is reversed item by item, Σ floor(part × refunded_sku / paid_sku): refunding an
    item takes back what that item earned. Otherwise in proportion of the whole order,
    floor(amount × refunded / paid). Either way rounding never reverses more than was booked, the
    target only grows with the refunds, and a full refund reverses exactly everything."""
    if refunded.paid_fen <= 0 or refunded.refunded_fen <= 0:
        return 0
    if refunded.refunded_fen >= refunded.paid_fen:
        return amount_fen
    if basis and refunded.by_sku(basis, amount_fen):
        return sum(
            part * min(refunded.refunded_by_sku.get(sku, 0), paid) // paid
            for sku, part in basis.items()
            for paid in [refunded.paid_by_sku[sku]]
        )
    return amount_fen * refunded.refunded_fen // refunded.paid_fen


def reversal_delta(
    amount_fen: int, reversed_fen: int, refunded: Refunded, basis: Mapping[str, int] | None = None
) -> int:
    """What to reverse now so the reversals of an earning reach their target (never negative)."""
    return max(0, reversal_target(amount_fen, refunded, basis) - reversed_fen)


def fmt_fen(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def fmt_rate(rate_bp: int) -> str:
    return f"{rate_bp / 100:g} %"


# ── balances ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Balance:
    """A user's balance, read off the entries.

    `available` is what may be withdrawn: everything settled (earnings, reversals, compensations)
    minus every withdrawal not rejected, i.e. the sum of entries in `available`, `withdrawing` and
    `withdrawn`. `withdrawing` and `withdrawn` report the withdrawals in those states (positive).
    """

    frozen_fen: int = 0
    available_fen: int = 0
    withdrawing_fen: int = 0
    withdrawn_fen: int = 0

    @classmethod
    def from_state_sums(cls, sums: dict[str, int]) -> Balance:
        withdrawing = sums.get(EntryState.WITHDRAWING, 0)
        withdrawn = sums.get(EntryState.WITHDRAWN, 0)
        return cls(
            frozen_fen=sums.get(EntryState.FROZEN, 0),
            available_fen=sums.get(EntryState.AVAILABLE, 0) + withdrawing + withdrawn,
            withdrawing_fen=-withdrawing,
            withdrawn_fen=-withdrawn,
        )


def is_settleable(status: str, completed_at: object) -> bool:
    """An order's frozen payouts become available once it completed (receipt + after-sale window).
    A later refund may change the status again; `completed_at` stays."""
    return status == "completed" or completed_at is not None
