"""Rate limits in Redis: GCRA (a token bucket kept as one timestamp per key) in one Lua script.

`hit((limit, key), ...)` charges one request to every bucket, or to none if any is empty, in a single
atomic round trip, with Redis's own clock; a refusal is a 429 whose Retry-After says when the
request would pass. Buckets: every /api/v1 request per client IP and per signed-in user; sign-in
attempts per IP and per phone; code sending per IP and per phone (`gateway.settings.RateLimits`).
"""

from __future__ import annotations

import hashlib
import logging
import math

import redis.asyncio as aioredis
import redis.exceptions

from gateway.settings import Limit
from mallkit.errors import ResourceExhausted

log = logging.getLogger("gateway.ratelimit")

PREFIX = "gw:rl:"
# KEYS: buckets. ARGV: per bucket, the emission interval and the window, in microseconds.
# A bucket stores its theoretical arrival time (TAT); a request fits if TAT + interval - window <= now.
GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allow_at = tat + interval - window
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
end
return 0
"""


class RateLimited(ResourceExhausted):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after} s", "rate_limited")
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    def __init__(self, cache: aioredis.Redis) -> None:
        self._script = cache.register_script(GCRA)

    async def hit(self, *buckets: tuple[Limit | None, str], fail_open: bool = False) -> None:
        """Charge one request to each `(limit, key)`; `None` limits are off.

        With `fail_open`, an unreachable Redis lets the request through (logged): the general limits
        must not turn a Redis outage into a full outage. Sign-in and code limits fail closed (503)."""
        active = [(limit, key) for limit, key in buckets if limit is not None]
        if not active:
            return
        args: list[int] = []
        for limit, _ in active:
            window = int(limit.seconds * 1_000_000)
            args += [window // limit.count, window]
        try:
            wait_us = int(await self._script(keys=[PREFIX + key for _, key in active], args=args))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if not fail_open:
                raise
            log.warning("rate limits not checked, Redis unavailable: %r", exc)
            return
        if wait_us > 0:
            raise RateLimited(max(1, math.ceil(wait_us / 1_000_000)))


def subject(kind: str, value: str) -> str:
    """A bucket key; values are hashed so phones and addresses do not sit in Redis in the clear."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"
