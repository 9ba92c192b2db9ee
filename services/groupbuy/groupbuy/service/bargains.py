"""Bargain use cases (砍价): campaigns, starting, helping (cutting), buying, expiring.

Concurrency of helps (many friends opening one shared link at once):

- MongoDB is the truth. A help is ONE conditional write on the Bargain document: it matches
  status active, not expired, helps == k − 1, current == c and the helper not among helper_ids,
  and sets current = c − cut, helps = k, pushes the help record, the helper id and the events
  (outbox). A help that read a stale state matches nothing and re-reads (compare-and-set), so no
  cut is lost or applied twice, seqs are 1..N without gaps or repeats, a user cuts once.
- A Redis lock per bargain (SET NX PX with a random token, released by a Lua compare-and-delete)
  lets helpers take turns instead of 50 of them spinning on CAS retries. It is only an
  optimisation: if Redis is down, slow, or the lock expires mid-help, helpers fall back to plain
  CAS retries and every invariant above still holds.

Daily help limit (per helper, per business day — China's calendar day, mallkit.clock — across
all bargains; an initiator's cut on their own bargain is not a help and takes no slot): a help
first claims a slot HelpQuota `<helper>:<day>:<n>` for the lowest free n in 1..limit (unique
primary key, so two concurrent helps cannot take the same slot and no helper exceeds the
limit). If the help then
fails, its slot is deleted again. Crash window: a process dying between the claim and the give
back (or the cut) leaves the slot taken with no help behind it, so the helper loses one help for
that day; the limit can never be exceeded (fails closed, never open).

New users (campaign `new_users_only`, `new_user_bonus`): a new user is one who never helped any
bargain and never started one. Their first start or help inserts BargainDebut `<user>` (unique);
a help is a new user's help exactly when its own insert created the debut, so two concurrent
first helps cannot both count as new. A help's debut is unconfirmed until a help or a start of
that user succeeds and confirms it (creating it if it is gone); a failed help gives back its
debut only while unconfirmed, so a double tap whose loser inserted the debut cannot undo the
winner's. A crash before the give-back leaves the user no longer new (fails closed). The
initiator's own cut is exempt from new_users_only (they started a bargain, so they are never new).

Buying freezes the price first (status ordering, no more cuts), then places the retail order
with idempotency key = bargain id (a retry returns the same order), then marks the bargain
ordered. A definite refusal by retail thaws it back as it was, but only for the call that froze
it (a double tap's second call may be refused while the first one's order is being made) or
once the freeze is ORDERING_GRACE old (the call that made it is gone); an unavailable retail
leaves it ordering, and the initiator's retry finishes it with the same key and price. A
purchase stopped after retail made the order is recorded by the order's events instead (paid:
ordered; cancelled: expired); one that no retry or event finishes expires with the bargain's time.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import mongoengine as me
import redis as redis_lib

from groupbuy.config import SERVICE
from groupbuy.documents.bargains import Bargain, BargainCampaign, BargainDebut, Help, HelpQuota
from groupbuy.domain import bargains as rules
from groupbuy.domain.bargains import BargainStatus, BargainTerms
from groupbuy.domain.campaigns import CampaignStatus, require_live
from groupbuy.domain.paid_orders import stored_key
from groupbuy.retail import Retail, campaign_sku, place_order
from mallkit import ids, mongo, paging, sweeps
from mallkit.access import ADMIN, BRAND, get_or_404, require_role, require_user
from mallkit.clock import business_day, now
from mallkit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from mallkit.events import new_event
from socialmall.retail.v1 import retail_pb2

log = logging.getLogger(__name__)

LOCK_TTL_MS = 5000  # a help holds the lock for a few ms; the TTL only matters if its process dies
LOCK_WAIT_SECONDS = 5.0  # after this a helper goes on without the lock (CAS still protects)
LOCK_MAX_PAUSE = 0.05
MAX_CAS_ATTEMPTS = 250  # each failed attempt means another help landed; N ≤ 100
ORDERING_GRACE = timedelta(minutes=1)  # far beyond a retail call's deadline
# A purchase that recorded no order this long after its last attempt never will (see _stranded):
# far beyond retail's payment window (30 minutes by default) and any backlog of its events.
STRANDED_AFTER = timedelta(days=1)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# retail's answers that mean "no order was made": the bargain is thawed back as it was
_REFUSALS = (InvalidArgument, NotFound, FailedPrecondition, PermissionDenied, AlreadyExists, ResourceExhausted)

_system_random = random.SystemRandom()


def _event(type_: str, **data: object) -> dict:
    return new_event(SERVICE, type_, data)


# ── campaigns ───────────────────────────────────────────────────────────────────────────────


def create_bargain_campaign(retail: Retail, terms: BargainTerms) -> BargainCampaign:
    """A brand (for its own sellable SKU) or an admin opens a bargain campaign."""
    who = require_role(BRAND, ADMIN)
    terms = rules.check_terms(terms, now())
    sku = campaign_sku(retail, terms.sku_id)
    rules.check_original_price(terms, sku.price_fen)
    campaign = BargainCampaign(
        id=ids.new_id("bgc"),
        owner_id=who.user_id,
        sku_id=terms.sku_id,
        original_price_fen=terms.original_price_fen,
        floor_price_fen=terms.floor_price_fen,
        helpers_needed=terms.helpers_needed,
        expiry_hours=terms.expiry_hours,
        buy_rule=str(terms.buy_rule),
        daily_help_limit=terms.daily_help_limit,
        new_users_only=terms.new_users_only,
        new_user_bonus=terms.new_user_bonus,
        start_time=terms.start_time,
        end_time=terms.end_time,
        created_at=now(),
    )
    campaign.save(force_insert=True)
    return campaign


def get_bargain_campaign(campaign_id: str) -> BargainCampaign:
    """Public: anyone opening a shared link may read the terms."""
    return get_or_404(BargainCampaign, campaign_id, "bargain_campaign")


def campaign_status(campaign: BargainCampaign) -> CampaignStatus:
    return rules.campaign_status(campaign.start_time, campaign.end_time, now())


def list_bargain_campaigns(
    cursor: str, limit: int, sku_id: str = "", status: CampaignStatus | None = None
) -> tuple[list[BargainCampaign], str]:
    """Public, newest first; by SKU and by status (scheduled, live or ended: there are no drafts)."""
    page = paging.parse(cursor, limit)
    query = BargainCampaign.objects(sku_id=sku_id) if sku_id else BargainCampaign.objects
    if status is not None:
        query = query.filter(**_by_clock(status, now()))
    return paging.newest_first(query, page)


def _by_clock(status: CampaignStatus, at: datetime) -> dict[str, object]:
    match status:
        case CampaignStatus.SCHEDULED:
            return {"start_time__gt": at}
        case CampaignStatus.LIVE:
            return {"start_time__lte": at, "end_time__gt": at}
        case CampaignStatus.ENDED:
            return {"end_time__lte": at}
        case _:
            return {"id__in": []}  # a draft: bargain campaigns have none


# ── starting ────────────────────────────────────────────────────────────────────────────────


def start_bargain(campaign_id: str) -> Bargain:
    """The caller starts a bargain at the original price; one open bargain per user per campaign."""
    who = require_user()
    campaign = get_or_404(BargainCampaign, campaign_id, "bargain_campaign")
    at = now()
    require_live(rules.campaign_status(campaign.start_time, campaign.end_time, at))
    open_key = f"{campaign.id}:{who.user_id}"
    existing = Bargain.objects(open_key=open_key).only("id", "status", "expires_at").first()
    # an open bargain whose time ran out but that the sweep has not closed yet does not block
    if existing is not None and not _expired_now(existing, at):
        raise _already_started(existing.id)
    bargain_id = ids.new_id("brg")
    bargain = Bargain(
        id=bargain_id,
        campaign_id=campaign.id,
        sku_id=campaign.sku_id,
        initiator_id=who.user_id,
        original_fen=campaign.original_price_fen,
        floor_fen=campaign.floor_price_fen,
        helpers_needed=campaign.helpers_needed,
        buy_rule=campaign.buy_rule,
        current_fen=campaign.original_price_fen,
        helps=0,
        status=BargainStatus.ACTIVE,
        expires_at=at + timedelta(hours=campaign.expiry_hours),
        created_at=at,
        open_key=open_key,
        outbox=[
            _event(
                "bargain_started",
                bargain_id=bargain_id,
                campaign_id=campaign.id,
                initiator_id=who.user_id,
                original_fen=campaign.original_price_fen,
                floor_fen=campaign.floor_price_fen,
                helpers_needed=campaign.helpers_needed,
            )
        ],
    )
    # debut first: a crash between the two leaves the user "not new" without a bargain (fails closed)
    _confirm_debut(who.user_id, "start", bargain_id, token=bargain_id)
    try:
        bargain.save(force_insert=True)
    except me.NotUniqueError:
        existing = Bargain.objects(open_key=open_key).only("id").first()
        raise _already_started(existing.id if existing else None) from None
    return bargain


def _expired_now(bargain: Bargain, at) -> bool:
    return bargain.status in rules.EXPIRABLE and rules.is_past(bargain.expires_at, at) and _expire(bargain.id)


def _already_started(bargain_id: str | None) -> AlreadyExists:
    """`bargain_id` None: the open one was bought or expired between the insert and the read; the
    caller may simply start again."""
    if bargain_id is None:
        return AlreadyExists("you already had a bargain open in this campaign; try again", "already_started")
    return AlreadyExists(
        f"you already have bargain {bargain_id} open in this campaign", "already_started", {"bargain_id": bargain_id}
    )


def get_bargain(bargain_id: str) -> Bargain:
    """Public: friends open the shared link without necessarily being signed in."""
    return get_or_404(Bargain, bargain_id, "bargain")


def shown_status(bargain: Bargain) -> BargainStatus:
    return rules.shown_status(bargain.status, bargain.helps, bargain.helpers_needed, bargain.expires_at, now())


# ── helping ─────────────────────────────────────────────────────────────────────────────────


def help_bargain(
    bargain_id: str, *, redis: redis_lib.Redis | None = None, rng: random.Random | None = None
) -> tuple[Help, Bargain]:
    """One cut by the caller. Every refusal leaves the bargain, the quota and the debut as they were."""
    who = require_user()
    bargain = get_or_404(Bargain, bargain_id, "bargain")
    at = now()
    rules.check_can_be_helped(bargain.status, bargain.expires_at, at)
    rules.check_not_helped(who.user_id, bargain.helper_ids)
    campaign = BargainCampaign.objects.get(id=bargain.campaign_id)
    own_cut = who.user_id == bargain.initiator_id  # cutting one's own bargain is not helping a friend
    restricted = campaign.new_users_only and not own_cut
    if restricted and BargainDebut.objects(id=who.user_id).only("id").first():
        rules.check_new_user(False)  # refused before any write
    quota = None if own_cut else _claim_quota(who.user_id, business_day(at), campaign.daily_help_limit, bargain.id)
    token = uuid.uuid4().hex
    is_new = False
    try:
        debut = BargainDebut(id=who.user_id, kind="help", bargain_id=bargain.id, token=token, confirmed=False)
        is_new = mongo.insert_once(debut)
        if restricted:
            rules.check_new_user(is_new)
        with bargain_lock(redis, bargain.id):
            landed = _cut(
                bargain.id, who.user_id, at, rng or _system_random, new_user=is_new, bonus=campaign.new_user_bonus
            )
    except BaseException:
        if is_new:
            BargainDebut.objects(id=who.user_id, token=token, confirmed=False).delete()
        if quota is not None:
            HelpQuota.objects(id=quota.id, bargain_id=bargain.id).delete()
        raise
    _confirm_debut(who.user_id, "help", bargain.id, token)
    return landed


def _confirm_debut(user_id: str, kind: str, bargain_id: str, token: str) -> None:
    """The user is not new from now on: their debut is confirmed, inserted if missing."""
    try:
        BargainDebut.objects(id=user_id).update_one(
            set__confirmed=True,
            set_on_insert__kind=kind,
            set_on_insert__bargain_id=bargain_id,
            set_on_insert__token=token,
            set_on_insert__created_at=now(),
            upsert=True,
        )
    except me.NotUniqueError:  # a concurrent upsert inserted it first
        BargainDebut.objects(id=user_id).update_one(set__confirmed=True)


def _claim_quota(helper_id: str, day: str, limit: int, bargain_id: str) -> HelpQuota:
    """The helper's lowest free slot of the day in 1..limit, or daily_help_limit_reached."""
    taken = {q.n for q in HelpQuota.objects(helper_id=helper_id, day=day).only("n")}
    for n in range(1, limit + 1):
        if n in taken:
            continue
        quota = HelpQuota(id=f"{helper_id}:{day}:{n}", helper_id=helper_id, day=day, n=n, bargain_id=bargain_id)
        if mongo.insert_once(quota):
            return quota
    # a business limit, not a rate limit: a 429's Retry-After would invite retries until tomorrow
    raise FailedPrecondition(
        f"you may help {limit} bargains a day; try again tomorrow (China time)", "daily_help_limit_reached"
    )


