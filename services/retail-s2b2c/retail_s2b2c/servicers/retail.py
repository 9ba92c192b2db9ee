"""RetailService: catalog, orders and payments; translates protos to use cases and back."""

from __future__ import annotations

from mallkit.outbox import OutboxRelay
from mallkit.protos import money, timestamp
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.catalog import Brand
from retail_s2b2c.documents.orders import Order, Refund
from retail_s2b2c.domain.orders import Line, OrderStatus, Quote
from retail_s2b2c.service import catalog, orders, payments, refunds, stock
from retail_s2b2c.servicers.catalog import PRODUCT_STATUS_NAMES, commission_rates, new_sku, product_pb, sku_pb
from socialmall.common.v1 import attribution_pb2, page_pb2
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

ORDER_STATUS = {
    "created": pb.ORDER_STATUS_CREATED,
    "paid": pb.ORDER_STATUS_PAID,
    "shipped": pb.ORDER_STATUS_SHIPPED,
    "received": pb.ORDER_STATUS_RECEIVED,
    "completed": pb.ORDER_STATUS_COMPLETED,
    "cancelled": pb.ORDER_STATUS_CANCELLED,
    "refunded": pb.ORDER_STATUS_REFUNDED,
}
ORDER_STATUS_NAMES = {value: name for name, value in ORDER_STATUS.items()}
REFUND_STATUS = {
    "requested": pb.REFUND_STATUS_REQUESTED,
    "approved": pb.REFUND_STATUS_REQUESTED,  # the provider is paying it back right now
    "refunded": pb.REFUND_STATUS_REFUNDED,
    "rejected": pb.REFUND_STATUS_REJECTED,
}
ATTRIBUTION_FIELDS = [f.name for f in attribution_pb2.Attribution.DESCRIPTOR.fields]


def brand_pb(brand: Brand) -> pb.Brand:
    return pb.Brand(id=brand.id, owner_id=brand.owner_id, name=brand.name, created_at=timestamp(brand.created_at))


def order_status(order: Order) -> int:
    """The lifecycle status, overlaid by the refund state while a refund is pending or partial."""
    if order.pending_refund_id:
        return pb.ORDER_STATUS_REFUND_REQUESTED
    if order.refunded_fen and order.status not in (OrderStatus.REFUNDED, OrderStatus.COMPLETED):
        return pb.ORDER_STATUS_PARTIALLY_REFUNDED
    return ORDER_STATUS[order.status]


def order_pb(order: Order) -> pb.Order:
    return pb.Order(
        id=order.id,
        buyer_id=order.buyer_id,
        items=[
            pb.OrderItem(
                sku_id=i.sku_id, quantity=i.quantity, unit_price=money(i.unit_price_fen), amount=money(i.amount_fen)
            )
            for i in order.items
        ],
        total=money(order.total_fen),
        status=order_status(order),
        attribution=attribution_pb2.Attribution(**{f: order.attribution[f] for f in ATTRIBUTION_FIELDS}),
        created_at=timestamp(order.created_at),
        paid_at=timestamp(order.paid_at),
        shipped_at=timestamp(order.shipped_at),
        received_at=timestamp(order.received_at),
        completed_at=timestamp(order.completed_at),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        refunded=money(order.refunded_fen),
        awaiting_group=order.awaiting_group,
    )


def refund_pb(refund: Refund) -> pb.Refund:
    return pb.Refund(
        id=refund.id,
        order_id=refund.order_id,
        buyer_id=refund.buyer_id,
        lines=[pb.RefundLine(sku_id=r.sku_id, quantity=r.quantity, amount=money(r.amount_fen)) for r in refund.lines],
        amount=money(refund.amount_fen),
        reason=refund.reason,
        status=REFUND_STATUS[refund.status],
        reject_reason=refund.reject_reason,
        created_at=timestamp(refund.created_at),
        refunded_at=timestamp(refund.refunded_at),
    )


