"""In-process fake gRPC services for the gateway tests: canned answers, planned failures, recorded calls."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from socialmall.agent.v1 import agent_pb2, agent_pb2_grpc
from socialmall.common.v1 import money_pb2, page_pb2
from socialmall.content.v1 import content_pb2, content_pb2_grpc
from socialmall.groupbuy.v1 import groupbuy_pb2, groupbuy_pb2_grpc
from socialmall.guide.v1 import guide_pb2, guide_pb2_grpc
from socialmall.retail.v1 import retail_pb2, retail_pb2_grpc

CREATED_AT = datetime(2025, 1, 31, 8, 0, tzinfo=UTC)
SKU_PRICE_FEN = 1234
UNIT_PRICE_FEN = 1990
PAYMENT_AMOUNT_FEN = 3980
LINK_TARGET = "/products/prd_1?link=lnk_1"
UNSAFE_CODE = "evil"


def ts(value: datetime = CREATED_AT) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def fen(amount: int) -> money_pb2.Money:
    return money_pb2.Money(fen=amount)


@dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str]


@dataclass
class Plan:
    """What the fakes should do next; reset before every test."""

    failures: dict[str, tuple[grpc.StatusCode, str, str]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def fail(self, method: str, code: grpc.StatusCode, message: str = "planned failure", error_code: str = "") -> None:
        self.failures[method] = (code, message, error_code or code.name.lower())

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        self.release.set()  # free any handler still hanging from the previous test
        self.failures.clear()
        self.hang.clear()
        self.calls.clear()
        self.release = threading.Event()


class Fake:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def enter(self, method: str, request: Any, context: grpc.ServicerContext) -> dict[str, str]:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.plan.calls.append(Call(method, request, metadata))
        if method in self.plan.hang:
            self.plan.release.wait(timeout=5)
        if method in self.plan.failures:
            code, message, error_code = self.plan.failures[method]
            context.set_trailing_metadata((("error-code", error_code),))
            context.abort(code, message)
        return metadata


class FakeRetail(Fake, retail_pb2_grpc.RetailServiceServicer):
    def CreateBrand(self, request, context):
        md = self.enter("CreateBrand", request, context)
        brand = retail_pb2.Brand(id="brand_1", owner_id=md.get("x-user-id", ""), name=request.name, created_at=ts())
        return retail_pb2.CreateBrandResponse(brand=brand)

    def GetBrand(self, request, context):
        self.enter("GetBrand", request, context)
        brand = retail_pb2.Brand(id=request.brand_id, owner_id="u_brand", name="Rose & Co", created_at=ts())
        return retail_pb2.GetBrandResponse(brand=brand)

    def _product(self, product_id: str) -> retail_pb2.Product:
        sku = retail_pb2.Sku(id="sku_1", product_id=product_id, spec="100ml", price=fen(SKU_PRICE_FEN), stock=7)
        return retail_pb2.Product(
            id=product_id, brand_id="brand_1", title="Mist", category="beauty", skus=[sku], created_at=ts()
        )

    def CreateProduct(self, request, context):
        self.enter("CreateProduct", request, context)
        skus = [
            retail_pb2.Sku(id=f"sku_{i}", product_id="prd_1", spec=s.spec, price=s.price, stock=s.stock)
            for i, s in enumerate(request.skus, 1)
        ]
        product = retail_pb2.Product(
            id="prd_1",
            brand_id=request.brand_id,
            title=request.title,
            category=request.category,
            skus=skus,
            created_at=ts(),
        )
        return retail_pb2.CreateProductResponse(product=product)

    def ReviewProduct(self, request, context):
        self.enter("ReviewProduct", request, context)
        product = self._product(request.product_id)
        product.status = retail_pb2.PRODUCT_STATUS_APPROVED if request.approve else retail_pb2.PRODUCT_STATUS_REJECTED
        product.reject_reason = "" if request.approve else request.reason
        for sku in product.skus:
            sku.sellable = request.approve
        return retail_pb2.ReviewProductResponse(product=product)

    def GetProduct(self, request, context):
        self.enter("GetProduct", request, context)
        return retail_pb2.GetProductResponse(product=self._product(request.product_id))

    def ListProducts(self, request, context):
        self.enter("ListProducts", request, context)
        more = "" if request.page.cursor else "cHJkXzI"
        return retail_pb2.ListProductsResponse(
            products=[self._product("prd_1"), self._product("prd_2")], page=page_pb2.PageResponse(next_cursor=more)
        )

    def GetSku(self, request, context):
        self.enter("GetSku", request, context)
        sku = retail_pb2.Sku(id=request.sku_id, product_id="prd_1", spec="100ml", price=fen(SKU_PRICE_FEN), stock=7)
        return retail_pb2.GetSkuResponse(sku=sku)

    def CreateOrder(self, request, context):
        md = self.enter("CreateOrder", request, context)
        items = [
            retail_pb2.OrderItem(
                sku_id=line.sku_id,
                quantity=line.quantity,
                unit_price=fen(UNIT_PRICE_FEN),
                amount=fen(UNIT_PRICE_FEN * line.quantity),
            )
            for line in request.lines
        ]
        order = retail_pb2.Order(
            id="ord_1",
            buyer_id=md.get("x-user-id", ""),
            items=items,
            total=fen(sum(i.amount.fen for i in items)),
            status=retail_pb2.ORDER_STATUS_CREATED,
            attribution=request.attribution,
            created_at=ts(),
        )
        return retail_pb2.CreateOrderResponse(order=order)

    def GetOrder(self, request, context):
        md = self.enter("GetOrder", request, context)
        order = retail_pb2.Order(
            id=request.order_id,
            buyer_id=md.get("x-user-id", ""),
            total=fen(PAYMENT_AMOUNT_FEN),
            status=retail_pb2.ORDER_STATUS_PAID,
            created_at=ts(),
            paid_at=ts(datetime(2025, 1, 31, 8, 5, tzinfo=UTC)),
        )
        return retail_pb2.GetOrderResponse(order=order)

    def CreatePayment(self, request, context):
        self.enter("CreatePayment", request, context)
        return retail_pb2.CreatePaymentResponse(
            payment_id="pay_1",
            order_id=request.order_id,
            amount=fen(PAYMENT_AMOUNT_FEN),
            provider_params={"provider": "simulated", "prepay_id": "pay_1"},
        )

    def HandlePaymentNotify(self, request, context):
        self.enter("HandlePaymentNotify", request, context)
        return retail_pb2.HandlePaymentNotifyResponse(ack="SUCCESS", order_id="ord_1", newly_paid=True)


class FakeGroupbuy(Fake, groupbuy_pb2_grpc.GroupbuyServiceServicer):
    def _campaign(self, campaign_id: str, owner_id: str = "u_brand") -> groupbuy_pb2.Campaign:
        return groupbuy_pb2.Campaign(
            id=campaign_id,
            owner_id=owner_id,
            sku_id="sku_1",
            group_price=fen(990),
            team_size=3,
            expiry_hours=24,
            status=groupbuy_pb2.CAMPAIGN_STATUS_LIVE,
            created_at=ts(),
        )

    def CreateCampaign(self, request, context):
        md = self.enter("CreateCampaign", request, context)
        campaign = self._campaign("cmp_1", md.get("x-user-id", ""))
        campaign.group_price.fen = request.group_price.fen
        campaign.team_size = request.team_size
        campaign.expiry_hours = request.expiry_hours or 24
        return groupbuy_pb2.CreateCampaignResponse(campaign=campaign)

    def GetCampaign(self, request, context):
        self.enter("GetCampaign", request, context)
        return groupbuy_pb2.GetCampaignResponse(campaign=self._campaign(request.campaign_id))

    def GetPaidOrder(self, request, context):
        md = self.enter("GetPaidOrder", request, context)
        paid = groupbuy_pb2.PaidOrder(
            order_id=request.order_id,
            buyer_id=md.get("x-user-id", ""),
            amount=fen(PAYMENT_AMOUNT_FEN),
            event_id="evt_1",
            recorded_at=ts(),
        )
        return groupbuy_pb2.GetPaidOrderResponse(paid_order=paid)


class FakeContent(Fake, content_pb2_grpc.ContentServiceServicer):
    def CreatePost(self, request, context):
        md = self.enter("CreatePost", request, context)
        post = content_pb2.Post(
            id="post_1",
            author_id=md.get("x-user-id", ""),
            title=request.title,
            body=request.body,
            sku_ids=request.sku_ids,
            created_at=ts(),
        )
        return content_pb2.CreatePostResponse(post=post)

    def GetPost(self, request, context):
        self.enter("GetPost", request, context)
        post = content_pb2.Post(id=request.post_id, author_id="u_1", title="t", body="b", sku_ids=["sku_1"])
        return content_pb2.GetPostResponse(post=post)


class FakeAgent(Fake, agent_pb2_grpc.AgentServiceServicer):
    def RegisterAgent(self, request, context):
        md = self.enter("RegisterAgent", request, context)
        agent = agent_pb2.Agent(
            id="agt_1",
            user_id=md.get("x-user-id", ""),
            display_name=request.display_name,
            upline_id="agt_0" if request.invite_code else "",
            depth=2 if request.invite_code else 1,
            invite_code="K7Q2ZP",
            created_at=ts(),
        )
        return agent_pb2.RegisterAgentResponse(agent=agent)

    def GetAgent(self, request, context):
        self.enter("GetAgent", request, context)
        agent = agent_pb2.Agent(id=request.agent_id, user_id="u_1", display_name="Li", depth=1, invite_code="K7Q2ZP")
        return agent_pb2.GetAgentResponse(agent=agent)


class FakeGuide(Fake, guide_pb2_grpc.GuideServiceServicer):
    def _link(self, link_id: str, kol_id: str = "u_kol", sku_id: str = "sku_1") -> guide_pb2.Link:
        return guide_pb2.Link(
            id=link_id, kol_id=kol_id, sku_id=sku_id, code="aZ3k9Q", target_url=LINK_TARGET, clicks=0, created_at=ts()
        )

    def CreateLink(self, request, context):
        md = self.enter("CreateLink", request, context)
        return guide_pb2.CreateLinkResponse(link=self._link("lnk_1", md.get("x-user-id", ""), request.sku_id))

    def GetLink(self, request, context):
        self.enter("GetLink", request, context)
        return guide_pb2.GetLinkResponse(link=self._link(request.link_id))

    def ResolveLink(self, request, context):
        self.enter("ResolveLink", request, context)
        target = "javascript:alert(1)" if request.code == UNSAFE_CODE else LINK_TARGET
        return guide_pb2.ResolveLinkResponse(link_id="lnk_1", target_url=target)


REGISTRARS = {
    "retail": (FakeRetail, retail_pb2_grpc.add_RetailServiceServicer_to_server),
    "groupbuy": (FakeGroupbuy, groupbuy_pb2_grpc.add_GroupbuyServiceServicer_to_server),
    "content": (FakeContent, content_pb2_grpc.add_ContentServiceServicer_to_server),
    "agent": (FakeAgent, agent_pb2_grpc.add_AgentServiceServicer_to_server),
    "guide": (FakeGuide, guide_pb2_grpc.add_GuideServiceServicer_to_server),
}


@dataclass
class FakeService:
    name: str
    server: grpc.Server
    target: str
    health: health.HealthServicer

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        self.health.set("", status)


def start_fakes(plan: Plan) -> dict[str, FakeService]:
    services = {}
    for name, (servicer_class, add) in REGISTRARS.items():
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        add(servicer_class(plan), server)
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        service = FakeService(name, server, f"127.0.0.1:{port}", health_servicer)
        service.set_serving(True)
        services[name] = service
    return services