def _cut(
    bargain_id: str, helper_id: str, at, rng: random.Random, *, new_user: bool, bonus: bool
) -> tuple[Help, Bargain]:
    """Compare-and-set the next cut onto the bargain; re-read and retry when another help won."""
    for _ in range(MAX_CAS_ATTEMPTS):
        seen = Bargain.objects.exclude("outbox", "help_log").get(id=bargain_id)
        rules.check_can_be_helped(seen.status, seen.expires_at, at)
        rules.check_not_helped(helper_id, seen.helper_ids)
        seq = seen.helps + 1
        cut = rules.next_cut(seen.current_fen, seen.floor_fen, seq, seen.helpers_needed, rng, bonus=bonus and new_user)
        after = seen.current_fen - cut
        help_ = Help(helper_id=helper_id, seq=seq, cut_fen=cut, price_after_fen=after, new_user=new_user, created_at=at)
        events = [
            _event(
                "bargain_helped",
                bargain_id=bargain_id,
                helper_id=helper_id,
                seq=seq,
                cut_fen=cut,
                price_after_fen=after,
            )
        ]
        updates: dict[str, object] = {}
        if seq == seen.helpers_needed:
            events.append(
                _event(
                    "bargain_completed",
                    bargain_id=bargain_id,
                    campaign_id=seen.campaign_id,
                    initiator_id=seen.initiator_id,
                    price_fen=after,
                    helps=seq,
                )
            )
            updates = {"set__status": BargainStatus.COMPLETED.value, "set__completed_at": at}
        landed = Bargain.objects(
            id=bargain_id,
            status=BargainStatus.ACTIVE.value,
            expires_at__gt=at,
            helps=seq - 1,
            current_fen=seen.current_fen,
            helper_ids__ne=helper_id,
        ).modify(
            new=True,
            set__current_fen=after,
            set__helps=seq,
            push__help_log=help_,
            push__helper_ids=helper_id,
            push_all__outbox=events,
            **updates,
        )
        if landed is not None:
            log.info("bargain %s cut %d by %s (%d/%d)", bargain_id, cut, helper_id, seq, seen.helpers_needed)
            return help_, landed
    raise Unavailable("too many helps at once on this bargain; try again", "bargain_busy")