class RetailServicer(pb_grpc.RetailServiceServicer):
    def __init__(self, settings: RetailSettings, relay: OutboxRelay) -> None:
        self.settings = settings
        self.relay = relay

    def CreateBrand(self, request, context):
        return pb.CreateBrandResponse(brand=brand_pb(catalog.create_brand(request.name)))

    def GetBrand(self, request, context):
        return pb.GetBrandResponse(brand=brand_pb(catalog.get_brand(request.brand_id)))

    def CreateProduct(self, request, context):
        product, rows = catalog.create_product(
            request.brand_id,
            request.title,
            request.category,
            [new_sku(s) for s in request.skus],
            image_urls=list(request.image_urls),
            attributes=dict(request.attributes),
            commission=commission_rates(request.commission_rates),
        )
        return pb.CreateProductResponse(product=product_pb(product, rows))

    def GetProduct(self, request, context):
        return pb.GetProductResponse(product=product_pb(*catalog.get_product(request.product_id)))

    def ListProducts(self, request, context):
        status = PRODUCT_STATUS_NAMES.get(request.status)
        rows, cursor = catalog.list_products(request.page.cursor, request.page.limit, request.brand_id, status)
        return pb.ListProductsResponse(
            products=[product_pb(p, s) for p, s in rows], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def GetSku(self, request, context):
        return pb.GetSkuResponse(sku=sku_pb(catalog.get_sku(request.sku_id)))

    def ReviewProduct(self, request, context):
        product, skus = catalog.review_product(request.product_id, request.approve, request.reason)
        return pb.ReviewProductResponse(product=product_pb(product, skus))

    def AdjustStock(self, request, context):
        sku = stock.adjust_stock(request.sku_id, request.delta, request.reason, request.idempotency_key)
        return pb.AdjustStockResponse(sku=sku_pb(sku))

    def CreateOrder(self, request, context):
        attribution = {f: getattr(request.attribution, f) for f in ATTRIBUTION_FIELDS}
        lines = [Line(line.sku_id, line.quantity) for line in request.lines]
        quote = None
        if request.HasField("quote"):
            quote = Quote(request.quote.source, dict(request.quote.unit_price_fen), request.quote.distribution_enabled)
        order = orders.create_order(lines, attribution, request.idempotency_key, quote)
        self.relay.nudge(order)
        return pb.CreateOrderResponse(order=order_pb(order))

    def GetOrder(self, request, context):
        return pb.GetOrderResponse(order=order_pb(orders.get_order(request.order_id)))

    def CreatePayment(self, request, context):
        created = payments.create_payment(request.order_id, self.settings)
        return pb.CreatePaymentResponse(
            payment_id=created.payment.id,
            order_id=created.payment.order_id,
            amount=money(created.payment.amount_fen),
            provider_params=created.provider_params,
        )

    def HandlePaymentNotify(self, request, context):
        result = payments.handle_payment_notify(request.body, request.signature, self.settings)
        self.relay.nudge()
        return pb.HandlePaymentNotifyResponse(ack="SUCCESS", order_id=result.order_id, newly_paid=result.newly_paid)

    def ListOrders(self, request, context):
        status = ORDER_STATUS_NAMES.get(request.status, "")
        found, cursor = orders.list_orders(request.page.cursor, request.page.limit, request.store_id, status)
        return pb.ListOrdersResponse(
            orders=[order_pb(o) for o in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def ShipOrder(self, request, context):
        order = orders.ship_order(request.order_id, request.carrier, request.tracking_number)
        self.relay.nudge(order)
        return pb.ShipOrderResponse(order=order_pb(order))

    def ConfirmReceipt(self, request, context):
        order = orders.confirm_receipt(request.order_id)
        self.relay.nudge(order)
        return pb.ConfirmReceiptResponse(order=order_pb(order))

    def RequestRefund(self, request, context):
        lines = [Line(line.sku_id, line.quantity) for line in request.lines]
        refund = refunds.request_refund(request.order_id, lines, request.reason, request.idempotency_key)
        return pb.RequestRefundResponse(refund=refund_pb(refund))

    def ReviewRefund(self, request, context):
        refund = refunds.review_refund(request.refund_id, request.approve, request.reason)
        self.relay.nudge()
        return pb.ReviewRefundResponse(refund=refund_pb(refund))

    def ListRefunds(self, request, context):
        found, cursor = refunds.list_refunds(request.order_id, request.page.cursor, request.page.limit)
        return pb.ListRefundsResponse(
            refunds=[refund_pb(r) for r in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )
