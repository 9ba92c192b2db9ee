"""Cursor pagination over documents ordered by their string id."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from mallkit.errors import InvalidArgument

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    after_id: str | None
    limit: int


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def check_limit(limit: int) -> int:
    """A page size as asked (0 means the default), refused outside 1..MAX_LIMIT."""
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}", "invalid_limit")
    return limit or DEFAULT_LIMIT


def parse(cursor: str, limit: int) -> Page:
    limit = check_limit(limit)
    if not cursor:
        return Page(None, limit)
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:  # not base64 (binascii.Error), not UTF-8, or not even ASCII ("é")
        raise InvalidArgument("cursor is not one this API returned", "invalid_cursor") from exc
    return Page(after, limit)


def next_cursor(ids: list[str], limit: int) -> str:
    """A cursor for the page after `ids` if the page was full, else empty."""
    return encode_cursor(ids[-1]) if len(ids) == limit else ""


def newest_first(query: Any, page: Page) -> tuple[list[Any], str]:
    """One page of a mongoengine query's documents, newest (highest id) first, and the next cursor."""
    if page.after_id:
        query = query.filter(id__lt=page.after_id)
    found = list(query.order_by("-id").limit(page.limit))
    return found, next_cursor([d.id for d in found], page.limit)
