"""Gateway settings, read once from the environment when the app is created.

| variable | default | meaning |
|---|---|---|
| RETAIL_GRPC_TARGET … GUIDE_GRPC_TARGET | 127.0.0.1:50051 … :50055 | where each service's gRPC API listens |
| GATEWAY_PORT | 8000 | HTTP port of `python -m gateway` |
| GATEWAY_PUBLIC_URL | http://127.0.0.1:8000 | this gateway's own base URL (the simulated payment provider calls it) |
| MONGO_DB | socialmall_gateway | the gateway's own database (accounts, refresh tokens, role applications) |
| JWT_SECRET | dev default (refused in prod) | HS256 key of the access tokens; at least 32 bytes in prod |
| ACCESS_TOKEN_TTL_SECONDS | 900 | lifetime of an access token |
| REFRESH_TOKEN_TTL_SECONDS | 2592000 (30 days) | lifetime of a refresh token (each refresh issues a new one) |
| BOOTSTRAP_ADMIN_PHONES | dev: +8613800000000; prod: none | comma-separated phones whose accounts get the admin role |
| CODE_SENDER | dev: log; prod: none | how codes reach phones: `log` (the log; refused in prod) or `none` (503) |
| CODE_TTL_SECONDS / CODE_MAX_ATTEMPTS | 300 / 5 | a one-time code's lifetime and how many wrong guesses burn it |
| RATE_LIMIT_IP, RATE_LIMIT_USER | 1200/60, 600/60 | every /api/v1 request, per client IP and per signed-in user |
| RATE_LIMIT_NOTIFY_IP | 6000/60 | the payment provider's callbacks, per IP, instead of RATE_LIMIT_IP |
| RATE_LIMIT_AUTH_IP, RATE_LIMIT_AUTH_PHONE | 30/60, 10/900 | register, log in, reset password: per IP, per phone |
| RATE_LIMIT_CODE_IP, RATE_LIMIT_CODE_PHONE | 10/600, 1/60 | one-time codes sent per IP and per phone |
| IDEMPOTENCY_TTL_SECONDS | 86400 | how long a stored response answers a repeated Idempotency-Key |
| IDEMPOTENCY_WAIT_SECONDS | 10 | how long a duplicate waits for the first request with its key before a 409 |
| PAYMENT_HMAC_SECRET | dev default (refused in prod) | key of the simulated provider's callback signature (dev only) |

A rate limit is `COUNT/SECONDS` (a burst of COUNT, refilled evenly over SECONDS) or `off`.
Behind a proxy, uvicorn's FORWARDED_ALLOW_IPS (default 127.0.0.1) says whose X-Forwarded-For
names the client IP. Plus the kit's SOCIALMALL_ENV, MONGO_URI, REDIS_URL, GRPC_DEADLINE_SECONDS and
LOG_LEVEL (`mallkit.config.KitSettings`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from mallkit.config import KitSettings, env_float, env_int, env_str, secret

SERVICES = ("retail", "groupbuy", "content", "agent", "guide")
DEFAULT_PORTS = dict(zip(SERVICES, range(50051, 50056), strict=True))
ACCESS_TOKEN_TTL_SECONDS = 15 * 60
REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600
MIN_PROD_JWT_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
DEV_BOOTSTRAP_ADMIN = "+8613800000000"
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-32bytes"
CODE_SENDERS = ("log", "none")
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")
# An 11-digit mainland mobile number without country code is read as +86.
PHONE_REGEX = r"^(\+[1-9][0-9]{7,14}|1[3-9][0-9]{9})$"
_PHONE = re.compile(PHONE_REGEX)


def normalize_phone(phone: str) -> str:
    """`13800000000` → `+8613800000000`; E.164 numbers stay as they are."""
    if not _PHONE.match(phone):
        raise ValueError(f"not a phone number: {phone!r}")
    return phone if phone.startswith("+") else f"+86{phone}"


@dataclass(frozen=True)
class Limit:
    """At most `count` requests in any `seconds` window (GCRA: a burst of `count`, refilled evenly)."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, name: str, spec: str) -> Limit | None:
        if spec.strip().lower() == "off":
            return None
        match = _LIMIT.match(spec)
        if not match or int(match[1]) < 1 or float(match[2]) <= 0:
            raise ValueError(f"{name} must be COUNT/SECONDS (e.g. 10/60) or off, got {spec!r}")
        return cls(int(match[1]), float(match[2]))

    @classmethod
    def from_env(cls, name: str, default: str) -> Limit | None:
        return cls.parse(name, env_str(name, default))


