"""agent settings (environment, with local defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from mallkit.config import env_int, env_str

SERVICE = "agent"


@dataclass(frozen=True)
class AgentSettings:
    grpc_port: int
    db_name: str

    @classmethod
    def from_env(cls) -> AgentSettings:
        return cls(
            grpc_port=env_int("GRPC_PORT", 50054),
            db_name=env_str("MONGO_DB", "socialmall_agent"),
        )