@contextmanager
def bargain_lock(redis: redis_lib.Redis | None, bargain_id: str) -> Iterator[bool]:
    """Hold the bargain's Redis lock while cutting, if Redis gives it in time; yields whether held."""
    key, token = f"groupbuy:bargain-lock:{bargain_id}", uuid.uuid4().hex
    held = _acquire(redis, key, token) if redis is not None else False
    try:
        yield held
    finally:
        if held:
            try:
                redis.eval(_RELEASE, 1, key, token)  # only our own lock: it may have expired and moved on
            except redis_lib.RedisError as exc:
                log.warning("could not release %s (expires by itself): %r", key, exc)


def _acquire(redis: redis_lib.Redis, key: str, token: str) -> bool:
    deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, 0.002
    try:
        while not redis.set(key, token, nx=True, px=LOCK_TTL_MS):
            if time.monotonic() > deadline:
                log.warning("waited %.1fs for %s; cutting without it", LOCK_WAIT_SECONDS, key)
                return False
            # back off (with jitter) so fifty waiters do not starve the holder of CPU
            time.sleep(_system_random.uniform(pause / 2, pause))
            pause = min(pause * 2, LOCK_MAX_PAUSE)
    except redis_lib.RedisError as exc:
        log.warning("no bargain lock (%r); cutting on compare-and-set alone", exc)
        return False
    return True