@dataclass(frozen=True)
class RateLimits:
    ip: Limit | None = Limit(1200, 60)
    user: Limit | None = Limit(600, 60)
    auth_ip: Limit | None = Limit(30, 60)
    auth_phone: Limit | None = Limit(10, 900)
    code_ip: Limit | None = Limit(10, 600)
    code_phone: Limit | None = Limit(1, 60)
    # the payment provider's callbacks come in bursts from a few addresses of its own
    notify_ip: Limit | None = Limit(6000, 60)

    @classmethod
    def from_env(cls) -> RateLimits:
        defaults = cls()
        return cls(
            **{
                name: Limit.from_env(f"RATE_LIMIT_{name.upper()}", _spec(getattr(defaults, name)))
                for name in ("ip", "user", "auth_ip", "auth_phone", "code_ip", "code_phone", "notify_ip")
            }
        )


def _spec(limit: Limit | None) -> str:
    return "off" if limit is None else f"{limit.count}/{limit.seconds:g}"


@dataclass(frozen=True)
class GatewaySettings:
    kit: KitSettings
    targets: dict[str, str]
    port: int
    public_url: str
    jwt_secret: str
    mongo_db: str = "socialmall_gateway"
    access_token_ttl: int = ACCESS_TOKEN_TTL_SECONDS
    refresh_token_ttl: int = REFRESH_TOKEN_TTL_SECONDS
    bootstrap_admin_phones: frozenset[str] = frozenset()
    code_sender: str = "log"
    code_ttl: int = 300
    code_max_attempts: int = 5
    rate_limits: RateLimits = field(default_factory=RateLimits)
    idempotency_ttl: int = 24 * 3600
    idempotency_wait: float = 10.0

    @property
    def is_dev(self) -> bool:
        return self.kit.is_dev

    @classmethod
    def from_env(cls) -> GatewaySettings:
        kit = KitSettings.from_env()
        jwt_secret = secret("JWT_SECRET", DEV_JWT_SECRET)
        if not kit.is_dev and len(jwt_secret.encode()) < MIN_PROD_JWT_SECRET_BYTES:
            raise RuntimeError(
                f"JWT_SECRET must be at least {MIN_PROD_JWT_SECRET_BYTES} bytes when SOCIALMALL_ENV=prod"
            )
        code_sender = env_str("CODE_SENDER", "log" if kit.is_dev else "none")
        if code_sender not in CODE_SENDERS:
            raise RuntimeError(f"CODE_SENDER must be one of {', '.join(CODE_SENDERS)}, got {code_sender!r}")
        if code_sender == "log" and not kit.is_dev:
            raise RuntimeError("CODE_SENDER=log writes one-time codes to the log: refused when SOCIALMALL_ENV=prod")
        admins = os.environ.get("BOOTSTRAP_ADMIN_PHONES", DEV_BOOTSTRAP_ADMIN if kit.is_dev else "")
        try:
            bootstrap = frozenset(normalize_phone(p.strip()) for p in admins.split(",") if p.strip())
        except ValueError as exc:
            raise RuntimeError(f"BOOTSTRAP_ADMIN_PHONES: {exc}") from exc
        return cls(
            kit=kit,
            targets={
                name: env_str(f"{name.upper()}_GRPC_TARGET", f"127.0.0.1:{port}")
                for name, port in DEFAULT_PORTS.items()
            },
            port=env_int("GATEWAY_PORT", 8000),
            public_url=env_str("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            jwt_secret=jwt_secret,
            mongo_db=env_str("MONGO_DB", "socialmall_gateway"),
            access_token_ttl=env_int("ACCESS_TOKEN_TTL_SECONDS", ACCESS_TOKEN_TTL_SECONDS),
            refresh_token_ttl=env_int("REFRESH_TOKEN_TTL_SECONDS", REFRESH_TOKEN_TTL_SECONDS),
            bootstrap_admin_phones=bootstrap,
            code_sender=code_sender,
            code_ttl=env_int("CODE_TTL_SECONDS", 300),
            code_max_attempts=env_int("CODE_MAX_ATTEMPTS", 5),
            rate_limits=RateLimits.from_env(),
            idempotency_ttl=env_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
            idempotency_wait=env_float("IDEMPOTENCY_WAIT_SECONDS", 10.0),
        )
