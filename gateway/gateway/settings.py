"""Gateway settings, read once from the environment when the app is created.

| variable | default | meaning |
|---|---|---|
| RETAIL_GRPC_TARGET … GUIDE_GRPC_TARGET | 127.0.0.1:50051 … :50055 | where each service's gRPC API listens |
| GATEWAY_PORT | 8000 | HTTP port of `python -m gateway` |
| GATEWAY_PUBLIC_URL | http://127.0.0.1:8000 | this gateway's own base URL (the simulated payment provider calls it) |
| JWT_SECRET | dev default (refused in prod) | HS256 key of the access tokens; at least 32 bytes in prod |
| PAYMENT_HMAC_SECRET | dev default (refused in prod) | key of the simulated provider's callback signature (dev only) |

Plus the kit's SOCIALMALL_ENV, GRPC_DEADLINE_SECONDS and LOG_LEVEL (`mallkit.config.KitSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.config import KitSettings, env_int, env_str, secret

SERVICES = ("retail", "groupbuy", "content", "agent", "guide")
DEFAULT_PORTS = dict(zip(SERVICES, range(50051, 50056), strict=True))
ACCESS_TOKEN_TTL_SECONDS = 15 * 60
MIN_PROD_JWT_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


@dataclass(frozen=True)
class GatewaySettings:
    kit: KitSettings
    targets: dict[str, str]
    port: int
    public_url: str
    jwt_secret: str
    access_token_ttl: int = ACCESS_TOKEN_TTL_SECONDS

    @property
    def is_dev(self) -> bool:
        return self.kit.is_dev

    @classmethod
    def from_env(cls) -> GatewaySettings:
        kit = KitSettings.from_env()
        jwt_secret = secret("JWT_SECRET", "dev-only-jwt-secret-change-me-32bytes")
        if not kit.is_dev and len(jwt_secret.encode()) < MIN_PROD_JWT_SECRET_BYTES:
            raise RuntimeError(
                f"JWT_SECRET must be at least {MIN_PROD_JWT_SECRET_BYTES} bytes when SOCIALMALL_ENV=prod"
            )
        return cls(
            kit=kit,
            targets={
                name: env_str(f"{name.upper()}_GRPC_TARGET", f"127.0.0.1:{port}")
                for name, port in DEFAULT_PORTS.items()
            },
            port=env_int("GATEWAY_PORT", 8000),
            public_url=env_str("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            jwt_secret=jwt_secret,
        )
