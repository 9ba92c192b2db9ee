"""guide use cases: load, apply the domain rules, save."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import mongoengine as me
import redis

from guide.config import GuideSettings
from guide.documents import AttributedOrder, Click, Link
from guide.domain import links
from guide.domain.attribution import linked_order
from mallkit import ids, mongo
from mallkit.access import ADMIN, require_role, require_user
from mallkit.clock import now
from mallkit.errors import NotFound
from socialmall.retail.v1 import retail_pb2

log = logging.getLogger(__name__)

KOL = "kol"


CODE_ATTEMPTS = 5


class Retail(Protocol):
    """What guide needs of retail (a `mallkit.grpc_client.ServiceClient` of RetailService, or a fake)."""

    def GetSku(self, request: retail_pb2.GetSkuRequest) -> retail_pb2.GetSkuResponse: ...


def _link_not_found(link_id: str) -> NotFound:
    return NotFound(f"link {link_id!r} not found", "link_not_found")


def _check_sku(retail: Retail, sku_id: str) -> None:
    if not ids.is_valid(sku_id):
        raise NotFound(f"sku {sku_id!r} not found", "sku_not_found")
    try:
        retail.GetSku(retail_pb2.GetSkuRequest(sku_id=sku_id))
    except NotFound as exc:
        raise NotFound(f"sku {sku_id!r} not found", "sku_not_found") from exc


def create_link(sku_id: str, settings: GuideSettings, retail: Retail) -> Link:
    """A tracked link to a SKU for the caller, who must hold the kol role (granted by approval)."""
    who = require_role(KOL)
    _check_sku(retail, sku_id)
    link_id = ids.new_id("lnk")
    link = Link(
        id=link_id,
        kol_id=who.user_id,
        sku_id=sku_id,
        target_url=links.target_url(settings.public_base_url, sku_id, link_id),
    )
    for _ in range(CODE_ATTEMPTS):
        link.code = links.new_code()
        try:
            link.save(force_insert=True)
            return link
        except me.NotUniqueError:
            log.info("short code collision, drawing another")
    raise RuntimeError(f"no free short code after {CODE_ATTEMPTS} attempts")


def get_link(link_id: str) -> Link:
    who = require_user()
    link = Link.objects(id=link_id).first() if ids.is_valid(link_id) else None
    if link is None or (link.kol_id != who.user_id and not who.has_role(ADMIN)):
        raise _link_not_found(link_id)  # never reveal others' links
    return link


def _count_visitor(cache: redis.Redis, link_id: str, visitor_id: str) -> None:
    key = links.uv_key(link_id, now().date())
    try:
        with cache.pipeline(transaction=False) as pipe:
            pipe.pfadd(key, visitor_id)
            pipe.expire(key, links.UV_TTL_SECONDS)
            pipe.execute()
    except redis.RedisError as exc:  # the click is recorded; UV can be rebuilt from clicks
        log.warning("cannot count visitor of link %s: %r", link_id, exc)


def resolve_link(code: str, visitor_id: str, cache: redis.Redis) -> Link:
    """Public: record a click (and the visitor for the day's UV); return the link to redirect to."""
    code = links.check_code(code)
    visitor_id = links.check_visitor_id(visitor_id)
    link = Link.objects(code=code).only("id", "target_url").first()
    if link is None:
        raise NotFound(f"link code {code!r} not found", "link_not_found")
    Click(id=ids.new_id("clk"), link_id=link.id, visitor_id=visitor_id).save(force_insert=True)
    Link.objects(id=link.id).update_one(inc__clicks=1)
    if visitor_id:
        _count_visitor(cache, link.id, visitor_id)
    return link


def record_attributed_order(data: dict[str, Any]) -> bool:
    """Record an order_paid that came through a known link; True if this call recorded it.

    Keyed by order id, so redelivered or concurrent events record it once.
    """
    order = linked_order(data)
    if order is None:
        return False
    link = Link.objects(id=order.link_id).only("kol_id").first()
    if link is None:
        log.warning("order %s names unknown link %s; not recorded", order.order_id, order.link_id)
        return False
    return mongo.insert_once(
        AttributedOrder(
            id=ids.new_id("ato"),
            order_id=order.order_id,
            link_id=order.link_id,
            kol_id=link.kol_id,
            buyer_id=order.buyer_id,
            total_fen=order.total_fen,
            paid_at=order.paid_at,
        )
    )
