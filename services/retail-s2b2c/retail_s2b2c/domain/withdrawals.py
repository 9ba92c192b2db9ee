"""Withdrawal rules (BUSINESS_RULES "withdrawal"): limits, fee, daily count, auto-approval, review."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mallkit.errors import FailedPrecondition, InvalidArgument
from retail_s2b2c.domain.ledger import BP, fmt_fen


class WithdrawalStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    PAID = "paid"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WithdrawalRules:
    """Platform settings; defaults are BUSINESS_RULES' (¥10.00 .. ¥5,000.00, 3 a day, no fee,
    auto-approved up to ¥50.00)."""

    min_fen: int = 1000
    max_fen: int = 500_000
    per_day: int = 3
    fee_bp: int = 0
    auto_approve_max_fen: int = 5000

    def fee_fen(self, amount_fen: int) -> int:
        """Rounded down: the user never pays more than the rate."""
        return amount_fen * self.fee_bp // BP

    def auto_approved(self, amount_fen: int) -> bool:
        return amount_fen <= self.auto_approve_max_fen


def check_amount(amount_fen: int, rules: WithdrawalRules) -> int:
    if amount_fen < rules.min_fen:
        raise InvalidArgument(f"the minimum withdrawal is {fmt_fen(rules.min_fen)}", "below_minimum")
    if amount_fen > rules.max_fen:
        raise InvalidArgument(f"the maximum withdrawal is {fmt_fen(rules.max_fen)}", "above_maximum")
    return amount_fen


def check_can_withdraw(amount_fen: int, available_fen: int, requested_today: int, rules: WithdrawalRules) -> None:
    """Against the user's state: a negative balance (a clawback) blocks everything until offset."""
    if available_fen < 0:
        raise FailedPrecondition(
            f"the available balance is {fmt_fen(available_fen)}: withdrawals resume once it is offset",
            "negative_balance",
        )
    if requested_today >= rules.per_day:
        raise FailedPrecondition(f"at most {rules.per_day} withdrawals a day", "daily_limit_reached")
    if amount_fen > available_fen:
        raise FailedPrecondition(f"only {fmt_fen(available_fen)} is available", "insufficient_balance")


def check_pending(status: str) -> None:
    if status != WithdrawalStatus.PENDING_REVIEW:
        raise FailedPrecondition(f"the withdrawal is {status}, not waiting for review", "withdrawal_not_pending")


def check_reject_reason(reason: str) -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= 200:
        raise InvalidArgument("a rejection needs a reason of 1..200 characters", "reason_required")
    return reason
