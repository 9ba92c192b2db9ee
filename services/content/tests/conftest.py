"""Fixtures shared by content's tests: a fake retail and retail's order_paid envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mallkit import context, grpc_server
from mallkit.errors import NotFound, Unavailable
from mallkit.events import new_event
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
    app = grpc_server.build(
        name="fake-retail",
        port=0,
        host="127.0.0.1",
        register=lambda server: retail_pb2_grpc.add_RetailServiceServicer_to_server(fake_retail, server),
        service_names=[],
        checks={},
    ).start()
    yield f"127.0.0.1:{app.port}"
    app.stop(grace=0)


@pytest.fixture
def order_paid() -> Callable[..., dict[str, Any]]:
    """retail's order_paid envelope, as retail_s2b2c.service._order_event builds it."""

    def make(order_id: str, post_id: str = "", total_fen: int = 1990) -> dict[str, Any]:
        attribution = dict.fromkeys(("store_id", "group_team_id", "bargain_id", "kol_link_id", "agent_id"), "")
        return new_event(
            "retail",
            "order_paid",
            {
                "order_id": order_id,
                "buyer_id": "u_buyer",
                "total_fen": total_fen,
                "items": [{"sku_id": "sku_mist", "quantity": 1, "unit_price_fen": total_fen, "amount_fen": total_fen}],
                "attribution": {**attribution, "post_id": post_id},
                "transaction_id": "tx_1",
                "paid_at": "2025-01-01T00:00:00+00:00",
            },
        )

    return make