def list_my_bargains(cursor: str, limit: int) -> tuple[list[Bargain], str]:
    """The caller's bargains, newest first, whatever became of them."""
    who = require_user()
    mine = Bargain.objects(initiator_id=who.user_id).exclude("outbox", "help_log")
    return paging.newest_first(mine, paging.parse(cursor, limit))


def list_bargain_helps(bargain_id: str, cursor: str, limit: int) -> tuple[list[Help], str]:
    """Public: a bargain's helps in seq order, helper ids included."""
    page = paging.parse(cursor, limit)
    after = 0
    if page.after_id:
        if not re.fullmatch(r"[0-9]{1,9}", page.after_id):
            raise InvalidArgument("cursor is not one this API returned", "invalid_cursor")
        after = int(page.after_id)
    bargain = get_or_404(Bargain, bargain_id, "bargain")
    found = [h for h in bargain.help_log if h.seq > after][: page.limit]
    return found, paging.next_cursor([str(h.seq) for h in found], page.limit)


# ── buying ──────────────────────────────────────────────────────────────────────────────────


def buy_bargain(retail: Retail, bargain_id: str) -> Bargain:
    """The initiator's retail order at the bargain's price; a second call returns the same order."""
    who = require_user()
    bargain = get_or_404(Bargain, bargain_id, "bargain")
    rules.check_initiator(bargain.initiator_id, who.user_id)
    attempts, token = 0, uuid.uuid4().hex
    while bargain.status not in (BargainStatus.ORDERED, BargainStatus.ORDERING):
        attempts += 1
        if attempts > 5:
            raise Unavailable("the bargain keeps changing; try again", "bargain_busy")
        at = now()
        rules.check_can_buy(bargain.buy_rule, bargain.status, bargain.expires_at, at)
        # freeze the price: from here on no cut lands (cuts need status active)
        frozen = Bargain.objects(id=bargain.id, status=bargain.status, helps=bargain.helps, expires_at__gt=at).modify(
            new=True,
            set__status=BargainStatus.ORDERING.value,
            set__order_price_fen=bargain.current_fen,
            set__ordering_token=token,
            set__ordering_since=at,
            set__attempted_at=at,
        )
        bargain = frozen or bargain.reload()  # a cut landed meanwhile: decide again on the new state
    if bargain.status == BargainStatus.ORDERED:
        return bargain
    if bargain.ordering_token != token and not _attempted_again(bargain.id):
        bargain.reload()
        if bargain.status == BargainStatus.ORDERED:
            return bargain
        raise Unavailable("the bargain changed during the purchase; try again", "bargain_busy")
    try:
        order = place_order(
            retail,
            sku_id=bargain.sku_id,
            quantity=1,
            unit_price_fen=bargain.order_price_fen,
            idempotency_key=bargain.id,
            bargain_id=bargain.id,
        )
    except (*_REFUSALS, Unauthenticated):
        # retail made no order for this call: thaw the price if the freeze is ours or abandoned
        if bargain.ordering_token == token or _abandoned(bargain):
            previous = BargainStatus.COMPLETED if bargain.helps >= bargain.helpers_needed else BargainStatus.ACTIVE
            # a freeze from before freezes carried a token has none stored ("" is the default read)
            token_now = [bargain.ordering_token] if bargain.ordering_token else ["", None]
            Bargain.objects(
                id=bargain.id, status=BargainStatus.ORDERING.value, ordering_token__in=token_now
            ).update_one(
                set__status=previous.value,
                set__order_price_fen=0,
                set__ordering_token="",
                set__ordering_since=None,
                set__attempted_at=None,
            )
        raise
    if order.status == retail_pb2.ORDER_STATUS_CANCELLED:  # this key's order timed out unpaid meanwhile
        order_cancelled(bargain.id, order.id, who.user_id)
        raise FailedPrecondition("the bargain's order was cancelled unpaid; the bargain is lost", "bargain_expired")
    Bargain.objects(id=bargain.id, status=BargainStatus.ORDERING.value).update_one(**_ordered(bargain.id, order.id))
    log.info("bargain %s ordered at %d fen: order %s", bargain.id, bargain.order_price_fen, order.id)
    return bargain.reload()


