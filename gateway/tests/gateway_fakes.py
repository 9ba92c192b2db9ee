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
from socialmall.retail.v1 import (
    retail_pb2,
    retail_pb2_grpc,
    stores_pb2,
    stores_pb2_grpc,
    wallet_pb2,
    wallet_pb2_grpc,
)

CREATED_AT = datetime(2025, 1, 31, 8, 0, tzinfo=UTC)
SKU_PRICE_FEN = 1234
UNIT_PRICE_FEN = 1990
PAYMENT_AMOUNT_FEN = 3980
LINK_TARGET = "/products/prd_1?link=lnk_1"
UNSAFE_CODE = "evil"
SHARE_CODE = "K7Q2ZP9M"
STORE_PRICE_FEN = 12800
GROUP_PRICE_FEN = 990
SOLO_PRICE_FEN = 1790
GROUP_SHARE_CODE = "G7K2QX9P"
HOLD_EXPIRES_AT = datetime(2025, 1, 31, 8, 30, tzinfo=UTC)  # 30 minutes after the claim (groupbuy SEAT_HOLD)
BARGAIN_ORIGINAL_FEN = 12800
BARGAIN_FLOOR_FEN = 6800
BARGAIN_CUT_FEN = 1200


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

    def fail(
        self, method: str, code: grpc.StatusCode, message: str = "planned failure", error_code: str = "",
        details: str = "",
    ) -> None:  # fmt: skip
        """`details`: the service's error details as it sends them (JSON), if any."""
        self.failures[method] = (code, message, error_code or code.name.lower(), details)

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
            code, message, error_code, details = self.plan.failures[method]
            trailers = [("error-code", error_code)] + ([("error-details", details)] if details else [])
            context.set_trailing_metadata(tuple(trailers))
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

    def AdjustStock(self, request, context):
        self.enter("AdjustStock", request, context)
        sku = retail_pb2.Sku(id=request.sku_id, product_id="prd_1", spec="100ml", price=fen(SKU_PRICE_FEN))
        sku.stock = 7 + request.delta
        return retail_pb2.AdjustStockResponse(sku=sku)

    def _order(self, order_id: str, buyer_id: str, status: int = retail_pb2.ORDER_STATUS_PAID) -> retail_pb2.Order:
        item = retail_pb2.OrderItem(sku_id="sku_1", quantity=2, unit_price=fen(UNIT_PRICE_FEN), amount=fen(3980))
        return retail_pb2.Order(
            id=order_id,
            buyer_id=buyer_id,
            items=[item],
            total=fen(PAYMENT_AMOUNT_FEN),
            status=status,
            created_at=ts(),
            paid_at=ts(datetime(2025, 1, 31, 8, 5, tzinfo=UTC)),
        )

    def ListOrders(self, request, context):
        md = self.enter("ListOrders", request, context)
        more = "" if request.page.cursor else "b3JkXzI"
        orders = [self._order("ord_2", md.get("x-user-id", "")), self._order("ord_1", md.get("x-user-id", ""))]
        for order in orders:
            order.attribution.store_id = request.store_id
        return retail_pb2.ListOrdersResponse(orders=orders, page=page_pb2.PageResponse(next_cursor=more))

    def ShipOrder(self, request, context):
        self.enter("ShipOrder", request, context)
        order = self._order(request.order_id, "u_buyer", retail_pb2.ORDER_STATUS_SHIPPED)
        order.shipped_at.CopyFrom(ts(datetime(2025, 2, 1, 9, 0, tzinfo=UTC)))
        order.carrier, order.tracking_number = request.carrier, request.tracking_number
        return retail_pb2.ShipOrderResponse(order=order)

    def ConfirmReceipt(self, request, context):
        md = self.enter("ConfirmReceipt", request, context)
        order = self._order(request.order_id, md.get("x-user-id", ""), retail_pb2.ORDER_STATUS_RECEIVED)
        order.received_at.CopyFrom(ts(datetime(2025, 2, 3, 9, 0, tzinfo=UTC)))
        return retail_pb2.ConfirmReceiptResponse(order=order)

    def _refund(self, refund_id: str, order_id: str, buyer_id: str, status: int) -> retail_pb2.Refund:
        line = retail_pb2.RefundLine(sku_id="sku_1", quantity=1, amount=fen(UNIT_PRICE_FEN))
        return retail_pb2.Refund(
            id=refund_id,
            order_id=order_id,
            buyer_id=buyer_id,
            lines=[line],
            amount=fen(UNIT_PRICE_FEN),
            reason="arrived damaged",
            status=status,
            created_at=ts(),
        )

    def RequestRefund(self, request, context):
        md = self.enter("RequestRefund", request, context)
        refund = self._refund("rfd_1", request.order_id, md.get("x-user-id", ""), retail_pb2.REFUND_STATUS_REQUESTED)
        refund.reason = request.reason
        return retail_pb2.RequestRefundResponse(refund=refund)

    def ReviewRefund(self, request, context):
        self.enter("ReviewRefund", request, context)
        if request.approve:
            refund = self._refund(request.refund_id, "ord_1", "u_buyer", retail_pb2.REFUND_STATUS_REFUNDED)
            refund.refunded_at.CopyFrom(ts())
        else:
            refund = self._refund(request.refund_id, "ord_1", "u_buyer", retail_pb2.REFUND_STATUS_REJECTED)
            refund.reject_reason = request.reason
        return retail_pb2.ReviewRefundResponse(refund=refund)

    def ListRefunds(self, request, context):
        self.enter("ListRefunds", request, context)
        refund = self._refund("rfd_1", request.order_id, "u_buyer", retail_pb2.REFUND_STATUS_REQUESTED)
        return retail_pb2.ListRefundsResponse(refunds=[refund], page=page_pb2.PageResponse())


