"""Post rules (种草 notes): what a valid post is, and which purchases it is credited with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mallkit import ids
from mallkit.errors import InvalidArgument

MAX_TITLE = 100
MAX_BODY = 5000
MAX_SKUS = 9


@dataclass(frozen=True)
class NewPost:
    title: str
    body: str
    sku_ids: list[str]


def check_post(title: str, body: str, sku_ids: list[str]) -> NewPost:
    """Title 1..100 characters (trimmed), body up to 5000, 1..9 distinct SKUs in the author's order."""
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise InvalidArgument(f"a title has 1..{MAX_TITLE} characters", "invalid_title")
    if len(body) > MAX_BODY:
        raise InvalidArgument(f"a body has at most {MAX_BODY} characters", "invalid_body")
    if not 1 <= len(sku_ids) <= MAX_SKUS:
        raise InvalidArgument(f"a post links 1..{MAX_SKUS} SKUs", "invalid_sku_ids")
    if not all(ids.is_valid(s) for s in sku_ids):
        raise InvalidArgument("every linked SKU needs an id", "invalid_sku_id")
    if len(set(sku_ids)) != len(sku_ids):
        raise InvalidArgument("each SKU may be linked once", "duplicate_sku_id")
    return NewPost(title, body, list(sku_ids))


@dataclass(frozen=True)
class AttributedPurchase:
    order_id: str
    post_id: str


def attributed_purchase(data: dict[str, Any]) -> AttributedPurchase | None:
    """The post an order_paid event credits, or None when the order came from no post.

    A payload no redelivery can fix raises InvalidArgument `malformed_event`.
    """
    try:
        order_id = data["order_id"]
        post_id = (data.get("attribution") or {}).get("post_id") or ""
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidArgument(f"order_paid data lacks {exc}", "malformed_event") from exc
    if not isinstance(order_id, str) or not order_id or not isinstance(post_id, str):
        raise InvalidArgument("order_paid needs a string order_id and attribution.post_id", "malformed_event")
    return AttributedPurchase(order_id, post_id) if post_id else None
