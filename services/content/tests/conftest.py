"""Fixtures shared by content's tests: a fake retail and retail's order_paid envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mallkit import context
from mallkit.errors import NotFound, Unavailable
from mallkit.testing import grpc_test_server, order_paid_event
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import retail_pb2, retail_pb2_grpc

DOWN_SKU = "sku_down"


class FakeRetail(retail_pb2_grpc.RetailServiceServicer):
    """Retail's GetSku over a set of ids: usable as the service's client (unit tests) and as a
    servicer behind a real gRPC server (API tests). Records what was asked and by whom."""

    def __init__(self, sku_ids: set[str]) -> None:
        self.sku_ids = sku_ids
        self.asked: list[tuple[str, str]] = []  # (caller's user id, sku id)

    def GetSku(self, request: retail_pb2.GetSkuRequest, grpc_context: Any = None) -> retail_pb2.GetSkuResponse:
        self.asked.append((context.caller().user_id, request.sku_id))
        if request.sku_id == DOWN_SKU:
            raise Unavailable("retail's database is down")
        if request.sku_id not in self.sku_ids:
            raise NotFound("no such sku")  # the generic code: the service must name it sku_not_found
        sku = retail_pb2.Sku(id=request.sku_id, spec="100ml", price=money_pb2.Money(fen=1990), stock=9)
        return retail_pb2.GetSkuResponse(sku=sku)


@pytest.fixture
def fake_retail() -> FakeRetail:
    return FakeRetail({"sku_mist", "sku_cream"})


@pytest.fixture
def retail_target(fake_retail: FakeRetail) -> Iterator[str]:
    """The fake retail behind a real in-process gRPC server (the kit's bootstrap maps its errors)."""
    with grpc_test_server(lambda server: retail_pb2_grpc.add_RetailServiceServicer_to_server(fake_retail, server)) as t:
        yield t


@pytest.fixture
def order_paid() -> Callable[..., dict[str, Any]]:
    """retail's order_paid envelope, attributed to a post."""
    return lambda order_id, post_id="", total_fen=1990: order_paid_event(
        order_id, total_fen=total_fen, sku_id="sku_mist", post_id=post_id
    )