class FakeStores(Fake, stores_pb2_grpc.StoreServiceServicer):
    def _store(self, store_id: str, owner_id: str = "u_owner", upline: str = "") -> stores_pb2.Store:
        return stores_pb2.Store(
            id=store_id,
            owner_id=owner_id,
            name="Li's Tea",
            share_code=SHARE_CODE,
            upline_owner_id=upline,
            created_at=ts(),
        )

    def _listing(self, store_id: str, sku_id: str, price: int = STORE_PRICE_FEN) -> stores_pb2.StoreProduct:
        return stores_pb2.StoreProduct(
            store_id=store_id, sku_id=sku_id, product_id="prd_1", title="Longjing", spec="250g", price=fen(price)
        )

    def OpenStore(self, request, context):
        md = self.enter("OpenStore", request, context)
        store = self._store("sto_1", md.get("x-user-id", ""), "u_upline" if request.invite_code else "")
        store.name, store.avatar_url, store.intro = request.name, request.avatar_url, request.intro
        return stores_pb2.OpenStoreResponse(store=store)

    def GetStore(self, request, context):
        self.enter("GetStore", request, context)
        return stores_pb2.GetStoreResponse(store=self._store(request.store_id))

    def GetMyStore(self, request, context):
        md = self.enter("GetMyStore", request, context)
        return stores_pb2.GetMyStoreResponse(store=self._store("sto_1", md.get("x-user-id", "")))

    def UpdateStore(self, request, context):
        md = self.enter("UpdateStore", request, context)
        store = self._store(request.store_id, md.get("x-user-id", ""))
        store.name, store.avatar_url, store.intro = request.name, request.avatar_url, request.intro
        return stores_pb2.UpdateStoreResponse(store=store)

    def PutStoreProduct(self, request, context):
        self.enter("PutStoreProduct", request, context)
        return stores_pb2.PutStoreProductResponse(
            product=self._listing(request.store_id, request.sku_id, request.price.fen)
        )

    def RemoveStoreProduct(self, request, context):
        self.enter("RemoveStoreProduct", request, context)
        return stores_pb2.RemoveStoreProductResponse()

    def ListStoreProducts(self, request, context):
        self.enter("ListStoreProducts", request, context)
        more = "" if request.page.cursor else "c3RwXzI"
        products = [self._listing(request.store_id, "sku_1"), self._listing(request.store_id, "sku_2")]
        return stores_pb2.ListStoreProductsResponse(products=products, page=page_pb2.PageResponse(next_cursor=more))

    def GetSharePayload(self, request, context):
        self.enter("GetSharePayload", request, context)
        link = f"http://127.0.0.1:8000/api/v1/stores/{request.store_id}?share={SHARE_CODE}"
        return stores_pb2.GetSharePayloadResponse(share_code=SHARE_CODE, link=link, qr_content=link, title="Li's Tea")

    def _binding(self, consumer_id: str) -> stores_pb2.Binding:
        return stores_pb2.Binding(
            consumer_id=consumer_id,
            store_id="sto_1",
            bound_at=ts(),
            expires_at=ts(datetime(2025, 3, 2, 8, 0, tzinfo=UTC)),
        )

    def BindConsumer(self, request, context):
        md = self.enter("BindConsumer", request, context)
        return stores_pb2.BindConsumerResponse(binding=self._binding(md.get("x-user-id", "")), newly_bound=True)

    def GetMyBinding(self, request, context):
        md = self.enter("GetMyBinding", request, context)
        binding = self._binding(md.get("x-user-id", ""))
        binding.ClearField("expires_at")  # permanent
        return stores_pb2.GetMyBindingResponse(binding=binding)