def _attempted_again(bargain_id: str) -> bool:
    """A retry of a purchase another call froze is dated, so that the order it may make gets its
    whole payment window before the expiry sweep counts the bargain stranded. False if the bargain
    is no longer frozen."""
    frozen = Bargain.objects(id=bargain_id, status=BargainStatus.ORDERING.value, order_id="")
    return bool(frozen.update_one(set__attempted_at=now()))


def _ordered(bargain_id: str, order_id: str) -> dict[str, object]:
    """What recording a bargain's order writes: it is bought, and its open key frees the campaign."""
    return {
        "set__status": BargainStatus.ORDERED.value,
        "set__order_id": order_id,
        "set__ordered_at": now(),
        "set__open_key": f"x:{bargain_id}",
    }


def order_paid(bargain_id: str, order_id: str, buyer_id: str, order_key: str) -> bool:
    """retail took the payment for a bargain's order that its purchase call never recorded (the
    call stopped after retail made the order; the initiator paid it from their order list): the
    bargain is ordered. Only the order a purchase made counts (its key; the initiator's), not any
    other order someone attributed to the bargain. True if it changed."""
    if order_key != stored_key(SERVICE, bargain_id):
        return False
    frozen = Bargain.objects(id=bargain_id, initiator_id=buyer_id, status=BargainStatus.ORDERING.value, order_id="")
    return bool(frozen.update_one(**_ordered(bargain_id, order_id)))


