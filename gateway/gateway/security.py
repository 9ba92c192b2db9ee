"""Secrets at rest: password hashes (argon2id), refresh tokens and one-time codes (stored only hashed).

Passwords use argon2id with OWASP's minimum profile (19 MiB, 2 passes, 1 lane: ~50 ms here);
a hash made with older parameters is upgraded at the next successful login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import argon2

_hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when a phone has no account or no password, so a miss costs as long as a wrong password
# and the response time does not tell which phones are registered.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

REFRESH_TOKEN_PREFIX = "rt_"
CODE_DIGITS = 6


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_refresh_token() -> str:
    """An opaque 256-bit token; only its sha256 is stored."""
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(key: bytes, phone: str, code: str) -> str:
    """Keyed, so a leaked Redis does not give the code away by hashing all 10^6 candidates."""
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def derived_key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