class FakeWallet(Fake, wallet_pb2_grpc.WalletServiceServicer):
    def _entry(self, entry_id: str, beneficiary_id: str) -> wallet_pb2.Entry:
        return wallet_pb2.Entry(
            id=entry_id,
            beneficiary_id=beneficiary_id,
            kind="commission_l1",
            amount=fen(398),
            state=wallet_pb2.ENTRY_STATE_FROZEN,
            order_id="ord_1",
            source="retail",
            idempotency_key="order:ord_1:l1",
            note="level 1 commission, 10 % of ¥39.80",
            created_at=ts(),
        )

    def _withdrawal(self, user_id: str, amount: int, status: int) -> wallet_pb2.Withdrawal:
        return wallet_pb2.Withdrawal(
            id="wd_1", user_id=user_id, amount=fen(amount), fee=fen(0), status=status, created_at=ts()
        )

    def GetBalance(self, request, context):
        self.enter("GetBalance", request, context)
        balance = wallet_pb2.Balance(frozen=fen(398), available=fen(-100), withdrawing=fen(0), withdrawn=fen(5000))
        return wallet_pb2.GetBalanceResponse(balance=balance)

    def ListEntries(self, request, context):
        md = self.enter("ListEntries", request, context)
        entries = [self._entry("ent_1", request.user_id or md.get("x-user-id", ""))]
        return wallet_pb2.ListEntriesResponse(entries=entries, page=page_pb2.PageResponse(next_cursor="ZW50XzE"))

    def GetOrderPayouts(self, request, context):
        md = self.enter("GetOrderPayouts", request, context)
        return wallet_pb2.GetOrderPayoutsResponse(
            order_id=request.order_id,
            paid=fen(PAYMENT_AMOUNT_FEN),
            cap=fen(1194),
            booked=fen(398),
            entries=[self._entry("ent_1", md.get("x-user-id", ""))],
        )

    def RequestWithdrawal(self, request, context):
        md = self.enter("RequestWithdrawal", request, context)
        withdrawal = self._withdrawal(
            md.get("x-user-id", ""), request.amount.fen, wallet_pb2.WITHDRAWAL_STATUS_PENDING_REVIEW
        )
        return wallet_pb2.RequestWithdrawalResponse(withdrawal=withdrawal)

    def ReviewWithdrawal(self, request, context):
        self.enter("ReviewWithdrawal", request, context)
        status = wallet_pb2.WITHDRAWAL_STATUS_PAID if request.approve else wallet_pb2.WITHDRAWAL_STATUS_REJECTED
        withdrawal = self._withdrawal("u_1", 20000, status)
        withdrawal.id, withdrawal.reject_reason = request.withdrawal_id, request.reason
        if request.approve:
            withdrawal.paid_at.CopyFrom(ts())
        return wallet_pb2.ReviewWithdrawalResponse(withdrawal=withdrawal)

    def ListWithdrawals(self, request, context):
        md = self.enter("ListWithdrawals", request, context)
        withdrawal = self._withdrawal(
            request.user_id or md.get("x-user-id", ""), 20000, wallet_pb2.WITHDRAWAL_STATUS_PENDING_REVIEW
        )
        return wallet_pb2.ListWithdrawalsResponse(withdrawals=[withdrawal], page=page_pb2.PageResponse())

    def GetPayoutPolicy(self, request, context):
        self.enter("GetPayoutPolicy", request, context)
        policy = wallet_pb2.PayoutPolicy(paid_levels=2, level1_rate_bp=1000, level2_rate_bp=500, order_cap_bp=3000)
        return wallet_pb2.GetPayoutPolicyResponse(policy=policy)

    def UpdatePayoutPolicy(self, request, context):
        self.enter("UpdatePayoutPolicy", request, context)
        return wallet_pb2.UpdatePayoutPolicyResponse(policy=request.policy)


