"""Retail orders: checkout, the caller's and a store's orders, shipping, receipt, refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import authenticated
from gateway.clients import Rpc
from gateway.idempotency import IdempotencyKey, IdempotentRoute, RequiredIdempotencyKey
from gateway.money import Money
from gateway.schemas import Cursor, Id, JsonInt, Limit, Page, RequestBody, enum_label, path_id, query_id
from mallkit.protos import datetime_of
from socialmall.common.v1 import attribution_pb2, page_pb2
from socialmall.retail.v1 import retail_pb2 as pb

router = APIRouter(tags=["retail"], responses=errors.COMMON, route_class=IdempotentRoute)

Authenticated = Annotated[Rpc, Depends(authenticated)]
OrderId = Annotated[str, path_id("ord")]
RefundId = Annotated[str, path_id("rfd")]
StoreFilter = Annotated[str | None, query_id("sto")]
ATTRIBUTION_FIELDS = [f.name for f in attribution_pb2.Attribution.DESCRIPTOR.fields]
ORDER_STATUSES = (
    "created, paid, shipped, received, completed or cancelled; while a refund is under review "
    "refund_requested, after a partial refund partially_refunded, after a full one refunded."
)
# The lifecycle states ListOrders filters by (refund_requested and partially_refunded overlay them).
LifecycleStatus = Literal["created", "paid", "shipped", "received", "completed", "cancelled", "refunded"]
LIFECYCLE_STATUS = {
    "created": pb.ORDER_STATUS_CREATED,
    "paid": pb.ORDER_STATUS_PAID,
    "shipped": pb.ORDER_STATUS_SHIPPED,
    "received": pb.ORDER_STATUS_RECEIVED,
    "completed": pb.ORDER_STATUS_COMPLETED,
    "cancelled": pb.ORDER_STATUS_CANCELLED,
    "refunded": pb.ORDER_STATUS_REFUNDED,
}


def page_of(cursor: str | None, limit: int) -> page_pb2.PageRequest:
    return page_pb2.PageRequest(cursor=cursor or "", limit=limit)


# ── orders ─────────────────────────────────────────────────────────────────────────────────────


class AttributionFields(BaseModel):
    """Who brought the purchase about; leave out what does not apply."""

    store_id: Id | None = Field(None, examples=["sto_6650a1f2c3d4e5f6a7b8c9d3"])
    group_team_id: Id | None = None
    bargain_id: Id | None = None
    post_id: Id | None = None
    kol_link_id: Id | None = None
    agent_id: Id | None = None


class NewAttribution(AttributionFields, RequestBody):
    pass


class OrderAttribution(AttributionFields):
    group_campaign_id: str | None = Field(
        None, description="A groupbuy campaign's solo purchase (set by groupbuy, never by a client).", examples=[None]
    )


class NewOrderLine(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    quantity: JsonInt = Field(..., ge=1, le=999, examples=[2])


class NewOrder(RequestBody):
    lines: list[NewOrderLine] = Field(..., min_length=1, max_length=50)
    attribution: NewAttribution | None = Field(
        None, description="With store_id the store's own price applies (the store must list the SKU)."
    )


class OrderItem(BaseModel):
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    quantity: int = Field(..., examples=[2])
    unit_price: Money
    amount: Money


class Order(BaseModel):
    id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    buyer_id: str = Field(..., examples=["u_42"])
    items: list[OrderItem]
    total: Money
    status: str = Field(..., description=ORDER_STATUSES, examples=["created"])
    attribution: OrderAttribution
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    paid_at: datetime | None = Field(..., examples=[None])
    shipped_at: datetime | None = Field(..., examples=[None])
    received_at: datetime | None = Field(..., examples=[None])
    completed_at: datetime | None = Field(
        ..., description="The after-sale window closed; payouts became available.", examples=[None]
    )
    carrier: str | None = Field(..., examples=[None])
    tracking_number: str | None = Field(..., examples=[None])
    refunded: Money = Field(..., description="Paid back so far.")
    awaiting_group: bool = Field(
        ..., description="A 拼团 seat's order: it ships once its team has formed.", examples=[False]
    )

    @classmethod
    def from_pb(cls, order: pb.Order) -> Order:
        return cls(
            id=order.id,
            buyer_id=order.buyer_id,
            items=[
                OrderItem(
                    sku_id=i.sku_id,
                    quantity=i.quantity,
                    unit_price=Money.from_pb(i.unit_price),
                    amount=Money.from_pb(i.amount),
                )
                for i in order.items
            ],
            total=Money.from_pb(order.total),
            status=enum_label(order, "status", "ORDER_STATUS_"),
            attribution=OrderAttribution(**{f: getattr(order.attribution, f) or None for f in ATTRIBUTION_FIELDS}),
            created_at=datetime_of(order, "created_at"),
            paid_at=datetime_of(order, "paid_at"),
            shipped_at=datetime_of(order, "shipped_at"),
            received_at=datetime_of(order, "received_at"),
            completed_at=datetime_of(order, "completed_at"),
            carrier=order.carrier or None,
            tracking_number=order.tracking_number or None,
            awaiting_group=order.awaiting_group,
            refunded=Money.from_pb(order.refunded),
        )


@router.post(
    "/orders",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Place an order; prices are always the server's (authenticated)",
    description=(
        "Send an `Idempotency-Key`: a 503 may come after retail placed the order (its deadline ran out), "
        "and only a retry with the same key is sure to get that order back instead of placing a second one."
    ),
)
async def create_order(body: NewOrder, rpc: Authenticated, idempotency_key: IdempotencyKey) -> Order:
    attribution = body.attribution.model_dump(exclude_none=True) if body.attribution else {}
    request = pb.CreateOrderRequest(
        lines=[pb.OrderLine(sku_id=line.sku_id, quantity=line.quantity) for line in body.lines],
        attribution=attribution_pb2.Attribution(**attribution),
        idempotency_key=idempotency_key or "",
    )
    reply = await rpc.retail("CreateOrder", request)
    return Order.from_pb(reply.order)


@router.get(
    "/orders",
    responses={**errors.NEEDS_TOKEN, **errors.forbidden("not_store_owner")},
    summary="The caller's orders, or with store_id the orders of the caller's store, newest first (authenticated)",
    description="A store_id of someone else's store is a 403 `not_store_owner`.",
)
async def list_orders(
    rpc: Authenticated,
    cursor: Cursor = None,
    limit: Limit = 20,
    store_id: StoreFilter = None,
    status: Annotated[
        LifecycleStatus | None, Query(description="Only orders in this lifecycle state.", examples=["paid"])
    ] = None,
) -> Page[Order]:
    request = pb.ListOrdersRequest(
        page=page_of(cursor, limit),
        store_id=store_id or "",
        status=LIFECYCLE_STATUS[status] if status else pb.ORDER_STATUS_UNSPECIFIED,
    )
    reply = await rpc.retail("ListOrders", request)
    return Page[Order](items=[Order.from_pb(o) for o in reply.orders], next_cursor=reply.page.next_cursor or None)


@router.get("/orders/{order_id}", responses=errors.NEEDS_TOKEN, summary="One of the caller's orders (authenticated)")
async def get_order(order_id: OrderId, rpc: Authenticated) -> Order:
    reply = await rpc.retail("GetOrder", pb.GetOrderRequest(order_id=order_id))
    return Order.from_pb(reply.order)


# ── shipping and receipt ───────────────────────────────────────────────────────────────────────


class Shipment(RequestBody):
    carrier: str = Field(..., min_length=1, max_length=40, examples=["SF Express"])
    tracking_number: str = Field(..., min_length=4, max_length=40, examples=["SF1234567890"])


@router.post(
    "/orders/{order_id}/shipment",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_seller")},
    summary="Ship a paid order (authenticated: the items' brand owner, the attributed store's owner or an admin)",
    description="Repeating it with the same tracking number changes nothing; a refund under review is a 409.",
)
async def ship_order(order_id: OrderId, body: Shipment, rpc: Authenticated) -> Order:
    request = pb.ShipOrderRequest(order_id=order_id, carrier=body.carrier, tracking_number=body.tracking_number)
    reply = await rpc.retail("ShipOrder", request)
    return Order.from_pb(reply.order)


@router.post(
    "/orders/{order_id}/receipt",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_buyer")},
    summary="The buyer confirms a shipped order arrived (authenticated)",
)
async def confirm_receipt(order_id: OrderId, rpc: Authenticated) -> Order:
    reply = await rpc.retail("ConfirmReceipt", pb.ConfirmReceiptRequest(order_id=order_id))
    return Order.from_pb(reply.order)


# ── refunds ────────────────────────────────────────────────────────────────────────────────────


class RefundRequestLine(RequestBody):
    sku_id: Id = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    quantity: JsonInt = Field(..., ge=1, le=999, examples=[1])


class NewRefund(RequestBody):
    lines: list[RefundRequestLine] = Field(..., min_length=1, max_length=50)
    reason: str = Field(..., min_length=1, max_length=200, examples=["arrived damaged"])


class RefundReview(RequestBody):
    approve: bool = Field(..., examples=[True])
    reason: str = Field("", max_length=200, description="Required to reject.", examples=[""])


class RefundLine(BaseModel):
    sku_id: str = Field(..., examples=["sku_6650a1f2c3d4e5f6a7b8c9d1"])
    quantity: int = Field(..., examples=[1])
    amount: Money


class Refund(BaseModel):
    id: str = Field(..., examples=["rfd_6650a1f2c3d4e5f6a7b8c9e2"])
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    buyer_id: str = Field(..., examples=["u_42"])
    lines: list[RefundLine]
    amount: Money = Field(..., description="What was paid for the lines: the server's, never the client's.")
    reason: str = Field(..., examples=["arrived damaged"])
    status: str = Field(..., description="requested, refunded or rejected.", examples=["requested"])
    reject_reason: str | None = Field(..., examples=[None])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    refunded_at: datetime | None = Field(..., examples=[None])

    @classmethod
    def from_pb(cls, refund: pb.Refund) -> Refund:
        return cls(
            id=refund.id,
            order_id=refund.order_id,
            buyer_id=refund.buyer_id,
            lines=[
                RefundLine(sku_id=line.sku_id, quantity=line.quantity, amount=Money.from_pb(line.amount))
                for line in refund.lines
            ],
            amount=Money.from_pb(refund.amount),
            reason=refund.reason,
            status=enum_label(refund, "status", "REFUND_STATUS_"),
            reject_reason=refund.reject_reason or None,
            created_at=datetime_of(refund, "created_at"),
            refunded_at=datetime_of(refund, "refunded_at"),
        )


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_buyer")},
    summary="The buyer asks for money back for some or all items (authenticated; Idempotency-Key required)",
    description="One refund under review per order (409 `refund_pending`); amounts are what was paid.",
)
async def request_refund(
    order_id: OrderId, body: NewRefund, rpc: Authenticated, idempotency_key: RequiredIdempotencyKey
) -> Refund:
    request = pb.RequestRefundRequest(
        order_id=order_id,
        lines=[pb.OrderLine(sku_id=line.sku_id, quantity=line.quantity) for line in body.lines],
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    reply = await rpc.retail("RequestRefund", request)
    return Refund.from_pb(reply.refund)


@router.get(
    "/orders/{order_id}/refunds",
    responses=errors.NEEDS_TOKEN,
    summary="An order's refunds, oldest first (authenticated: its buyer or sellers)",
)
async def list_refunds(order_id: OrderId, rpc: Authenticated, cursor: Cursor = None, limit: Limit = 20) -> Page[Refund]:
    reply = await rpc.retail("ListRefunds", pb.ListRefundsRequest(order_id=order_id, page=page_of(cursor, limit)))
    return Page[Refund](items=[Refund.from_pb(r) for r in reply.refunds], next_cursor=reply.page.next_cursor or None)


@router.post(
    "/refunds/{refund_id}/review",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("own_refund", "not_refund_reviewer")},
    summary="Approve (the provider pays back) or reject a refund with a reason (authenticated: the brand or an admin)",
    description=(
        "The owner of the brand of every refunded item, or an admin, decides; the order's other sellers (the "
        "attributed store's owner, another brand in the order) get 403 `not_refund_reviewer`, the refund's own "
        "buyer 403 `own_refund`, anyone else 404."
    ),
)
async def review_refund(refund_id: RefundId, body: RefundReview, rpc: Authenticated) -> Refund:
    request = pb.ReviewRefundRequest(refund_id=refund_id, approve=body.approve, reason=body.reason)
    reply = await rpc.retail("ReviewRefund", request)
    return Refund.from_pb(reply.refund)
