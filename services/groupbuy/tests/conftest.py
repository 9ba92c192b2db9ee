"""Fixtures shared by groupbuy's tests: a fake retail, the seat gate on real Redis, callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from groupbuy.service.seat_gate import SeatGate
from mallkit import context
from mallkit.errors import NotFound, Unavailable
from mallkit.testing import grpc_test_server, order_paid_event
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import retail_pb2, retail_pb2_grpc

SKU_PRICE_FEN = 1990
DOWN_SKU = "sku_down"
BRAND_ID = "brd_mist"

BRAND = context.Caller("u_brand", frozenset({"brand"}))
OTHER_BRAND = context.Caller("u_other_brand", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))


def user(user_id: str) -> context.Caller:
    return context.Caller(user_id, frozenset({"consumer"}))


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


class FakeRetail(retail_pb2_grpc.RetailServiceServicer):
    """What groupbuy asks of retail, over dicts: usable as the service's client (in-process) and as
    a servicer behind a real gRPC server. Records who asked, and the orders it was asked for."""

    def __init__(self, prices: dict[str, int]) -> None:
        self.prices = prices
        self.callers: list[context.Caller] = []
        self.orders: dict[tuple[str, str], retail_pb2.CreateOrderRequest] = {}  # by (buyer, idempotency key)
        self.order_ids: dict[tuple[str, str], str] = {}
        self.sellable = True

    def GetSku(self, request: retail_pb2.GetSkuRequest, grpc_context: Any = None) -> retail_pb2.GetSkuResponse:
        self.callers.append(context.caller())
        if request.sku_id == DOWN_SKU:
            raise Unavailable("retail's database is down")
        if request.sku_id not in self.prices:
            raise NotFound("no such sku")  # the generic code: the service must name it sku_not_found
        price = money_pb2.Money(fen=self.prices[request.sku_id])
        sku = retail_pb2.Sku(id=request.sku_id, product_id="prd_mist", spec="100ml", price=price, stock=9,
                             sellable=self.sellable)  # fmt: skip
        return retail_pb2.GetSkuResponse(sku=sku)

    def GetProduct(self, request, grpc_context: Any = None) -> retail_pb2.GetProductResponse:
        return retail_pb2.GetProductResponse(product=retail_pb2.Product(id=request.product_id, brand_id=BRAND_ID))

    def GetBrand(self, request, grpc_context: Any = None) -> retail_pb2.GetBrandResponse:
        return retail_pb2.GetBrandResponse(brand=retail_pb2.Brand(id=request.brand_id, owner_id=BRAND.user_id))

    def CreateOrder(self, request: retail_pb2.CreateOrderRequest, grpc_context: Any = None):
        who = context.caller()
        self.callers.append(who)
        key = (who.user_id, request.idempotency_key)
        self.orders.setdefault(key, request)
        order_id = self.order_ids.setdefault(key, f"ord_{len(self.order_ids) + 1}")
        line = request.lines[0]
        total = request.quote.unit_price_fen[line.sku_id] * line.quantity
        return retail_pb2.CreateOrderResponse(
            order=retail_pb2.Order(id=order_id, buyer_id=who.user_id, total=money_pb2.Money(fen=total))
        )


def answer_lost(create_order: Callable[..., Any]) -> Callable[..., Any]:
    """CreateOrder as retail does it when the answer never comes back (a deadline that ran out, a
    process that died): the order is made, the caller hears Unavailable."""

    def made_then_lost(request: retail_pb2.CreateOrderRequest, grpc_context: Any = None) -> Any:
        create_order(request, grpc_context)
        raise Unavailable("deadline exceeded")

    return made_then_lost


def redis_down(*args: Any, **kwargs: Any) -> None:
    """Stands in for a gate method while Redis restarts."""
    raise redis.exceptions.ConnectionError("Redis is restarting")


@pytest.fixture
def fake_retail() -> FakeRetail:
    return FakeRetail({"sku_mist": SKU_PRICE_FEN})


@pytest.fixture
def retail_target(fake_retail: FakeRetail) -> Iterator[str]:
    """The fake retail behind a real in-process gRPC server (the kit's bootstrap maps its errors)."""
    with grpc_test_server(lambda server: retail_pb2_grpc.add_RetailServiceServicer_to_server(fake_retail, server)) as t:
        yield t


@pytest.fixture
def gate(redis_url: str) -> SeatGate:
    return SeatGate(redis.Redis.from_url(redis_url, decode_responses=True))


@pytest.fixture
def order_paid() -> Callable[..., dict]:
    """retail's order_paid envelope, attributed to a group team."""
    return lambda order_id, buyer_id="u_buyer", total_fen=3980, group_team_id="": order_paid_event(
        order_id, total_fen=total_fen, buyer_id=buyer_id, sku_id="sku_mist", group_team_id=group_team_id
    )