class FakeGroupbuy(Fake, groupbuy_pb2_grpc.GroupbuyServiceServicer):
    def _campaign(self, campaign_id: str, owner_id: str = "u_brand") -> groupbuy_pb2.Campaign:
        return groupbuy_pb2.Campaign(
            id=campaign_id,
            owner_id=owner_id,
            sku_id="sku_1",
            group_price=fen(GROUP_PRICE_FEN),
            team_size=3,
            expiry_hours=24,
            status=groupbuy_pb2.CAMPAIGN_STATUS_LIVE,
            created_at=ts(),
            seat_allotment=1000,
            seats_claimed=17,
        )

    def _seat(self, team_id: str, user_id: str, seat_no: int = 1, quantity: int = 1) -> groupbuy_pb2.Seat:
        return groupbuy_pb2.Seat(
            team_id=team_id,
            campaign_id="cmp_1",
            user_id=user_id,
            seat_no=seat_no,
            leader=seat_no == 1,
            status=groupbuy_pb2.SEAT_STATUS_HELD,
            team_status=groupbuy_pb2.TEAM_STATUS_FORMING,
            quantity=quantity,
            price=fen(GROUP_PRICE_FEN * quantity),
            hold_expires_at=ts(HOLD_EXPIRES_AT),
            claimed_at=ts(),
        )

    def _team(self, team_id: str, leader_id: str = "u_leader", seats: int = 1) -> groupbuy_pb2.Team:
        return groupbuy_pb2.Team(
            id=team_id,
            campaign_id="cmp_1",
            leader_id=leader_id,
            team_size=3,
            status=groupbuy_pb2.TEAM_STATUS_FORMING,
            seats_claimed=seats,
            created_at=ts(),
        )

    def CreateCampaign(self, request, context):
        md = self.enter("CreateCampaign", request, context)
        campaign = self._campaign("cmp_1", md.get("x-user-id", ""))
        campaign.group_price.fen = request.group_price.fen
        campaign.team_size = request.team_size
        campaign.expiry_hours = request.expiry_hours or 24
        campaign.leader_price.CopyFrom(request.leader_price)
        campaign.solo_price.CopyFrom(request.solo_price)
        campaign.seat_allotment = request.seat_allotment or 1000
        campaign.seats_claimed = 0
        if request.HasField("start_time"):
            campaign.start_time.CopyFrom(request.start_time)
        if request.HasField("end_time"):
            campaign.end_time.CopyFrom(request.end_time)
        campaign.limits.CopyFrom(request.limits)
        campaign.virtual_fill_percent = request.virtual_fill_percent
        campaign.distribution_enabled = request.distribution_enabled
        campaign.status = groupbuy_pb2.CAMPAIGN_STATUS_LIVE if request.publish else groupbuy_pb2.CAMPAIGN_STATUS_DRAFT
        return groupbuy_pb2.CreateCampaignResponse(campaign=campaign)

    def PublishCampaign(self, request, context):
        md = self.enter("PublishCampaign", request, context)
        campaign = self._campaign(request.campaign_id, md.get("x-user-id", ""))
        campaign.status = groupbuy_pb2.CAMPAIGN_STATUS_SCHEDULED
        campaign.start_time.CopyFrom(ts(datetime(2025, 2, 1, tzinfo=UTC)))
        return groupbuy_pb2.PublishCampaignResponse(campaign=campaign)

    def EndCampaign(self, request, context):
        md = self.enter("EndCampaign", request, context)
        campaign = self._campaign(request.campaign_id, md.get("x-user-id", ""))
        campaign.status = groupbuy_pb2.CAMPAIGN_STATUS_ENDED
        return groupbuy_pb2.EndCampaignResponse(campaign=campaign)

    def GetCampaign(self, request, context):
        self.enter("GetCampaign", request, context)
        return groupbuy_pb2.GetCampaignResponse(campaign=self._campaign(request.campaign_id))

    def ListCampaigns(self, request, context):
        self.enter("ListCampaigns", request, context)
        more = "" if request.page.cursor else "Y21wXzI"
        campaigns = [self._campaign("cmp_2"), self._campaign("cmp_1")]
        campaigns[0].solo_price.fen = SOLO_PRICE_FEN
        return groupbuy_pb2.ListCampaignsResponse(campaigns=campaigns, page=page_pb2.PageResponse(next_cursor=more))

    def OpenTeam(self, request, context):
        md = self.enter("OpenTeam", request, context)
        user = md.get("x-user-id", "")
        seat = self._seat("team_1", user, 1, request.quantity or 1)
        team = self._team("team_1", user)
        team.seats.append(seat)
        return groupbuy_pb2.OpenTeamResponse(team=team, seat=seat)

    def JoinTeam(self, request, context):
        md = self.enter("JoinTeam", request, context)
        team_id = request.team_id or "team_shared"
        seat = self._seat(team_id, md.get("x-user-id", ""), 2, request.quantity or 1)
        return groupbuy_pb2.JoinTeamResponse(seat=seat)

    def PlaceSeatOrder(self, request, context):
        md = self.enter("PlaceSeatOrder", request, context)
        seat = self._seat(request.team_id, md.get("x-user-id", ""), 2)
        seat.order_id = "ord_1"
        return groupbuy_pb2.PlaceSeatOrderResponse(seat=seat)

    def LeaveTeam(self, request, context):
        md = self.enter("LeaveTeam", request, context)
        team = self._team(request.team_id, md.get("x-user-id", ""), 0)
        team.status = groupbuy_pb2.TEAM_STATUS_FAILED
        team.failure_reason = "leader_left"
        return groupbuy_pb2.LeaveTeamResponse(team=team)

    def GetTeam(self, request, context):
        md = self.enter("GetTeam", request, context)
        team = self._team(request.team_id, "u_leader", 2)
        team.seats_paid = 1
        team.expires_at.CopyFrom(ts(datetime(2025, 2, 1, 8, 5, tzinfo=UTC)))
        paid = self._seat(request.team_id, "u_leader", 1)
        paid.status, paid.order_id = groupbuy_pb2.SEAT_STATUS_PAID, "ord_0"
        paid.paid_at.CopyFrom(ts(datetime(2025, 1, 31, 8, 5, tzinfo=UTC)))
        if md.get("x-user-id"):  # groupbuy shows seats to members only (here: anyone signed in)
            team.seats.extend([paid, self._seat(request.team_id, md.get("x-user-id", ""), 2)])
        return groupbuy_pb2.GetTeamResponse(team=team)

    def ListJoinableTeams(self, request, context):
        self.enter("ListJoinableTeams", request, context)
        return groupbuy_pb2.ListJoinableTeamsResponse(teams=[self._team("team_2", seats=2), self._team("team_3")])

    def ListMySeats(self, request, context):
        md = self.enter("ListMySeats", request, context)
        more = "" if request.page.cursor else "c2VhdF8y"
        seats = [self._seat("team_2", md.get("x-user-id", ""), 2), self._seat("team_1", md.get("x-user-id", ""))]
        return groupbuy_pb2.ListMySeatsResponse(seats=seats, page=page_pb2.PageResponse(next_cursor=more))

    def ShareTeam(self, request, context):
        self.enter("ShareTeam", request, context)
        return groupbuy_pb2.ShareTeamResponse(share_code=GROUP_SHARE_CODE)

    def GetShare(self, request, context):
        self.enter("GetShare", request, context)
        return groupbuy_pb2.GetShareResponse(team=self._team("team_1", "u_leader", 2), sharer_id="u_sharer")

    def PlaceSoloOrder(self, request, context):
        self.enter("PlaceSoloOrder", request, context)
        price = fen(SOLO_PRICE_FEN * (request.quantity or 1))
        return groupbuy_pb2.PlaceSoloOrderResponse(order_id="ord_solo", price=price)

    def GetCampaignFunnel(self, request, context):
        self.enter("GetCampaignFunnel", request, context)
        totals = groupbuy_pb2.FunnelCounts(shares=120, opens=40, joins=75, paid=90, formed=25)
        inviter = groupbuy_pb2.InviterFunnel(
            inviter_id="u_42", counts=groupbuy_pb2.FunnelCounts(shares=10, joins=6, paid=5, formed=2)
        )
        return groupbuy_pb2.GetCampaignFunnelResponse(totals=totals, inviters=[inviter])

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


