"""Bargain campaigns, bargains (with their helps), daily help quotas and users' bargain debuts.

MongoDB is the truth for every rule that must hold under concurrency:

- Bargain.open_key `<campaign>:<initiator>` (unique) while the bargain is open (active, completed or
  being bought): one open bargain per user per campaign. Ordered or expired bargains set it to
  `x:<bargain id>`, which frees the place in the same single-document write.
- A help is one conditional write on the Bargain (compare-and-set on helps == k − 1 and
  current == c, status active, not expired, helper not in helper_ids) that sets the new price,
  helps = k, pushes the help, the helper and the events. The embedded list is bounded by N ≤ 100.
  So two helps never get the same seq, no cut is lost or doubled, and a user helps a bargain once.
- HelpQuota `<helper>:<business day>:<n>` (primary key), n in 1..limit: a helper's n-th help of the day.
- BargainDebut `<user>` (primary key): the first time a user started or helped any bargain; a
  help that inserts it is a new user's help.
"""

from __future__ import annotations

import mongoengine as me

from mallkit.clock import now
from mallkit.outbox import OutboxDocument


class BargainCampaign(me.Document):
    id = me.StringField(primary_key=True)
    owner_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    original_price_fen = me.IntField(required=True, min_value=2)
    floor_price_fen = me.IntField(required=True, min_value=1)
    helpers_needed = me.IntField(required=True, min_value=1)
    expiry_hours = me.IntField(required=True)
    buy_rule = me.StringField(required=True)  # domain.bargains.BuyRule
    daily_help_limit = me.IntField(required=True)
    new_users_only = me.BooleanField(default=False)
    new_user_bonus = me.BooleanField(default=False)
    start_time = me.DateTimeField(required=True)
    end_time = me.DateTimeField(required=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "bargain_campaigns", "indexes": [("sku_id", "-id"), "owner_id"]}


class Help(me.EmbeddedDocument):
    helper_id = me.StringField(required=True)
    seq = me.IntField(required=True)  # 1..N
    cut_fen = me.IntField(required=True)
    price_after_fen = me.IntField(required=True)
    new_user = me.BooleanField(default=False)
    created_at = me.DateTimeField(required=True)


class Bargain(OutboxDocument):
    id = me.StringField(primary_key=True)
    campaign_id = me.StringField(required=True)
    sku_id = me.StringField(required=True)
    initiator_id = me.StringField(required=True)
    # the campaign's terms, copied at the start so a bargain is decided from its own document
    original_fen = me.IntField(required=True)
    floor_fen = me.IntField(required=True)
    helpers_needed = me.IntField(required=True)
    buy_rule = me.StringField(required=True)
    current_fen = me.IntField(required=True)
    helps = me.IntField(default=0)  # == len(help_log)
    help_log = me.EmbeddedDocumentListField(Help, default=list)
    helper_ids = me.ListField(me.StringField(), default=list)
    status = me.StringField(required=True)  # domain.bargains.BargainStatus
    expires_at = me.DateTimeField(required=True)
    created_at = me.DateTimeField(default=now)
    completed_at = me.DateTimeField(null=True)
    order_price_fen = me.IntField(default=0)  # frozen when buying starts
    # the buy call that froze it, and when: only that call may thaw it, or any once it is stale
    ordering_token = me.StringField(default="")
    ordering_since = me.DateTimeField(null=True)
    attempted_at = me.DateTimeField(null=True)  # the purchase's last attempt, freeze or retry
    order_id = me.StringField(default="")
    ordered_at = me.DateTimeField(null=True)
    expired_at = me.DateTimeField(null=True)
    open_key = me.StringField(required=True, unique=True)
    meta = {
        "collection": "bargains",
        "indexes": [("status", "expires_at"), ("initiator_id", "-id"), "helper_ids", "campaign_id", "order_id"],
    }


class HelpQuota(me.Document):
    """One of a helper's daily help slots, taken by one bargain (deleted again if the help failed)."""

    id = me.StringField(primary_key=True)  # `<helper>:<day>:<n>`
    helper_id = me.StringField(required=True)
    day = me.StringField(required=True)  # the business day (mallkit.clock), YYYY-MM-DD
    n = me.IntField(required=True)
    bargain_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "bargain_help_quotas", "indexes": [("helper_id", "day")]}


class BargainDebut(me.Document):
    """A user's first bargain action (a start or a help): from then on they are not a new user."""

    id = me.StringField(primary_key=True)  # the user id
    kind = me.StringField(required=True)  # "start" or "help"
    bargain_id = me.StringField(default="")
    token = me.StringField(required=True)  # who inserted it, to give it back only if it is ours
    # false while the help that inserted it is still under way; any start or help that succeeds
    # confirms it, and only an unconfirmed debut is given back
    confirmed = me.BooleanField(default=True)
    created_at = me.DateTimeField(default=now)
    meta = {"collection": "bargain_debuts"}
