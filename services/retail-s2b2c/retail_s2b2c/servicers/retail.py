"""RetailService: catalog, orders and payments; translates protos to use cases and back."""

from __future__ import annotations

from mallkit.outbox import OutboxRelay
from mallkit.protos import money, timestamp
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.domain.catalog import NewSku
from retail_s2b2c.domain.orders import Line
from retail_s2b2c.service import catalog, orders
from socialmall.common.v1 import attribution_pb2, page_pb2
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

ORDER_STATUS = {
    "created": pb.ORDER_STATUS_CREATED,
    "paid": pb.ORDER_STATUS_PAID,
    "cancelled": pb.ORDER_STATUS_CANCELLED,
}
ATTRIBUTION_FIELDS = [f.name for f in attribution_pb2.Attribution.DESCRIPTOR.fields]


def brand_pb(brand: Brand) -> pb.Brand:
    return pb.Brand(id=brand.id, owner_id=brand.owner_id, name=brand.name, created_at=timestamp(brand.created_at))


def sku_pb(sku: Sku) -> pb.Sku:
    return pb.Sku(id=sku.id, product_id=sku.product_id, spec=sku.spec, price=money(sku.price_fen), stock=sku.stock)


def product_pb(product: Product, skus: list[Sku]) -> pb.Product:
    return pb.Product(
        id=product.id,
        brand_id=product.brand_id,
        title=product.title,
        category=product.category,
        skus=[sku_pb(s) for s in skus],
        created_at=timestamp(product.created_at),
    )


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
        status=ORDER_STATUS[order.status],
        attribution=attribution_pb2.Attribution(**{f: order.attribution[f] for f in ATTRIBUTION_FIELDS}),
        created_at=timestamp(order.created_at),
        paid_at=timestamp(order.paid_at),
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
        skus = [NewSku(s.spec, s.price.fen, s.stock) for s in request.skus]
        product, rows = catalog.create_product(request.brand_id, request.title, request.category, skus)
        return pb.CreateProductResponse(product=product_pb(product, rows))

    def GetProduct(self, request, context):
        return pb.GetProductResponse(product=product_pb(*catalog.get_product(request.product_id)))

    def ListProducts(self, request, context):
        rows, cursor = catalog.list_products(request.page.cursor, request.page.limit, request.brand_id)
        return pb.ListProductsResponse(
            products=[product_pb(p, s) for p, s in rows], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def GetSku(self, request, context):
        return pb.GetSkuResponse(sku=sku_pb(catalog.get_sku(request.sku_id)))

    def CreateOrder(self, request, context):
        attribution = {f: getattr(request.attribution, f) for f in ATTRIBUTION_FIELDS}
        lines = [Line(line.sku_id, line.quantity) for line in request.lines]
        order = orders.create_order(lines, attribution, request.idempotency_key)
        self.relay.nudge()
        return pb.CreateOrderResponse(order=order_pb(order))

    def GetOrder(self, request, context):
        return pb.GetOrderResponse(order=order_pb(orders.get_order(request.order_id)))

    def CreatePayment(self, request, context):
        created = orders.create_payment(request.order_id, self.settings)
        return pb.CreatePaymentResponse(
            payment_id=created.payment.id,
            order_id=created.payment.order_id,
            amount=money(created.payment.amount_fen),
            provider_params=created.provider_params,
        )

    def HandlePaymentNotify(self, request, context):
        result = orders.handle_payment_notify(request.body, request.signature, self.settings)
        self.relay.nudge()
        return pb.HandlePaymentNotifyResponse(ack="SUCCESS", order_id=result.order_id, newly_paid=result.newly_paid)
