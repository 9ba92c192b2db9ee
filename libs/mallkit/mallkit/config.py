"""Settings read from the environment, with the defaults a local `make run` uses."""

from __future__ import annotations

import os
from dataclasses import dataclass


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class KitSettings:
    """Connections and behaviour shared by every process.

    | variable | default | meaning |
    |---|---|---|
    | SOCIALMALL_ENV | dev | `dev`: dev-only endpoints on; `prod`: dev defaults for secrets refused; no other value |
    | MONGO_URI | (unset) | MongoDB; unset: the local dev wire server, else in-process mongomock |
    | MONGO_DEV_URI | mongodb://127.0.0.1:27017/?directConnection=true | where the runner's dev server listens |
    | REDIS_URL | redis://127.0.0.1:6379/0 | Redis |
    | AMQP_URI | amqp://guest:guest@127.0.0.1:5672/ | RabbitMQ |
    | GRPC_DEADLINE_SECONDS | 3.0 | default deadline of every outgoing gRPC call |
    | LOG_LEVEL | INFO | log level of the JSON logs |
    """

    env: str
    mongo_uri: str | None
    mongo_dev_uri: str
    redis_url: str
    amqp_uri: str
    grpc_deadline_seconds: float
    log_level: str

    @property
    def is_dev(self) -> bool:
        return self.env != "prod"

    @classmethod
    def from_env(cls) -> KitSettings:
        env = env_str("SOCIALMALL_ENV", "dev")
        if env not in ENVIRONMENTS:  # "production" or "Prod" must not quietly mean dev
            raise RuntimeError(f"SOCIALMALL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
        return cls(
            env=env,
            mongo_uri=os.environ.get("MONGO_URI") or None,
            mongo_dev_uri=env_str("MONGO_DEV_URI", "mongodb://127.0.0.1:27017/?directConnection=true"),
            redis_url=env_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
            amqp_uri=env_str("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            grpc_deadline_seconds=env_float("GRPC_DEADLINE_SECONDS", 3.0),
            log_level=env_str("LOG_LEVEL", "INFO"),
        )


ENVIRONMENTS = ("dev", "prod")


def secret(name: str, dev_default: str) -> str:
    """A secret from the environment; in production it must be set, and not to the dev default
    (which is public: it is in this repository)."""
    value = os.environ.get(name)
    if KitSettings.from_env().is_dev:
        return value or dev_default
    if not value:
        raise RuntimeError(f"{name} must be set when SOCIALMALL_ENV=prod")
    if value == dev_default:
        raise RuntimeError(f"{name} is the public development default: refused when SOCIALMALL_ENV=prod")
    return value
