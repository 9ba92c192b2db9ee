"""Catalog conversions for RetailService: products, SKUs, review statuses, new SKUs and rates."""

from __future__ import annotations

from mallkit.protos import money, timestamp
from retail_s2b2c.documents.catalog import Product, Sku
from retail_s2b2c.domain.catalog import CommissionRates, NewSku, ProductStatus
from socialmall.retail.v1 import retail_pb2 as pb

PRODUCT_STATUS = {
    ProductStatus.PENDING_REVIEW: pb.PRODUCT_STATUS_PENDING_REVIEW,
    ProductStatus.APPROVED: pb.PRODUCT_STATUS_APPROVED,
    ProductStatus.REJECTED: pb.PRODUCT_STATUS_REJECTED,
}
PRODUCT_STATUS_NAMES = {value: name for name, value in PRODUCT_STATUS.items()}


def sku_pb(sku: Sku) -> pb.Sku:
    return pb.Sku(
        id=sku.id,
        product_id=sku.product_id,
        spec=sku.spec,
        price=money(sku.price_fen),
        stock=sku.stock,
        supply_price=money(sku.supply_price_fen),
        price_min=money(sku.price_min_fen),
        price_max=money(sku.price_max_fen),
        sellable=sku.sellable,
    )


def product_pb(product: Product, skus: list[Sku]) -> pb.Product:
    return pb.Product(
        id=product.id,
        brand_id=product.brand_id,
        title=product.title,
        category=product.category,
        skus=[sku_pb(s) for s in skus],
        created_at=timestamp(product.created_at),
        status=PRODUCT_STATUS[ProductStatus(product.status)],
        reject_reason=product.reject_reason,
        image_urls=list(product.image_urls),
        attributes=dict(product.attributes),
        commission_rates=pb.CommissionRates(
            level1_rate_bp=product.level1_rate_bp, level2_rate_bp=product.level2_rate_bp
        ),  # None leaves an optional field unset
    )


def new_sku(sku: pb.NewSku) -> NewSku:
    """Unset money fields are None (the domain refuses a missing supply price, defaults the band)."""

    def fen(field: str) -> int | None:
        return getattr(sku, field).fen if sku.HasField(field) else None

    return NewSku(
        spec=sku.spec,
        price_fen=sku.price.fen,
        stock=sku.stock,
        supply_price_fen=fen("supply_price"),
        price_min_fen=fen("price_min"),
        price_max_fen=fen("price_max"),
    )


def commission_rates(rates: pb.CommissionRates) -> CommissionRates:
    return CommissionRates(
        level1_rate_bp=rates.level1_rate_bp if rates.HasField("level1_rate_bp") else None,
        level2_rate_bp=rates.level2_rate_bp if rates.HasField("level2_rate_bp") else None,
    )
