"""Redis from REDIS_URL."""

from __future__ import annotations

import redis
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from mallkit.config import KitSettings


def connect(settings: KitSettings | None = None) -> redis.Redis:
    """One quick retry: redis-py's default retries take ~3.5 s per call while Redis refuses
    connections, which would turn a Redis outage into slow requests everywhere."""
    url = (settings or KitSettings.from_env()).redis_url
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=1,
        retry=Retry(ConstantBackoff(0.05), 1),
    )
