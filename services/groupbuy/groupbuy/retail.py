"""What groupbuy asks of retail: the SKU a campaign sells, and orders at groupbuy's price.

Service functions take any object with retail's methods (a `mallkit.grpc_client.ServiceClient`
made with caller_service="groupbuy" in the API, a fake in unit tests). Orders are placed as the
calling user, with groupbuy's quote; retail accepts the quote only from groupbuy for an order
attributed to a team, a bargain or a campaign's solo purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mallkit import context
from mallkit.access import ADMIN
from mallkit.errors import NotFound, PermissionDenied
from socialmall.common.v1 import attribution_pb2
from socialmall.retail.v1 import retail_pb2

# retail.CreateOrder carries an idempotency key, so a retry of it is safe.
IDEMPOTENT_CALLS = ("CreateOrder",)
QUOTE_SOURCE = "groupbuy"


class Retail(Protocol):
    def GetSku(self, request: retail_pb2.GetSkuRequest) -> retail_pb2.GetSkuResponse: ...
    def GetProduct(self, request: retail_pb2.GetProductRequest) -> retail_pb2.GetProductResponse: ...
    def GetBrand(self, request: retail_pb2.GetBrandRequest) -> retail_pb2.GetBrandResponse: ...
    def CreateOrder(self, request: retail_pb2.CreateOrderRequest) -> retail_pb2.CreateOrderResponse: ...


@dataclass(frozen=True)
class SkuFacts:
    sku_id: str
    price_fen: int


def _sku(retail: Retail, sku_id: str) -> retail_pb2.Sku:
    """NotFound `sku_not_found` if retail has no such SKU; other failures pass through unchanged
    (Unavailable stays Unavailable, so callers may retry)."""
    try:
        return retail.GetSku(retail_pb2.GetSkuRequest(sku_id=sku_id)).sku
    except NotFound as exc:
        raise NotFound(f"sku {sku_id!r} not found", "sku_not_found") from exc


def campaign_sku(retail: Retail, sku_id: str) -> SkuFacts:
    """The SKU a campaign may sell: approved for sale, and (unless an admin asks) the caller's brand's."""
    sku = _sku(retail, sku_id)
    if not sku.sellable:
        raise PermissionDenied(f"sku {sku_id!r} is not approved for sale", "sku_not_sellable")
    who = context.caller()
    if not who.has_role(ADMIN):
        product = retail.GetProduct(retail_pb2.GetProductRequest(product_id=sku.product_id)).product
        brand = retail.GetBrand(retail_pb2.GetBrandRequest(brand_id=product.brand_id)).brand
        if brand.owner_id != who.user_id:
            raise PermissionDenied("a campaign sells the caller's own brand's SKU", "not_sku_owner")
    return SkuFacts(sku.id, sku.price.fen)


def place_order(
    retail: Retail,
    *,
    sku_id: str,
    quantity: int,
    unit_price_fen: int,
    idempotency_key: str,
    distribution_enabled: bool = False,
    group_team_id: str = "",
    bargain_id: str = "",
    group_campaign_id: str = "",
) -> retail_pb2.Order:
    """A retail order for the calling user at groupbuy's price; the same key returns the same order."""
    request = retail_pb2.CreateOrderRequest(
        lines=[retail_pb2.OrderLine(sku_id=sku_id, quantity=quantity)],
        attribution=attribution_pb2.Attribution(
            group_team_id=group_team_id, bargain_id=bargain_id, group_campaign_id=group_campaign_id
        ),
        idempotency_key=idempotency_key,
        quote=retail_pb2.PriceQuote(
            source=QUOTE_SOURCE, unit_price_fen={sku_id: unit_price_fen}, distribution_enabled=distribution_enabled
        ),
    )
    return retail.CreateOrder(request).order