class FakeBargain(Fake, groupbuy_pb2_grpc.BargainServiceServicer):
    def _campaign(self, campaign_id: str, owner_id: str = "u_brand") -> groupbuy_pb2.BargainCampaign:
        return groupbuy_pb2.BargainCampaign(
            id=campaign_id,
            owner_id=owner_id,
            sku_id="sku_1",
            original_price=fen(BARGAIN_ORIGINAL_FEN),
            floor_price=fen(BARGAIN_FLOOR_FEN),
            helpers_needed=5,
            expiry_hours=24,
            buy_rule=groupbuy_pb2.BUY_RULE_ANY_PRICE,
            daily_help_limit=3,
            created_at=ts(),
            status=groupbuy_pb2.CAMPAIGN_STATUS_LIVE,
        )

    def _bargain(self, bargain_id: str, initiator_id: str = "u_init", helps: int = 0) -> groupbuy_pb2.Bargain:
        return groupbuy_pb2.Bargain(
            id=bargain_id,
            campaign_id="bgc_1",
            sku_id="sku_1",
            initiator_id=initiator_id,
            buy_rule=groupbuy_pb2.BUY_RULE_FLOOR_ONLY,
            original_price=fen(BARGAIN_ORIGINAL_FEN),
            floor_price=fen(BARGAIN_FLOOR_FEN),
            current_price=fen(BARGAIN_ORIGINAL_FEN - BARGAIN_CUT_FEN * helps),
            helpers_needed=5,
            helps=helps,
            status=groupbuy_pb2.BARGAIN_STATUS_ACTIVE,
            expires_at=ts(datetime(2025, 2, 1, 8, 0, tzinfo=UTC)),
            created_at=ts(),
        )

    def _help(self, bargain_id: str, helper_id: str, seq: int) -> groupbuy_pb2.BargainHelp:
        return groupbuy_pb2.BargainHelp(
            bargain_id=bargain_id,
            helper_id=helper_id,
            seq=seq,
            cut=fen(BARGAIN_CUT_FEN),
            price_after=fen(BARGAIN_ORIGINAL_FEN - BARGAIN_CUT_FEN * seq),
            created_at=ts(datetime(2025, 1, 31, 9, 0, tzinfo=UTC)),
        )

    def CreateBargainCampaign(self, request, context):
        md = self.enter("CreateBargainCampaign", request, context)
        campaign = groupbuy_pb2.BargainCampaign(
            id="bgc_1",
            owner_id=md.get("x-user-id", ""),
            sku_id=request.sku_id,
            original_price=request.original_price,
            floor_price=request.floor_price,
            helpers_needed=request.helpers_needed,
            expiry_hours=request.expiry_hours or 24,
            buy_rule=request.buy_rule,
            daily_help_limit=request.daily_help_limit,
            new_users_only=request.new_users_only,
            new_user_bonus=request.new_user_bonus,
            created_at=ts(),
            status=groupbuy_pb2.CAMPAIGN_STATUS_SCHEDULED
            if request.HasField("start_time")
            else groupbuy_pb2.CAMPAIGN_STATUS_LIVE,
        )
        if request.HasField("start_time"):
            campaign.start_time.CopyFrom(request.start_time)
        if request.HasField("end_time"):
            campaign.end_time.CopyFrom(request.end_time)
        return groupbuy_pb2.CreateBargainCampaignResponse(campaign=campaign)

    def GetBargainCampaign(self, request, context):
        self.enter("GetBargainCampaign", request, context)
        return groupbuy_pb2.GetBargainCampaignResponse(campaign=self._campaign(request.campaign_id))

    def ListBargainCampaigns(self, request, context):
        self.enter("ListBargainCampaigns", request, context)
        more = "" if request.page.cursor else "YmdjXzE"
        campaigns = [self._campaign("bgc_2"), self._campaign("bgc_1")]
        return groupbuy_pb2.ListBargainCampaignsResponse(
            campaigns=campaigns, page=page_pb2.PageResponse(next_cursor=more)
        )

    def ListMyBargains(self, request, context):
        md = self.enter("ListMyBargains", request, context)
        bargains = [self._bargain("brg_2", md.get("x-user-id", "")), self._bargain("brg_1", md.get("x-user-id", ""))]
        return groupbuy_pb2.ListMyBargainsResponse(bargains=bargains, page=page_pb2.PageResponse(next_cursor=""))

    def StartBargain(self, request, context):
        md = self.enter("StartBargain", request, context)
        bargain = self._bargain("bgn_1", md.get("x-user-id", ""))
        bargain.campaign_id = request.campaign_id
        return groupbuy_pb2.StartBargainResponse(bargain=bargain)

    def GetBargain(self, request, context):
        self.enter("GetBargain", request, context)
        return groupbuy_pb2.GetBargainResponse(bargain=self._bargain(request.bargain_id, helps=2))

    def HelpBargain(self, request, context):
        md = self.enter("HelpBargain", request, context)
        return groupbuy_pb2.HelpBargainResponse(
            help=self._help(request.bargain_id, md.get("x-user-id", ""), 3),
            bargain=self._bargain(request.bargain_id, helps=3),
        )

    def ListBargainHelps(self, request, context):
        self.enter("ListBargainHelps", request, context)
        more = "" if request.page.cursor else "aGxwXzI"
        helps = [self._help(request.bargain_id, "u_h1", 1), self._help(request.bargain_id, "u_h2", 2)]
        return groupbuy_pb2.ListBargainHelpsResponse(helps=helps, page=page_pb2.PageResponse(next_cursor=more))

    def BuyBargain(self, request, context):
        md = self.enter("BuyBargain", request, context)
        bargain = self._bargain(request.bargain_id, md.get("x-user-id", ""), helps=5)
        bargain.current_price.fen = BARGAIN_FLOOR_FEN
        bargain.status, bargain.order_id = groupbuy_pb2.BARGAIN_STATUS_ORDERED, "ord_bgn"
        return groupbuy_pb2.BuyBargainResponse(bargain=bargain, price=fen(BARGAIN_FLOOR_FEN))


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


