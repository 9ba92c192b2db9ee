"""Redis from REDIS_URL."""

from __future__ import annotations

import redis

from mallkit.config import KitSettings


def connect(settings: KitSettings | None = None) -> redis.Redis:
    url = (settings or KitSettings.from_env()).redis_url
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