def order_cancelled(bargain_id: str, order_id: str, buyer_id: str) -> bool:
    """retail cancelled a bargain's order unpaid (its payment timed out): the bargain is lost, as
    if it had expired, and its initiator may start another (retail keeps answering the bargain's
    idempotency key with the cancelled order, so it cannot be bought again). Also a bargain still
    frozen for its purchase whose order was never recorded (the call that made it stopped short).
    Only the initiator's order counts: anyone may attribute an order of theirs to a bargain id.
    True if it changed."""
    expire = _expiry(bargain_id, now())
    mine = Bargain.objects(id=bargain_id, initiator_id=buyer_id)
    return bool(
        mine.filter(status=BargainStatus.ORDERED.value, order_id=order_id).update_one(**expire)
        or mine.filter(status=BargainStatus.ORDERING.value, order_id="").update_one(**expire)
    )


def _abandoned(bargain: Bargain) -> bool:
    """Last attempted so long ago that every call buying it is gone (or frozen before freezes were dated)."""
    return bargain.ordering_since is None or bargain.ordering_since <= now() - ORDERING_GRACE


# ── expiry ──────────────────────────────────────────────────────────────────────────────────


def expire_due(limit: int = 500) -> int:
    """Close up to `limit` active or completed (not ordered) bargains past expires_at, and as many
    stranded in their purchase; returns how many."""
    due = Bargain.objects(status__in=[s.value for s in rules.EXPIRABLE], expires_at__lte=now()).only("id")
    expired = sweeps.each(due.limit(limit), lambda bargain: _expire(bargain.id), what="expiry of bargain")
    stranded = _stranded(now()).only("id").limit(limit)
    return expired + sweeps.each(stranded, lambda bargain: _expire_stranded(bargain.id), what="stranded bargain")


def _stranded(at: datetime) -> me.QuerySet:
    """Bargains past their time, frozen for a purchase last attempted STRANDED_AFTER ago or more
    that recorded no order: retail made none (it was down, and the initiator never tried again), or
    made one whose payment or cancellation would have been recorded by now (order_paid,
    order_cancelled)."""
    cut = at - STRANDED_AFTER
    # a freeze from before attempts were dated counts from the freeze, or from nothing if undated too
    undated = me.Q(attempted_at=None) & (me.Q(ordering_since__lte=cut) | me.Q(ordering_since=None))
    attempted_long_ago = me.Q(attempted_at__lte=cut) | undated
    return Bargain.objects(attempted_long_ago, status=BargainStatus.ORDERING.value, order_id="", expires_at__lte=at)


def _expire_stranded(bargain_id: str) -> bool:
    """Conditional: an order recorded meanwhile keeps the bargain."""
    at = now()
    return bool(_stranded(at).filter(id=bargain_id).update_one(**_expiry(bargain_id, at)))


def _expire(bargain_id: str) -> bool:
    """Conditional: a cut or a purchase that won the race keeps the bargain as it is."""
    at = now()
    return bool(
        Bargain.objects(id=bargain_id, status__in=[s.value for s in rules.EXPIRABLE], expires_at__lte=at).update_one(
            **_expiry(bargain_id, at)
        )
    )


def _expiry(bargain_id: str, at: datetime) -> dict[str, object]:
    """What expiring a bargain writes: it is over, and its open key frees the campaign for a new one."""
    return {"set__status": BargainStatus.EXPIRED.value, "set__expired_at": at, "set__open_key": f"x:{bargain_id}"}
