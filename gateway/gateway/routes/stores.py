"""Micro-stores of small-b owners: opening (free), their products and prices, sharing, binding."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import authenticated, public
from gateway.clients import Rpc
from gateway.money import MAX_FEN, Money, to_pb
from gateway.schemas import Cursor, JsonInt, Limit, Page, RequestBody, path_id
from mallkit.protos import datetime_of
from socialmall.common.v1 import page_pb2
from socialmall.retail.v1 import stores_pb2 as pb

router = APIRouter(tags=["stores"], responses=errors.COMMON)

Authenticated = Annotated[Rpc, Depends(authenticated)]
Public = Annotated[Rpc, Depends(public)]
StoreId = Annotated[str, path_id("sto")]
SkuId = Annotated[str, path_id("sku")]
SHARE_CODE_REGEX = r"^[A-Za-z0-9]+$"
SHARE_CODE_EXAMPLE = "K7Q2ZP9M"


class StoreProfile(RequestBody):
    name: str = Field(..., min_length=1, max_length=30, examples=["Li's Tea Corner"])
    avatar_url: str = Field(
        "", max_length=500, description="An http(s) URL; empty for none.", examples=["https://example.com/a.png"]
    )
    intro: str = Field("", max_length=200, examples=["Tea I drink myself."])


class NewStore(StoreProfile):
    invite_code: str | None = Field(
        None,
        min_length=1,
        max_length=16,
        pattern=SHARE_CODE_REGEX,
        description="Another store's share code: that store's owner becomes this store's upline. Opening is free.",
        examples=[SHARE_CODE_EXAMPLE],
    )


class Store(BaseModel):
    id: str = Field(..., examples=["sto_6650a1f2c3d4e5f6a7b8c9d3"])
    owner_id: str = Field(..., examples=["u_42"])
    name: str = Field(..., examples=["Li's Tea Corner"])
    avatar_url: str | None = Field(..., examples=["https://example.com/a.png"])
    intro: str = Field(..., examples=["Tea I drink myself."])
    share_code: str = Field(..., description="What buyers and invited store owners type in.", examples=["K7Q2ZP9M"])
    upline_owner_id: str | None = Field(
        ..., description="The owner of the store whose code invited this one.", examples=[None]
    )
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, store: pb.Store) -> Store:
        return cls(
            id=store.id,
            owner_id=store.owner_id,
            name=store.name,
            avatar_url=store.avatar_url or None,
            intro=store.intro,
            share_code=store.share_code,
            upline_owner_id=store.upline_owner_id or None,
            created_at=datetime_of(store, "created_at"),
        )


class StorePrice(RequestBody):
    price_fen: JsonInt = Field(
        ..., gt=0, le=MAX_FEN, description="Inside the SKU's band (price_min..price_max).", examples=[12800]
    )


class StoreProduct(BaseModel):
    store_id: str = Field(..., examples=["sto_6650a1f2c3d4e5f6a7b8c9d3"])
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    product_id: str = Field(..., examples=["prd_6650a1f2c3d4e5f6a7b8c9d2"])
    title: str = Field(..., examples=["West Lake Longjing"])
    spec: str = Field(..., examples=["250g"])
    price: Money = Field(..., description="The store's own price.")

    @classmethod
    def from_pb(cls, product: pb.StoreProduct) -> StoreProduct:
        return cls(
            store_id=product.store_id,
            sku_id=product.sku_id,
            product_id=product.product_id,
            title=product.title,
            spec=product.spec,
            price=Money.from_pb(product.price),
        )


class SharePayload(BaseModel):
    share_code: str = Field(..., examples=["K7Q2ZP9M"])
    link: str = Field(
        ...,
        description="The store page with the share code (`GET /api/v1/stores/{id}?share=…`).",
        examples=["https://mall.example.com/api/v1/stores/sto_6650a1f2c3d4e5f6a7b8c9d3?share=K7Q2ZP9M"],
    )
    qr_content: str = Field(..., description="What the QR code encodes.", examples=["https://mall.example.com/s"])
    title: str = Field(..., examples=["Li's Tea Corner"])


class NewBinding(RequestBody):
    share_code: str = Field(..., min_length=1, max_length=16, pattern=SHARE_CODE_REGEX, examples=[SHARE_CODE_EXAMPLE])


class Binding(BaseModel):
    consumer_id: str = Field(..., examples=["u_43"])
    store_id: str = Field(..., examples=["sto_6650a1f2c3d4e5f6a7b8c9d3"])
    bound_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    expires_at: datetime | None = Field(..., description="Null: permanent.", examples=["2025-03-02T08:00:00Z"])

    @classmethod
    def from_pb(cls, binding: pb.Binding) -> Binding:
        return cls(
            consumer_id=binding.consumer_id,
            store_id=binding.store_id,
            bound_at=datetime_of(binding, "bound_at"),
            expires_at=datetime_of(binding, "expires_at"),
        )


class BindOutcome(BaseModel):
    binding: Binding
    newly_bound: bool = Field(
        ..., description="False when the caller was already bound (to this or another store).", examples=[True]
    )


# ── stores ─────────────────────────────────────────────────────────────────────────────────────


@router.post(
    "/stores",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Open the caller's store: free, one per user (authenticated)",
    description="409 `already_has_store` for a second one; an unknown invite code is a 404.",
)
async def open_store(body: NewStore, rpc: Authenticated) -> Store:
    request = pb.OpenStoreRequest(
        name=body.name, avatar_url=body.avatar_url, intro=body.intro, invite_code=body.invite_code or ""
    )
    reply = await rpc.stores("OpenStore", request)
    return Store.from_pb(reply.store)


@router.get("/stores/me", responses=errors.NEEDS_TOKEN, summary="The caller's store (authenticated)")
async def get_my_store(rpc: Authenticated) -> Store:
    reply = await rpc.stores("GetMyStore", pb.GetMyStoreRequest())
    return Store.from_pb(reply.store)


@router.get("/stores/{store_id}", summary="A store (public; the shape of a share link)")
async def get_store(
    store_id: StoreId,
    rpc: Public,
    share: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=16,
            pattern=SHARE_CODE_REGEX,
            description="The share code a share link carries; accepted and ignored (bind with POST /bindings).",
            examples=[SHARE_CODE_EXAMPLE],
        ),
    ] = None,
) -> Store:
    reply = await rpc.stores("GetStore", pb.GetStoreRequest(store_id=store_id))
    return Store.from_pb(reply.store)


@router.put(
    "/stores/{store_id}",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_store_owner")},
    summary="Replace the store's profile; an omitted avatar or intro is cleared (authenticated: its owner)",
)
async def update_store(store_id: StoreId, body: StoreProfile, rpc: Authenticated) -> Store:
    request = pb.UpdateStoreRequest(store_id=store_id, name=body.name, avatar_url=body.avatar_url, intro=body.intro)
    reply = await rpc.stores("UpdateStore", request)
    return Store.from_pb(reply.store)


# ── the store's products ───────────────────────────────────────────────────────────────────────


@router.put(
    "/stores/{store_id}/products/{sku_id}",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_store_owner")},
    summary="List an approved SKU in the store at its own price, or change the price (authenticated: its owner)",
    description="A price outside the SKU's band is a 400 `price_outside_band`.",
)
async def put_store_product(store_id: StoreId, sku_id: SkuId, body: StorePrice, rpc: Authenticated) -> StoreProduct:
    request = pb.PutStoreProductRequest(store_id=store_id, sku_id=sku_id, price=to_pb(body.price_fen))
    reply = await rpc.stores("PutStoreProduct", request)
    return StoreProduct.from_pb(reply.product)


@router.delete(
    "/stores/{store_id}/products/{sku_id}",
    status_code=204,
    response_class=Response,
    responses={**errors.NEEDS_TOKEN, **errors.forbidden("not_store_owner")},
    summary="Stop selling a SKU in the store; removing one not listed is fine (authenticated: its owner)",
)
async def remove_store_product(store_id: StoreId, sku_id: SkuId, rpc: Authenticated) -> Response:
    await rpc.stores("RemoveStoreProduct", pb.RemoveStoreProductRequest(store_id=store_id, sku_id=sku_id))
    return Response(status_code=204)


@router.get("/stores/{store_id}/products", summary="What a store sells, at its prices, in listing order (public)")
async def list_store_products(
    store_id: StoreId, rpc: Public, cursor: Cursor = None, limit: Limit = 20
) -> Page[StoreProduct]:
    request = pb.ListStoreProductsRequest(
        store_id=store_id, page=page_pb2.PageRequest(cursor=cursor or "", limit=limit)
    )
    reply = await rpc.stores("ListStoreProducts", request)
    return Page[StoreProduct](
        items=[StoreProduct.from_pb(p) for p in reply.products], next_cursor=reply.page.next_cursor or None
    )


@router.get("/stores/{store_id}/share", summary="The link and QR content to share the store (public)")
async def get_share_payload(store_id: StoreId, rpc: Public) -> SharePayload:
    reply = await rpc.stores("GetSharePayload", pb.GetSharePayloadRequest(store_id=store_id))
    return SharePayload(share_code=reply.share_code, link=reply.link, qr_content=reply.qr_content, title=reply.title)


# ── binding ────────────────────────────────────────────────────────────────────────────────────


@router.post(
    "/bindings",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Arrive through a store's share code: the first arrival binds the caller to it (authenticated)",
    description="A live binding is kept (newly_bound false); binding to one's own store is a 409 `self_binding`.",
)
async def bind_consumer(body: NewBinding, rpc: Authenticated) -> BindOutcome:
    reply = await rpc.stores("BindConsumer", pb.BindConsumerRequest(share_code=body.share_code))
    return BindOutcome(binding=Binding.from_pb(reply.binding), newly_bound=reply.newly_bound)


@router.get(
    "/bindings/me",
    responses=errors.NEEDS_TOKEN,
    summary="The store the caller is bound to; 404 `no_binding` when none (authenticated)",
)
async def get_my_binding(rpc: Authenticated) -> Binding:
    reply = await rpc.stores("GetMyBinding", pb.GetMyBindingRequest())
    return Binding.from_pb(reply.binding)
