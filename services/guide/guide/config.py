"""guide settings (environment, with local defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.config import env_int, env_str

SERVICE = "guide"


@dataclass(frozen=True)
class GuideSettings:
    grpc_port: int
    db_name: str
    retail_grpc_target: str
    public_base_url: str

    @classmethod
    def from_env(cls) -> GuideSettings:
        return cls(
            grpc_port=env_int("GRPC_PORT", 50055),
            db_name=env_str("MONGO_DB", "socialmall_guide"),
            retail_grpc_target=env_str("RETAIL_GRPC_TARGET", "127.0.0.1:50051"),
            public_base_url=env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
        )
