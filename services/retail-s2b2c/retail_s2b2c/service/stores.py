"""Micro-store use cases: open and edit a store, list SKUs at the store's own prices, share, bind.

The rules are in `domain.stores` (opening is free: no fee, no required purchase; the upline is set
once at opening, so no cycles). Checkout (service.orders) calls three functions from here:

- `store_price_fen(store_id, sku_id)`: what the store sells the SKU at;
- `bound_store_id(consumer_id)`: the store a consumer is bound to right now, if any;
- `renew_binding(consumer_id, store_id)`: after a purchase through the bound store.
"""

from __future__ import annotations

from dataclasses import dataclass

import mongoengine as me

from mallkit import ids, mongo, paging
from mallkit.access import require_user
from mallkit.clock import now
from mallkit.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied, Unavailable
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.catalog import Product, Sku
from retail_s2b2c.documents.stores import Binding, Store, StoreProduct
from retail_s2b2c.domain import stores as rules

SHARE_CODE_ATTEMPTS = 5


# ── stores ──────────────────────────────────────────────────────────────────────────────────────


def _store_or_404(store_id: str) -> Store:
    store = Store.objects(id=store_id).first() if ids.is_valid(store_id) else None
    if store is None:
        raise NotFound(f"store {store_id!r} not found", "store_not_found")
    return store


def _owned_store(store_id: str) -> Store:
    who = require_user()
    store = _store_or_404(store_id)
    if store.owner_id != who.user_id:
        raise PermissionDenied("only the store's owner changes it", "not_store_owner")
    return store


def _store_by_code(code: str) -> Store | None:
    normalized = rules.normalize_share_code(code)
    return Store.objects(share_code=normalized).first() if normalized else None


def open_store(name: str, avatar_url: str = "", intro: str = "", invite_code: str = "") -> Store:
    """Free, one per user. With an invite code (another store's share code) its owner is the upline."""
    who = require_user()
    name = rules.check_name(name)
    avatar_url, intro = rules.check_profile(avatar_url, intro)
    upline = ""
    if invite_code.strip():
        inviter = _store_by_code(invite_code)
        if inviter is None:
            raise NotFound("no store has this invite code", "invite_code_not_found")
        upline = inviter.owner_id
    if Store.objects(owner_id=who.user_id).count():
        raise AlreadyExists("you already have a store", "already_has_store")
    for _ in range(SHARE_CODE_ATTEMPTS):
        store = Store(
            id=ids.new_id("sto"),
            owner_id=who.user_id,
            name=name,
            avatar_url=avatar_url,
            intro=intro,
            share_code=rules.new_share_code(),
            upline_owner_id=upline,
        )
        if mongo.insert_once(store):
            return store
        if Store.objects(owner_id=who.user_id).count():  # the unique owner index: a concurrent open won
            raise AlreadyExists("you already have a store", "already_has_store")
        # else the share code was taken: draw another
    raise Unavailable("could not draw a free share code; retry", "share_code_exhausted")


def get_store(store_id: str) -> Store:
    return _store_or_404(store_id)


def get_my_store() -> Store:
    who = require_user()
    store = Store.objects(owner_id=who.user_id).first()
    if store is None:
        raise NotFound("you have no store yet", "store_not_found")
    return store


def update_store(store_id: str, name: str, avatar_url: str, intro: str) -> Store:
    """Replaces the profile: name (required), avatar and intro (empty clears them)."""
    store = _owned_store(store_id)
    name = rules.check_name(name)
    avatar_url, intro = rules.check_profile(avatar_url, intro)
    return Store.objects(id=store.id).modify(new=True, set__name=name, set__avatar_url=avatar_url, set__intro=intro)


# ── the store's products ────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Listing:
    item: StoreProduct
    title: str
    spec: str


def put_store_product(store_id: str, sku_id: str, price_fen: int) -> Listing:
    """List a sellable SKU at a price inside its band, or change the price (an idempotent upsert)."""
    store = _owned_store(store_id)
    sku = Sku.objects(id=sku_id).first() if ids.is_valid(sku_id) else None
    if sku is None:
        raise NotFound(f"sku {sku_id!r} not found", "sku_not_found")
    if not sku.sellable:
        raise FailedPrecondition(f"sku {sku_id} is not approved for sale", "sku_not_sellable")
    rules.check_store_price(price_fen, sku.price_min_fen, sku.price_max_fen)
    query = StoreProduct.objects(store_id=store.id, sku_id=sku.id)
    upsert = {
        "upsert": True,
        "new": True,
        "set__price_fen": price_fen,
        "set_on_insert__id": ids.new_id("stp"),
        "set_on_insert__product_id": sku.product_id,
        "set_on_insert__listed_at": now(),
    }
    try:
        item = query.modify(**upsert)
    except me.NotUniqueError:  # two first listings at once: the other inserted; now this one updates
        item = query.modify(**upsert)
    title = Product.objects(id=sku.product_id).scalar("title").first() or ""
    return Listing(item, title, sku.spec)


