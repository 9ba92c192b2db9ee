"""Persistence of content records (mongoengine)."""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now


class Post(me.Document):
    id = me.StringField(primary_key=True)
    author_id = me.StringField(required=True)
    title = me.StringField(required=True)
    body = me.StringField(default="")
    sku_ids = me.ListField(me.StringField())
    # Paid orders attributed to this post. The ids are the key that makes counting exactly-once
    # (one conditional update, see service.count_post_purchase); at ~30 bytes each a post holds
    # some 500k of them before MongoDB's 16 MB document limit, far beyond a note's reach.
    purchases = me.IntField(default=0)
    purchase_order_ids = me.ListField(me.StringField())
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "posts"}


DOCUMENTS = [Post]
