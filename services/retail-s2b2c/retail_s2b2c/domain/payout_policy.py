"""The platform's payout policy and the store commission plan of an order.

Compliance (禁止传销条例 Art. 7, see ARCHITECTURE "Compliance"): at most 2 paid levels; total
payout on an order at most 30 % of what was paid; commissions only from consumer sales. A policy
outside these limits is refused, never warned about.
"""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.errors import InvalidArgument
from retail_s2b2c.domain.ledger import fmt_fen, fmt_rate, share_fen

MAX_PAID_LEVELS = 2  # fixed by law, not a setting
MAX_ORDER_CAP_BP = 3000  # 30 %


@dataclass(frozen=True)
class Policy:
    paid_levels: int = 2
    level1_rate_bp: int = 1000
    level2_rate_bp: int = 500
    order_cap_bp: int = 3000


DEFAULT = Policy()


def check_policy(policy: Policy) -> Policy:
    """The first rule the policy breaks, as InvalidArgument with a specific code."""
    if policy.paid_levels > MAX_PAID_LEVELS:
        raise InvalidArgument(
            f"at most {MAX_PAID_LEVELS} levels may be paid (anti-pyramid rule)", "too_many_paid_levels"
        )
    if policy.paid_levels < 1:
        raise InvalidArgument("at least 1 level is paid", "too_few_paid_levels")
    if policy.order_cap_bp > MAX_ORDER_CAP_BP:
        raise InvalidArgument(
            f"the payout cap may not exceed {fmt_rate(MAX_ORDER_CAP_BP)} of the paid amount", "payout_cap_too_high"
        )
    if policy.order_cap_bp < 0:
        raise InvalidArgument("the payout cap may not be negative", "invalid_payout_cap")
    if policy.level1_rate_bp < 0 or policy.level2_rate_bp < 0:
        raise InvalidArgument("commission rates may not be negative", "negative_rate")
    if policy.level1_rate_bp + policy.level2_rate_bp > policy.order_cap_bp:
        raise InvalidArgument("level 1 + level 2 rates may not exceed the payout cap", "rates_exceed_cap")
    return policy


# ── store commissions of one order ─────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ItemRates:
    """An order line's paid amount and its product's rate overrides (None: the policy's rate)."""

    amount_fen: int
    sku_id: str = ""
    level1_rate_bp: int | None = None
    level2_rate_bp: int | None = None

    def rate(self, level: int, policy: Policy) -> int:
        override = self.level1_rate_bp if level == 1 else self.level2_rate_bp
        if override is not None:
            return override
        return policy.level1_rate_bp if level == 1 else policy.level2_rate_bp


@dataclass(frozen=True)
class PlannedEarning:
    level: int
    beneficiary_id: str
    amount_fen: int
    note: str
    basis: dict[str, int]  # what each SKU earned of the amount (reversed item by item on refunds)


def level_note(level: int, parts: list[tuple[int, int]]) -> str:
    """e.g. "level 1 commission, 10 % of ¥100.00"; parts are (rate_bp, amount_fen) per rate."""
    by_rate: dict[int, int] = {}
    for rate, amount in parts:
        by_rate[rate] = by_rate.get(rate, 0) + amount
    terms = " + ".join(f"{fmt_rate(rate)} of {fmt_fen(amount)}" for rate, amount in sorted(by_rate.items()))
    return f"level {level} commission, {terms}"


def plan_store_commissions(
    buyer_id: str, owner_id: str, upline_owner_id: str, items: list[ItemRates], policy: Policy
) -> list[PlannedEarning]:
    """Level 1 is the selling store's owner, level 2 that owner's upline (when 2 levels are paid).

    Per item: floor(item amount × rate), kept per SKU as the earning's basis (a refund of an item
    reverses what that item earned). Nobody earns from their own purchase: an owner buying in their
    own store makes no commission at all (paying the upline on it would pay for a downline's own
    consumption), and an upline buying in a downline's store earns no level-2 commission on it.
    """
    if not owner_id or buyer_id == owner_id:
        return []
    levels = [(1, owner_id)]
    if policy.paid_levels >= 2 and upline_owner_id and upline_owner_id not in (owner_id, buyer_id):
        levels.append((2, upline_owner_id))
    planned = []
    for level, beneficiary in levels:
        parts = [(item.rate(level, policy), item.amount_fen) for item in items]
        basis: dict[str, int] = {}
        for item, (rate, amount) in zip(items, parts, strict=True):
            if earned := share_fen(amount, rate):
                basis[item.sku_id] = basis.get(item.sku_id, 0) + earned
        amount = sum(basis.values())
        if amount > 0:
            planned.append(PlannedEarning(level, beneficiary, amount, level_note(level, parts), basis))
    return planned
