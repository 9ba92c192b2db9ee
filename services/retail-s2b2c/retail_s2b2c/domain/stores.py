"""Micro-store rules: opening, share codes, store prices, and consumer bindings.

Compliance (anti-pyramid, see ARCHITECTURE.md): opening a store is FREE. There is no fee, no deposit
and no required purchase of any kind, with or without an invite code — "buy goods to qualify" is an
entry fee, which the law forbids. An invite code only records who invited whom (the upline) for the
two paid levels of *consumer sales* commission; nobody is ever paid for the invitation itself.

The upline is set once, when a store opens, to the owner of an already existing store, and never
changes afterwards. A user has no store until the insert that opens it, so nobody can invite
themselves, and a newer store can never become the upline of an older one: the upline graph is a
forest (no cycles) by construction.

Binding: a consumer arriving through a share code is bound to that store when they have no live
binding (first arrival wins). A binding lasts `window_days` (renewed on each purchase through the
bound store) or forever when the window is 0. An expired binding counts as none: the next arrival binds.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from mallkit.errors import FailedPrecondition, InvalidArgument

NAME_MAX = 30
INTRO_MAX = 200
URL_MAX = 500
# no 0/O, 1/I/L: codes are read aloud and typed from posters. 31^8 ≈ 8.5e11 codes, drawn with `secrets`.
SHARE_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SHARE_CODE_LENGTH = 8
SHARE_CODE_PATTERN = re.compile(rf"^[{SHARE_CODE_ALPHABET}]{{{SHARE_CODE_LENGTH}}}$")
_URL = re.compile(r"^https?://\S+$")


def new_share_code(choice: Callable[[str], str] = secrets.choice) -> str:
    """An unguessable code (a CSPRNG draw, not derived from any id)."""
    return "".join(choice(SHARE_CODE_ALPHABET) for _ in range(SHARE_CODE_LENGTH))


def normalize_share_code(value: str) -> str | None:
    """The code as stored (codes are case-insensitive when typed), or None if it cannot be one."""
    code = value.strip().upper()
    return code if SHARE_CODE_PATTERN.match(code) else None


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidArgument(f"a store name is 1..{NAME_MAX} characters", "invalid_name")
    return name


def check_profile(avatar_url: str, intro: str) -> tuple[str, str]:
    avatar_url, intro = avatar_url.strip(), intro.strip()
    if avatar_url and (len(avatar_url) > URL_MAX or not _URL.match(avatar_url)):
        raise InvalidArgument(f"the avatar is an http(s) URL of at most {URL_MAX} characters", "invalid_avatar_url")
    if len(intro) > INTRO_MAX:
        raise InvalidArgument(f"the intro is at most {INTRO_MAX} characters", "invalid_intro")
    return avatar_url, intro


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def check_store_price(price_fen: int, price_min_fen: int, price_max_fen: int) -> int:
    """A store sells a SKU at its own price, inside the brand's band (never below the supply price)."""
    if not price_min_fen <= price_fen <= price_max_fen:
        raise InvalidArgument(
            f"the price {yuan(price_fen)} is outside this SKU's band {yuan(price_min_fen)}–{yuan(price_max_fen)}",
            "price_outside_band",
        )
    return price_fen


def check_not_own_store(store_owner_id: str, consumer_id: str) -> None:
    """A store owner cannot be their own bound consumer (they would earn commission on their own buys)."""
    if store_owner_id == consumer_id:
        raise FailedPrecondition("you cannot bind to your own store", "self_binding")


def binding_expiry(at: datetime, window_days: int) -> datetime | None:
    """When a binding made (or renewed) at `at` ends; None (permanent) when the window is 0."""
    if window_days < 0:
        raise ValueError("the binding window is 0 (permanent) or a positive number of days")
    return None if window_days == 0 else at + timedelta(days=window_days)


def is_live(expires_at: datetime | None, at: datetime) -> bool:
    """A binding holds until its expiry instant (exclusive); a permanent one always holds."""
    return expires_at is None or at < expires_at


def renewed_expiry(expires_at: datetime | None, at: datetime, window_days: int) -> datetime | None:
    """A purchase through the bound store restarts the window; a permanent binding stays permanent."""
    return None if expires_at is None else binding_expiry(at, window_days)
