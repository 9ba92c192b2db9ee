"""content use cases: load, apply the domain rules, save."""

from __future__ import annotations

import logging
from typing import Any

from content.documents import Post
from content.domain import posts
from content.retail import SkuSource, require_sku
from mallkit import ids
from mallkit.access import require_user
from mallkit.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)


def create_post(retail: SkuSource, title: str, body: str, sku_ids: list[str]) -> Post:
    """A signed-in user writes a note linking SKUs that retail sells."""
    who = require_user()
    new = posts.check_post(title, body, sku_ids)
    for sku_id in new.sku_ids:
        require_sku(retail, sku_id)
    post = Post(id=ids.new_id("pst"), author_id=who.user_id, title=new.title, body=new.body, sku_ids=new.sku_ids)
    post.save(force_insert=True)
    return post


def get_post(post_id: str) -> Post:
    found = Post.objects(id=post_id).first() if ids.is_valid(post_id) else None
    if found is None:
        raise NotFound(f"post {post_id!r} not found", "post_not_found")
    return found


def count_post_purchase(event: dict[str, Any]) -> bool:
    """Credit the post a retail order_paid event is attributed to; True if this call counted it.

    One conditional update keyed by the order id: a redelivered or re-emitted event for the same
    order matches nothing. A payload no redelivery can fix is logged and dropped, not requeued forever.
    """
    try:
        purchase = posts.attributed_purchase(event["data"])
    except InvalidArgument as exc:
        log.error("dropping order_paid event %s: %s", event["event_id"], exc.message)
        return False
    if purchase is None:
        return False
    counted = Post.objects(id=purchase.post_id, purchase_order_ids__ne=purchase.order_id).update_one(
        push__purchase_order_ids=purchase.order_id, inc__purchases=1
    )
    if not counted:
        log.info("order %s: post %s is unknown or already credited", purchase.order_id, purchase.post_id)
    return bool(counted)
