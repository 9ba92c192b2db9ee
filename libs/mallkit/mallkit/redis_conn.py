"""Redis from REDIS_URL, for threads (`connect`) and for asyncio (`connect_async`).

Both take one quick retry: redis-py's default retries take ~3.5 s per call while Redis refuses
connections, which would turn a Redis outage into slow requests everywhere.
"""

from __future__ import annotations

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from mallkit.config import KitSettings

OPTIONS = {"decode_responses": True, "socket_timeout": 2, "socket_connect_timeout": 1}


def connect(settings: KitSettings | None = None) -> redis.Redis:
    url = (settings or KitSettings.from_env()).redis_url
    return redis.Redis.from_url(url, retry=Retry(ConstantBackoff(0.05), 1), **OPTIONS)


def connect_async(settings: KitSettings | None = None) -> redis.asyncio.Redis:
    url = (settings or KitSettings.from_env()).redis_url
    return redis.asyncio.Redis.from_url(url, retry=redis.asyncio.retry.Retry(ConstantBackoff(0.05), 1), **OPTIONS)
