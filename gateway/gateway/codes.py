"""One-time codes that prove a phone: 6 digits, kept hashed in Redis for CODE_TTL_SECONDS, burnt by
a correct guess or after CODE_MAX_ATTEMPTS wrong ones (checked and counted atomically in Lua).

CODE_SENDER=log (dev only) writes the code to the log and keeps a readable copy for
`GET /api/v1/dev/codes/{phone}`; production needs an SMS adapter here (CODE_SENDER=none answers 503).
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from gateway import security
from gateway.settings import GatewaySettings
from mallkit.errors import Unauthenticated, Unavailable

log = logging.getLogger("gateway.codes")

PREFIX = "gw:code:"
DEV_PREFIX = "gw:code-dev:"
VERIFY = """
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then return -1 end
if digest == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return 1 end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
"""


class Codes:
    def __init__(self, cache: aioredis.Redis, settings: GatewaySettings) -> None:
        self._cache = cache
        self._settings = settings
        self._key = security.derived_key(settings.jwt_secret, "one-time-codes")
        self._verify = cache.register_script(VERIFY)

    async def send(self, phone: str) -> None:
        if self._settings.code_sender == "none":
            raise Unavailable("sending codes is not configured on this server", "code_sender_not_configured")
        code = security.new_code()
        ttl_ms = self._settings.code_ttl * 1000
        async with self._cache.pipeline(transaction=True) as pipe:
            pipe.delete(PREFIX + phone)  # a new code replaces the old one and its attempt count
            pipe.hset(PREFIX + phone, mapping={"digest": security.code_digest(self._key, phone, code), "attempts": 0})
            pipe.pexpire(PREFIX + phone, ttl_ms)
            if self._settings.is_dev:
                pipe.set(DEV_PREFIX + phone, code, px=ttl_ms)
            await pipe.execute()
        log.info("one-time code for %s: %s (dev: CODE_SENDER=log)", phone, code, extra={"phone": phone})

    async def verify(self, phone: str, code: str) -> None:
        """Spend the phone's code, or raise 401: wrong, expired, or burnt by too many guesses."""
        digest = security.code_digest(self._key, phone, code)
        keys = [PREFIX + phone, DEV_PREFIX + phone]
        outcome = await self._verify(keys=keys, args=[digest, self._settings.code_max_attempts])
        if outcome == 1:
            return
        if outcome == -1:
            raise Unauthenticated("no valid code for this phone; ask for a new one", "code_expired")
        raise Unauthenticated("the code is wrong", "invalid_code")

    async def peek(self, phone: str) -> tuple[str, int] | None:
        """Dev only: the phone's current code and its remaining seconds."""
        async with self._cache.pipeline(transaction=False) as pipe:
            pipe.get(DEV_PREFIX + phone)
            pipe.pttl(DEV_PREFIX + phone)
            code, ttl_ms = await pipe.execute()
        return (code, max(1, int(ttl_ms) // 1000)) if code else None