# One server per service process; retail's also serves StoreService and WalletService, groupbuy's
# BargainService, as the real ones do.
REGISTRARS: dict[str, tuple[tuple[type[Fake], Any], ...]] = {
    "retail": (
        (FakeRetail, retail_pb2_grpc.add_RetailServiceServicer_to_server),
        (FakeStores, stores_pb2_grpc.add_StoreServiceServicer_to_server),
        (FakeWallet, wallet_pb2_grpc.add_WalletServiceServicer_to_server),
    ),
    "groupbuy": (
        (FakeGroupbuy, groupbuy_pb2_grpc.add_GroupbuyServiceServicer_to_server),
        (FakeBargain, groupbuy_pb2_grpc.add_BargainServiceServicer_to_server),
    ),
    "content": ((FakeContent, content_pb2_grpc.add_ContentServiceServicer_to_server),),
    "agent": ((FakeAgent, agent_pb2_grpc.add_AgentServiceServicer_to_server),),
    "guide": ((FakeGuide, guide_pb2_grpc.add_GuideServiceServicer_to_server),),
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
    for name, servicers in REGISTRARS.items():
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        for servicer_class, add in servicers:
            add(servicer_class(plan), server)
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        service = FakeService(name, server, f"127.0.0.1:{port}", health_servicer)
        service.set_serving(True)
        services[name] = service
    return services