def remove_store_product(store_id: str, sku_id: str) -> None:
    """Idempotent: removing a SKU the store does not list changes nothing."""
    store = _owned_store(store_id)
    StoreProduct.objects(store_id=store.id, sku_id=sku_id).delete()


def list_store_products(store_id: str, cursor: str, limit: int) -> tuple[list[Listing], str]:
    """Public, in listing order. SKUs no longer sellable (product rejected later) are left out; the
    cursor still moves past them, so a page may hold fewer than `limit` listings."""
    store = _store_or_404(store_id)
    page = paging.parse(cursor, limit)
    query = StoreProduct.objects(store_id=store.id)
    if page.after_id:
        query = query.filter(id__gt=page.after_id)
    items = list(query.order_by("id").limit(page.limit))
    if not items:  # (an empty $in is refused by the dev wire server)
        return [], ""
    skus = {s.id: s for s in Sku.objects(id__in=[i.sku_id for i in items]).only("id", "spec", "sellable")}
    titles = dict(Product.objects(id__in=list({i.product_id for i in items})).scalar("id", "title"))
    listings = [
        Listing(i, titles.get(i.product_id, ""), skus[i.sku_id].spec)
        for i in items
        if i.sku_id in skus and skus[i.sku_id].sellable
    ]
    return listings, paging.next_cursor([i.id for i in items], page.limit)


def store_price_fen(store_id: str, sku_id: str) -> int:
    """For checkout: the store's price of the SKU. NotFound `store_not_found`; FailedPrecondition
    `not_in_store` when the store does not list the SKU. (Sellability is checkout's own condition.)"""
    _store_or_404(store_id)
    price = StoreProduct.objects(store_id=store_id, sku_id=sku_id).scalar("price_fen").first()
    if price is None:
        raise FailedPrecondition(f"store {store_id} does not sell sku {sku_id!r}", "not_in_store")
    return price


# ── sharing and binding ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SharePayload:
    share_code: str
    link: str
    qr_content: str
    title: str


def share_payload(store_id: str, settings: RetailSettings) -> SharePayload:
    """Public: the share code is on the store page anyway."""
    store = _store_or_404(store_id)
    link = f"{settings.public_base_url}/api/v1/stores/{store.id}?share={store.share_code}"
    return SharePayload(store.share_code, link, link, store.name)


@dataclass(frozen=True)
class BindResult:
    binding: Binding
    newly_bound: bool


def bind_consumer(share_code: str, settings: RetailSettings) -> BindResult:
    """The caller arrives through a share code: the first arrival binds, a live binding is kept, an
    expired one is replaced. Concurrent arrivals make one binding (unique consumer_id; the
    replacement of an expired one is conditional on it being still expired)."""
    who = require_user()
    store = _store_by_code(share_code)
    if store is None:
        raise NotFound("no store has this share code", "share_code_not_found")
    rules.check_not_own_store(store.owner_id, who.user_id)
    for _ in range(3):
        at = now()
        expires_at = rules.binding_expiry(at, settings.store_binding_days)
        existing = Binding.objects(consumer_id=who.user_id).first()
        if existing is not None and rules.is_live(existing.expires_at, at):
            return BindResult(existing, False)
        if existing is None:
            binding = Binding(
                id=ids.new_id("bnd"), consumer_id=who.user_id, store_id=store.id, bound_at=at, expires_at=expires_at
            )
            if mongo.insert_once(binding):
                return BindResult(binding, True)
        else:
            replaced = Binding.objects(id=existing.id, expires_at__lte=at).modify(
                new=True, set__store_id=store.id, set__bound_at=at, set__expires_at=expires_at
            )
            if replaced is not None:
                return BindResult(replaced, True)
        # a concurrent arrival bound this consumer first: read it again
    raise Unavailable("the binding changed while binding; retry", "binding_busy")


def _live_binding(consumer_id: str) -> Binding | None:
    binding = Binding.objects(consumer_id=consumer_id).first()
    return binding if binding is not None and rules.is_live(binding.expires_at, now()) else None


def get_my_binding() -> Binding:
    who = require_user()
    binding = _live_binding(who.user_id)
    if binding is None:
        raise NotFound("you are not bound to a store", "no_binding")
    return binding


def bound_store_id(consumer_id: str) -> str | None:
    """For checkout: the store the consumer is bound to now (an expired binding is none)."""
    binding = _live_binding(consumer_id)
    return binding.store_id if binding is not None else None


def renew_binding(consumer_id: str, store_id: str, settings: RetailSettings | None = None) -> None:
    """For checkout, after a purchase through the consumer's live bound store: the window restarts
    (expires_at = now + window); a permanent binding stays permanent; anything else changes nothing."""
    binding = _live_binding(consumer_id)
    if binding is None or binding.store_id != store_id or binding.expires_at is None:
        return
    days = (settings or RetailSettings.from_env()).store_binding_days
    renewed = rules.renewed_expiry(binding.expires_at, now(), days)
    # conditional: a concurrent replacement or renewal wins over this one
    Binding.objects(id=binding.id, store_id=store_id, expires_at=binding.expires_at).update_one(set__expires_at=renewed)
