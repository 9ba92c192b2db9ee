"""Tracked links: short codes, where a click lands, and how unique visitors are counted."""

from __future__ import annotations

import re
import secrets
import string
from datetime import date

from mallkit.errors import InvalidArgument

CODE_ALPHABET = string.digits + string.ascii_letters  # base62
CODE_LENGTH = 7
_CODE = re.compile(f"^[0-9A-Za-z]{{{CODE_LENGTH}}}$")

MAX_VISITOR_ID = 128
UV_TTL_SECONDS = 3 * 24 * 3600  # a day's HyperLogLog is kept 3 days


def new_code() -> str:
    """A fresh random short code (uniqueness is the database's unique index)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_code(code: str) -> str:
    if not _CODE.match(code):
        raise InvalidArgument(f"a link code is {CODE_LENGTH} letters or digits", "invalid_code")
    return code


def check_visitor_id(visitor_id: str) -> str:
    """Opaque (cookie or device id); empty for an anonymous visitor, who counts as a click but not a UV."""
    visitor_id = visitor_id.strip()
    if len(visitor_id) > MAX_VISITOR_ID:
        raise InvalidArgument(f"visitor id is longer than {MAX_VISITOR_ID} characters", "invalid_visitor_id")
    return visitor_id


def target_url(public_base_url: str, sku_id: str, link_id: str) -> str:
    """The product page, carrying the link id so the order can be attributed to it."""
    return f"{public_base_url.rstrip('/')}/api/v1/skus/{sku_id}?kol_link={link_id}"


def uv_key(link_id: str, day: date) -> str:
    """Redis HyperLogLog of one link's unique visitors on one UTC day."""
    return f"guide:uv:{link_id}:{day:%Y%m%d}"
