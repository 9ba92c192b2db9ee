"""Retail (the trade core): brands, products, SKUs and their stock. Orders: routes/orders.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import OPTIONAL_TOKEN, Role, optionally_authenticated, public, role
from gateway.clients import Rpc
from gateway.idempotency import IdempotencyKey, IdempotentRoute
from gateway.money import MAX_FEN, Money, to_pb
from gateway.schemas import Cursor, Id, JsonInt, Limit, Page, RequestBody, path_id, query_id
from mallkit.protos import datetime_of
from socialmall.common.v1 import page_pb2
from socialmall.retail.v1 import retail_pb2 as pb

router = APIRouter(tags=["retail"], responses=errors.COMMON, route_class=IdempotentRoute)

BrandOrAdmin = Annotated[Rpc, Depends(role(Role.BRAND, Role.ADMIN))]
AdminOnly = Annotated[Rpc, Depends(role(Role.ADMIN))]
Public = Annotated[Rpc, Depends(public)]
MaybeSignedIn = Annotated[Rpc, Depends(optionally_authenticated)]
BrandId = Annotated[str, path_id("brd")]
ProductId = Annotated[str, path_id("prd")]
SkuId = Annotated[str, path_id("sku")]
BrandFilter = Annotated[str | None, query_id("brd")]
MAX_STOCK = 10_000_000


# ── brands ──────────────────────────────────────────────────────────────────────────────────


class NewBrand(RequestBody):
    name: str = Field(..., min_length=1, max_length=64, examples=["Rose & Co"])


class Brand(BaseModel):
    id: str = Field(..., examples=["brd_6650a1f2c3d4e5f6a7b8c9d0"])
    owner_id: str = Field(..., examples=["u_42"])
    name: str = Field(..., examples=["Rose & Co"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, brand: pb.Brand) -> Brand:
        return cls(id=brand.id, owner_id=brand.owner_id, name=brand.name, created_at=datetime_of(brand, "created_at"))


@router.post(
    "/brands",
    status_code=201,
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Create a brand (role brand or admin)",
)
async def create_brand(body: NewBrand, rpc: BrandOrAdmin) -> Brand:
    reply = await rpc.retail("CreateBrand", pb.CreateBrandRequest(name=body.name))
    return Brand.from_pb(reply.brand)


@router.get("/brands/{brand_id}", summary="A brand (public)")
async def get_brand(brand_id: BrandId, rpc: Public) -> Brand:
    reply = await rpc.retail("GetBrand", pb.GetBrandRequest(brand_id=brand_id))
    return Brand.from_pb(reply.brand)


# ── products and SKUs ──────────────────────────────────────────────────────────────────────────


class NewSku(RequestBody):
    spec: str = Field(..., min_length=1, max_length=64, examples=["100 ml / rose"])
    price_fen: JsonInt = Field(..., gt=0, le=MAX_FEN, description="The suggested retail price.", examples=[1990])
    stock: JsonInt = Field(..., ge=0, le=1_000_000_000, examples=[100])
    supply_price_fen: JsonInt | None = Field(
        None, gt=0, le=MAX_FEN, description="What the brand charges; at most the suggested price.", examples=[1200]
    )
    price_min_fen: JsonInt | None = Field(
        None, gt=0, le=MAX_FEN, description="Lowest price a store may sell at; unset: exactly the suggested price."
    )
    price_max_fen: JsonInt | None = Field(None, gt=0, le=MAX_FEN, description="Highest price a store may sell at.")

    def to_pb(self) -> pb.NewSku:
        sku = pb.NewSku(spec=self.spec, price=to_pb(self.price_fen), stock=self.stock)
        for field in ("supply_price", "price_min", "price_max"):
            if (fen := getattr(self, f"{field}_fen")) is not None:
                getattr(sku, field).CopyFrom(to_pb(fen))
        return sku


class NewProduct(RequestBody):
    brand_id: Id = Field(..., examples=["brd_6650a1f2c3d4e5f6a7b8c9d0"])
    title: str = Field(..., min_length=1, max_length=100, examples=["Rose face mist"])
    category: str = Field(..., min_length=1, max_length=32, examples=["beauty"])
    skus: list[NewSku] = Field(..., min_length=1, max_length=50)


class Sku(BaseModel):
    id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    product_id: str = Field(..., examples=["prd_6650a1f2c3d4e5f6a7b8c9d2"])
    spec: str = Field(..., examples=["100 ml / rose"])
    price: Money
    stock: int = Field(..., examples=[100])
    supply_price: Money
    price_min: Money
    price_max: Money
    sellable: bool = Field(..., description="True once the product is approved.", examples=[True])

    @classmethod
    def from_pb(cls, sku: pb.Sku) -> Sku:
        return cls(
            id=sku.id,
            product_id=sku.product_id,
            spec=sku.spec,
            price=Money.from_pb(sku.price),
            stock=sku.stock,
            supply_price=Money.from_pb(sku.supply_price),
            price_min=Money.from_pb(sku.price_min),
            price_max=Money.from_pb(sku.price_max),
            sellable=sku.sellable,
        )


class Product(BaseModel):
    id: str = Field(..., examples=["prd_6650a1f2c3d4e5f6a7b8c9d2"])
    brand_id: str = Field(..., examples=["brd_6650a1f2c3d4e5f6a7b8c9d0"])
    title: str = Field(..., examples=["Rose face mist"])
    category: str = Field(..., examples=["beauty"])
    skus: list[Sku]
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    status: Literal["pending_review", "approved", "rejected"] = Field(
        ..., description="Only approved products are sellable.", examples=["approved"]
    )
    reject_reason: str = Field("", examples=[""])

    @classmethod
    def from_pb(cls, product: pb.Product) -> Product:
        return cls(
            id=product.id,
            brand_id=product.brand_id,
            title=product.title,
            category=product.category,
            skus=[Sku.from_pb(s) for s in product.skus],
            created_at=datetime_of(product, "created_at"),
            status=PRODUCT_STATUS.get(product.status, "pending_review"),
            reject_reason=product.reject_reason,
        )


PRODUCT_STATUS = {
    pb.PRODUCT_STATUS_PENDING_REVIEW: "pending_review",
    pb.PRODUCT_STATUS_APPROVED: "approved",
    pb.PRODUCT_STATUS_REJECTED: "rejected",
}


class ProductReview(RequestBody):
    approve: bool = Field(..., examples=[True])
    reason: str = Field("", max_length=200, description="Required to reject.", examples=[""])


@router.post(
    "/products",
    status_code=201,
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Create a product with its SKUs (role brand or admin)",
)
async def create_product(body: NewProduct, rpc: BrandOrAdmin) -> Product:
    request = pb.CreateProductRequest(
        brand_id=body.brand_id,
        title=body.title,
        category=body.category,
        skus=[s.to_pb() for s in body.skus],
    )
    reply = await rpc.retail("CreateProduct", request)
    return Product.from_pb(reply.product)


@router.post(
    "/admin/products/{product_id}/review",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Approve a product (its SKUs become sellable) or reject it with a reason (role admin)",
)
async def review_product(product_id: ProductId, body: ProductReview, rpc: AdminOnly) -> Product:
    request = pb.ReviewProductRequest(product_id=product_id, approve=body.approve, reason=body.reason)
    reply = await rpc.retail("ReviewProduct", request)
    return Product.from_pb(reply.product)


@router.get("/products", summary="Products, newest first by id (public)")
async def list_products(
    rpc: Public, cursor: Cursor = None, limit: Limit = 20, brand_id: BrandFilter = None
) -> Page[Product]:
    request = pb.ListProductsRequest(
        page=page_pb2.PageRequest(cursor=cursor or "", limit=limit), brand_id=brand_id or ""
    )
    reply = await rpc.retail("ListProducts", request)
    return Page[Product](items=[Product.from_pb(p) for p in reply.products], next_cursor=reply.page.next_cursor or None)


@router.get(
    "/products/{product_id}",
    responses=errors.NEEDS_TOKEN,
    openapi_extra=OPTIONAL_TOKEN,
    summary="A product and its SKUs (public; one not approved only with its brand owner's or an admin's token)",
)
async def get_product(product_id: ProductId, rpc: MaybeSignedIn) -> Product:
    reply = await rpc.retail("GetProduct", pb.GetProductRequest(product_id=product_id))
    return Product.from_pb(reply.product)


@router.get(
    "/skus/{sku_id}",
    responses=errors.NEEDS_TOKEN,
    openapi_extra=OPTIONAL_TOKEN,
    summary="A SKU with its price and stock (public; as its product, when not approved)",
)
async def get_sku(sku_id: SkuId, rpc: MaybeSignedIn) -> Sku:
    reply = await rpc.retail("GetSku", pb.GetSkuRequest(sku_id=sku_id))
    return Sku.from_pb(reply.sku)


class StockAdjustment(RequestBody):
    delta: JsonInt = Field(
        ...,
        ge=-MAX_STOCK,
        le=MAX_STOCK,
        description="Units to add (positive) or remove (negative; never below zero). Zero is refused.",
        examples=[50],
    )
    reason: str = Field(..., min_length=1, max_length=200, description="Kept in the audit trail.", examples=["restock"])


@router.post(
    "/skus/{sku_id}/stock-adjustments",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Add or remove stock of a brand's own SKU; audited (role brand or admin)",
    description=(
        "The SKU's brand owner (or an admin) changes its stock by `delta`. A removal beyond the stock "
        "is a 409 `insufficient_stock`. With an `Idempotency-Key` a retry changes the stock once."
    ),
)
async def adjust_stock(sku_id: SkuId, body: StockAdjustment, rpc: BrandOrAdmin, idempotency_key: IdempotencyKey) -> Sku:
    request = pb.AdjustStockRequest(
        sku_id=sku_id, delta=body.delta, reason=body.reason, idempotency_key=idempotency_key or ""
    )
    reply = await rpc.retail("AdjustStock", request)
    return Sku.from_pb(reply.sku)
