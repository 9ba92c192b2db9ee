"""Fixtures shared by groupbuy's tests: a fake retail and retail's order_paid envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mallkit import context
from mallkit.errors import NotFound, Unavailable
from mallkit.testing import grpc_test_server, order_paid_event
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import retail_pb2, retail_pb2_grpc

SKU_PRICE_FEN = 1990
DOWN_SKU = "sku_down"


class FakeRetail(retail_pb2_grpc.RetailServiceServicer):
    """Retail's GetSku over a dict: usable as the service's client (unit tests) and as a
    servicer behind a real gRPC server (API tests). Records who asked, to check propagation."""

    def __init__(self, prices: dict[str, int]) -> None:
        self.prices = prices
        self.callers: list[context.Caller] = []

    def GetSku(self, request: retail_pb2.GetSkuRequest, grpc_context: Any = None) -> retail_pb2.GetSkuResponse:
        self.callers.append(context.caller())
        if request.sku_id == DOWN_SKU:
            raise Unavailable("retail's database is down")
        if request.sku_id not in self.prices:
            raise NotFound("no such sku")  # the generic code: the service must name it sku_not_found
        price = money_pb2.Money(fen=self.prices[request.sku_id])
        return retail_pb2.GetSkuResponse(sku=retail_pb2.Sku(id=request.sku_id, spec="100ml", price=price, stock=9))


@pytest.fixture
def fake_retail() -> FakeRetail:
    return FakeRetail({"sku_mist": SKU_PRICE_FEN})


@pytest.fixture
def retail_target(fake_retail: FakeRetail) -> Iterator[str]:
    """The fake retail behind a real in-process gRPC server (the kit's bootstrap maps its errors)."""
    with grpc_test_server(lambda server: retail_pb2_grpc.add_RetailServiceServicer_to_server(fake_retail, server)) as t:
        yield t


@pytest.fixture
def order_paid() -> Callable[..., dict]:
    """retail's order_paid envelope, attributed to a group team."""
    return lambda order_id, buyer_id="u_buyer", total_fen=3980, group_team_id="": order_paid_event(
        order_id, total_fen=total_fen, buyer_id=buyer_id, sku_id="sku_mist", group_team_id=group_team_id
    )
