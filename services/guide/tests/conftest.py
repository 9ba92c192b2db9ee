"""Fixtures shared by guide's integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from guide import service
from guide.config import GuideSettings
from guide.documents import Link
from mallkit import context, errors
from mallkit.testing import order_paid_event
from socialmall.retail.v1 import retail_pb2

KNOWN_SKU = "sku_known"


class FakeRetail:
    """Knows one SKU; answers NotFound (with retail's own code) for any other."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def GetSku(self, request: retail_pb2.GetSkuRequest) -> retail_pb2.GetSkuResponse:
        self.asked.append(request.sku_id)
        if request.sku_id != KNOWN_SKU:
            raise errors.NotFound(f"sku {request.sku_id} not found", "not_found")
        return retail_pb2.GetSkuResponse(sku=retail_pb2.Sku(id=request.sku_id))


@pytest.fixture
def settings() -> GuideSettings:
    return GuideSettings(
        grpc_port=0, db_name="unused", retail_grpc_target="unused", public_base_url="https://mall.example"
    )


@pytest.fixture
def retail() -> FakeRetail:
    return FakeRetail()


@pytest.fixture
def cache(redis_url: str, mongo_db: str) -> Iterator[redis.Redis]:
    """Redis; afterwards the UV keys of this test's links are deleted (link ids are unique per test)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    for link_id in Link.objects.scalar("id"):
        if keys := list(client.scan_iter(f"guide:uv:{link_id}:*")):
            client.delete(*keys)
    client.close()


@pytest.fixture
def create_link(mongo_db: str, settings: GuideSettings, retail: FakeRetail) -> Callable[..., Link]:
    """`create_link(kol_id)` creates a link to the known SKU as that user."""

    def make(kol_id: str = "u_kol") -> Link:
        with context.bound(context.new_request_id(), context.Caller(kol_id, frozenset({"kol"}))):
            return service.create_link(KNOWN_SKU, settings, retail)

    return make


@pytest.fixture
def order_paid() -> Callable[..., dict]:
    """retail's order_paid envelope for one order, attributed to `kol_link_id`."""
    return lambda order_id, kol_link_id, total_fen=1990: order_paid_event(
        order_id, total_fen=total_fen, sku_id=KNOWN_SKU, kol_link_id=kol_link_id
    )
