"""content settings (environment, with local defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.config import env_int, env_str

SERVICE = "content"


@dataclass(frozen=True)
class ContentSettings:
    grpc_port: int
    db_name: str
    retail_target: str

    @classmethod
    def from_env(cls) -> ContentSettings:
        return cls(
            grpc_port=env_int("GRPC_PORT", 50053),
            db_name=env_str("MONGO_DB", "socialmall_content"),
            retail_target=env_str("RETAIL_GRPC_TARGET", "127.0.0.1:50051"),
        )
