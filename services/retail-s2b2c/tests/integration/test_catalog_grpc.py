"""RetailService's catalog methods over a real in-process gRPC server: wire format, codes, trailers."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from mallkit import context
from mallkit.testing import NoRelay, grpc_test_server
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.catalog import Product, Sku, StockAdjustment
from retail_s2b2c.servicers.retail import RetailServicer
from socialmall.common.v1 import money_pb2, page_pb2
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

OWNER = context.Caller("u_brand", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))
SHOPPER = context.Caller("u_shopper", frozenset({"consumer"}))


@pytest.fixture
def stub(mongo_db: str, settings: RetailSettings) -> Iterator[pb_grpc.RetailServiceStub]:
    servicer = RetailServicer(settings, NoRelay())
    with (
        grpc_test_server(lambda s: pb_grpc.add_RetailServiceServicer_to_server(servicer, s)) as target,
        grpc.insecure_channel(target) as channel,
    ):
        yield pb_grpc.RetailServiceStub(channel)


def meta(who: context.Caller) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), who)


def fen(value: int) -> money_pb2.Money:
    return money_pb2.Money(fen=value)


def refused(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_create_review_list_and_adjust_over_grpc(stub):
    brand = stub.CreateBrand(pb.CreateBrandRequest(name="Lotus"), metadata=meta(OWNER), timeout=5).brand
    request = pb.CreateProductRequest(
        brand_id=brand.id,
        title="Tea",
        category="food",
        skus=[pb.NewSku(spec="250g", price=fen(1000), stock=5, supply_price=fen(600), price_max=fen(1500))],
        image_urls=["https://cdn.example/tea.jpg"],
        attributes={"origin": "Yunnan"},
        commission_rates=pb.CommissionRates(level1_rate_bp=1200),
    )
    product = stub.CreateProduct(request, metadata=meta(OWNER), timeout=5).product
    assert product.status == pb.PRODUCT_STATUS_PENDING_REVIEW
    assert product.commission_rates.HasField("level1_rate_bp") and product.commission_rates.level1_rate_bp == 1200
    assert not product.commission_rates.HasField("level2_rate_bp")
    assert (product.image_urls, dict(product.attributes)) == (["https://cdn.example/tea.jpg"], {"origin": "Yunnan"})
    (sku,) = product.skus
    assert (sku.supply_price.fen, sku.price_min.fen, sku.price.fen, sku.price_max.fen) == (600, 1000, 1000, 1500)
    assert sku.sellable is False

    public = stub.ListProducts(pb.ListProductsRequest(page=page_pb2.PageRequest(limit=10)), timeout=5)
    assert list(public.products) == []
    mine = stub.ListProducts(
        pb.ListProductsRequest(status=pb.PRODUCT_STATUS_PENDING_REVIEW), metadata=meta(OWNER), timeout=5
    )
    assert [p.id for p in mine.products] == [product.id]
    assert refused(lambda: stub.GetProduct(pb.GetProductRequest(product_id=product.id), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "product_not_found",
    )

    review = pb.ReviewProductRequest(product_id=product.id, approve=True)
    approved = stub.ReviewProduct(review, metadata=meta(ADMIN), timeout=5).product
    assert approved.status == pb.PRODUCT_STATUS_APPROVED and approved.skus[0].sellable is True
    assert stub.GetProduct(pb.GetProductRequest(product_id=product.id), timeout=5).product.id == product.id

    adjust = pb.AdjustStockRequest(sku_id=sku.id, delta=-2, reason="damaged", idempotency_key="k1")
    assert stub.AdjustStock(adjust, metadata=meta(OWNER), timeout=5).sku.stock == 3
    assert stub.AdjustStock(adjust, metadata=meta(OWNER), timeout=5).sku.stock == 3


def test_catalog_refusals_carry_their_code_and_change_nothing(stub):
    brand = stub.CreateBrand(pb.CreateBrandRequest(name="Lotus"), metadata=meta(OWNER), timeout=5).brand
    no_supply = pb.CreateProductRequest(brand_id=brand.id, title="Tea", skus=[pb.NewSku(spec="a", price=fen(100))])
    assert refused(lambda: stub.CreateProduct(no_supply, metadata=meta(OWNER), timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "supply_price_required",
    )
    assert Product.objects.count() == 0
    ok = pb.CreateProductRequest(
        brand_id=brand.id, title="Tea", skus=[pb.NewSku(spec="a", price=fen(100), stock=1, supply_price=fen(50))]
    )
    product = stub.CreateProduct(ok, metadata=meta(OWNER), timeout=5).product
    reject = pb.ReviewProductRequest(product_id=product.id, approve=False)
    assert refused(lambda: stub.ReviewProduct(reject, metadata=meta(ADMIN), timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "reason_required",
    )
    assert refused(lambda: stub.ReviewProduct(reject, metadata=meta(OWNER), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "role_required",
    )
    assert Product.objects.get(id=product.id).status == "pending_review"
    too_many = pb.AdjustStockRequest(sku_id=product.skus[0].id, delta=-2, reason="writeoff")
    assert refused(lambda: stub.AdjustStock(too_many, metadata=meta(OWNER), timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "insufficient_stock",
    )
    assert refused(lambda: stub.AdjustStock(too_many, metadata=meta(SHOPPER), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "role_required",
    )
    assert Sku.objects.get(id=product.skus[0].id).stock == 1 and StockAdjustment.objects.count() == 0
