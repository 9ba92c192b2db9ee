"""retail-s2b2c settings (environment, with local defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mallkit.config import env_int, env_str, secret
from retail_s2b2c.domain.orders import Windows
from retail_s2b2c.domain.withdrawals import WithdrawalRules

SERVICE = "retail"


@dataclass(frozen=True)
class RetailSettings:
    grpc_port: int
    db_name: str
    payment_secret: str
    notify_url: str
    unpaid_timeout_seconds: int
    auto_receive_days: int
    after_sale_days: int
    # consumer → store binding window in days, renewed on each purchase; 0 = permanent
    store_binding_days: int
    # where the front-end apps reach the gateway: share links point there
    public_base_url: str
    # withdrawal limits, fee and auto-approval (domain.withdrawals; BUSINESS_RULES defaults)
    withdrawal_rules: WithdrawalRules = field(default_factory=WithdrawalRules)

    @property
    def unpaid_timeout(self) -> timedelta:
        return timedelta(seconds=self.unpaid_timeout_seconds)

    @property
    def windows(self) -> Windows:
        return Windows(
            auto_receive=timedelta(days=self.auto_receive_days), after_sale=timedelta(days=self.after_sale_days)
        )

    @classmethod
    def from_env(cls) -> RetailSettings:
        return cls(
            grpc_port=env_int("GRPC_PORT", 50051),
            db_name=env_str("MONGO_DB", "socialmall_retail"),
            payment_secret=secret("PAYMENT_HMAC_SECRET", "dev-only-payment-secret"),
            notify_url=env_str("PAYMENT_NOTIFY_URL", "http://127.0.0.1:8000/api/v1/payments/notify"),
            unpaid_timeout_seconds=env_int("ORDER_UNPAID_TIMEOUT_SECONDS", 30 * 60),
            auto_receive_days=env_int("ORDER_AUTO_RECEIVE_DAYS", 10),
            after_sale_days=env_int("ORDER_AFTER_SALE_DAYS", 7),
            store_binding_days=_non_negative("STORE_BINDING_DAYS", env_int("STORE_BINDING_DAYS", 30)),
            public_base_url=env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            withdrawal_rules=_withdrawal_rules(),
        )


def _non_negative(name: str, value: int) -> int:
    if value < 0:
        raise ValueError(f"environment variable {name} must be 0 or more, got {value}")
    return value


def _withdrawal_rules() -> WithdrawalRules:
    defaults = WithdrawalRules()
    return WithdrawalRules(
        min_fen=env_int("WITHDRAWAL_MIN_FEN", defaults.min_fen),
        max_fen=env_int("WITHDRAWAL_MAX_FEN", defaults.max_fen),
        per_day=env_int("WITHDRAWALS_PER_DAY", defaults.per_day),
        fee_bp=_non_negative("WITHDRAWAL_FEE_BP", env_int("WITHDRAWAL_FEE_BP", defaults.fee_bp)),
        auto_approve_max_fen=env_int("WITHDRAWAL_AUTO_APPROVE_MAX_FEN", defaults.auto_approve_max_fen),
    )
