"""StoreService over a real in-process gRPC server: wire format, codes, trailers."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from mallkit import context
from mallkit.testing import grpc_test_server
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.stores import Binding, Store, StoreProduct
from retail_s2b2c.servicers.stores import StoreServicer
from socialmall.common.v1 import money_pb2, page_pb2
from socialmall.retail.v1 import stores_pb2 as pb
from socialmall.retail.v1 import stores_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

LILY = context.Caller("u_lily", frozenset({"consumer"}))
MAX = context.Caller("u_max", frozenset({"consumer"}))
CONSUMER = context.Caller("u_consumer", frozenset({"consumer"}))


@pytest.fixture
def stub(mongo_db: str, settings: RetailSettings) -> Iterator[pb_grpc.StoreServiceStub]:
    servicer = StoreServicer(settings)
    with (
        grpc_test_server(lambda s: pb_grpc.add_StoreServiceServicer_to_server(servicer, s)) as target,
        grpc.insecure_channel(target) as channel,
    ):
        yield pb_grpc.StoreServiceStub(channel)


def meta(who: context.Caller) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), who)


def refused(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_a_store_from_opening_to_a_bound_consumer(stub, make_sku):
    opened = stub.OpenStore(pb.OpenStoreRequest(name="Lily's picks"), metadata=meta(LILY), timeout=5).store
    assert (opened.owner_id, opened.upline_owner_id, opened.HasField("created_at")) == (LILY.user_id, "", True)
    invited = stub.OpenStore(
        pb.OpenStoreRequest(name="Max", invite_code=opened.share_code), metadata=meta(MAX), timeout=5
    ).store
    assert invited.upline_owner_id == LILY.user_id
    assert stub.GetMyStore(pb.GetMyStoreRequest(), metadata=meta(LILY), timeout=5).store.id == opened.id
    updated = stub.UpdateStore(
        pb.UpdateStoreRequest(store_id=opened.id, name="Lily 2", intro="tea"), metadata=meta(LILY), timeout=5
    ).store
    assert (updated.name, updated.intro) == ("Lily 2", "tea")

    sku_id = make_sku(price_fen=2000, price_min_fen=1500, price_max_fen=2500)
    put = pb.PutStoreProductRequest(store_id=opened.id, sku_id=sku_id, price=money_pb2.Money(fen=2200))
    listed = stub.PutStoreProduct(put, metadata=meta(LILY), timeout=5).product
    assert (listed.title, listed.spec, listed.price.fen) == ("Rose face mist", "100ml", 2200)
    page = stub.ListStoreProducts(
        pb.ListStoreProductsRequest(store_id=opened.id, page=page_pb2.PageRequest(limit=10)), timeout=5
    )
    assert [p.sku_id for p in page.products] == [sku_id] and page.page.next_cursor == ""

    share = stub.GetSharePayload(pb.GetSharePayloadRequest(store_id=opened.id), timeout=5)
    assert share.link == share.qr_content
    assert share.link.endswith(f"/api/v1/stores/{opened.id}?share={share.share_code}")

    bound = stub.BindConsumer(pb.BindConsumerRequest(share_code=share.share_code), metadata=meta(CONSUMER), timeout=5)
    assert bound.newly_bound is True and bound.binding.store_id == opened.id
    assert bound.binding.HasField("expires_at")
    mine = stub.GetMyBinding(pb.GetMyBindingRequest(), metadata=meta(CONSUMER), timeout=5).binding
    assert mine.store_id == opened.id

    stub.RemoveStoreProduct(pb.RemoveStoreProductRequest(store_id=opened.id, sku_id=sku_id), metadata=meta(LILY))
    assert StoreProduct.objects.count() == 0


def test_store_refusals_carry_their_code_and_change_nothing(stub, make_sku):
    opened = stub.OpenStore(pb.OpenStoreRequest(name="Lily"), metadata=meta(LILY), timeout=5).store
    assert refused(lambda: stub.OpenStore(pb.OpenStoreRequest(name="Again"), metadata=meta(LILY), timeout=5)) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "already_has_store",
    )
    bad_invite = pb.OpenStoreRequest(name="Max", invite_code="ZZZZZZZZ")
    assert refused(lambda: stub.OpenStore(bad_invite, metadata=meta(MAX), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "invite_code_not_found",
    )
    assert [s.id for s in Store.objects] == [opened.id]

    sku_id = make_sku(price_fen=2000, price_min_fen=1500, price_max_fen=2500)
    outside = pb.PutStoreProductRequest(store_id=opened.id, sku_id=sku_id, price=money_pb2.Money(fen=2600))
    assert refused(lambda: stub.PutStoreProduct(outside, metadata=meta(LILY), timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "price_outside_band",
    )
    inside = pb.PutStoreProductRequest(store_id=opened.id, sku_id=sku_id, price=money_pb2.Money(fen=2000))
    assert refused(lambda: stub.PutStoreProduct(inside, metadata=meta(MAX), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "not_store_owner",
    )
    assert StoreProduct.objects.count() == 0

    own_code = pb.BindConsumerRequest(share_code=opened.share_code)
    assert refused(lambda: stub.BindConsumer(own_code, metadata=meta(LILY), timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "self_binding",
    )
    assert refused(lambda: stub.GetMyBinding(pb.GetMyBindingRequest(), metadata=meta(LILY), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "no_binding",
    )
    assert refused(lambda: stub.GetStore(pb.GetStoreRequest(store_id="sto_missing"), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "store_not_found",
    )
    assert Binding.objects.count() == 0
