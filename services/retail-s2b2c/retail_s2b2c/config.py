"""retail-s2b2c settings (environment, with local defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.config import env_int, env_str, secret

SERVICE = "retail"


@dataclass(frozen=True)
class RetailSettings:
    grpc_port: int
    db_name: str
    payment_secret: str
    notify_url: str
    unpaid_timeout_seconds: int

    @classmethod
    def from_env(cls) -> RetailSettings:
        return cls(
            grpc_port=env_int("GRPC_PORT", 50051),
            db_name=env_str("MONGO_DB", "socialmall_retail"),
            payment_secret=secret("PAYMENT_HMAC_SECRET", "dev-only-payment-secret"),
            notify_url=env_str("PAYMENT_NOTIFY_URL", "http://127.0.0.1:8000/api/v1/payments/notify"),
            unpaid_timeout_seconds=env_int("ORDER_UNPAID_TIMEOUT_SECONDS", 30 * 60),
        )
