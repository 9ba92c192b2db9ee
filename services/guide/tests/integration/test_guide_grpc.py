"""The guide API over real gRPC, with a fake retail on another in-process gRPC server."""

import grpc
import pytest

from guide.api import build
from guide.config import GuideSettings
from mallkit import context, errors
from mallkit.config import KitSettings
from mallkit.testing import grpc_test_server
from socialmall.guide.v1 import guide_pb2 as pb
from socialmall.guide.v1 import guide_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2, retail_pb2_grpc

pytestmark = pytest.mark.integration

KNOWN_SKU = "sku_known"


class FakeRetailServicer(retail_pb2_grpc.RetailServiceServicer):
    def __init__(self) -> None:
        self.callers: list[context.Caller] = []

    def GetSku(self, request, ctx):
        self.callers.append(context.caller())
        if request.sku_id != KNOWN_SKU:
            raise errors.NotFound("no such sku", "not_found")
        return retail_pb2.GetSkuResponse(sku=retail_pb2.Sku(id=request.sku_id, spec="100ml"))


@pytest.fixture
def fake_retail():
    servicer = FakeRetailServicer()
    with grpc_test_server(lambda server: retail_pb2_grpc.add_RetailServiceServicer_to_server(servicer, server)) as t:
        yield servicer, t


@pytest.fixture
def stub(mongo_db, cache, redis_url, amqp_uri, fake_retail, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    settings = GuideSettings(
        grpc_port=0, db_name=mongo_db, retail_grpc_target=fake_retail[1], public_base_url="https://mall.example"
    )
    app = build(KitSettings.from_env(), settings, port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield pb_grpc.GuideServiceStub(channel)
    app.stop(grace=0)


def meta(user_id: str = "", *roles: str) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), context.Caller(user_id, frozenset(roles)))


def refusal(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_create_resolve_and_get_over_grpc(stub, fake_retail):
    link = stub.CreateLink(pb.CreateLinkRequest(sku_id=KNOWN_SKU), metadata=meta("u_kol", "kol"), timeout=5).link
    assert fake_retail[0].callers == [context.Caller("u_kol", frozenset({"kol"}))]  # identity reached retail
    assert link.kol_id == "u_kol" and len(link.code) == 7
    assert link.target_url == f"https://mall.example/api/v1/skus/{KNOWN_SKU}?kol_link={link.id}"
    for visitor in ["v1", "v2"]:  # public: no identity
        resolved = stub.ResolveLink(
            pb.ResolveLinkRequest(code=link.code, visitor_id=visitor), metadata=meta(), timeout=5
        )
        assert (resolved.link_id, resolved.target_url) == (link.id, link.target_url)
    got = stub.GetLink(pb.GetLinkRequest(link_id=link.id), metadata=meta("u_kol", "kol"), timeout=5).link
    assert got.clicks == 2 and got.created_at == link.created_at


def test_refusals_over_grpc(stub):
    create = stub.CreateLink
    assert refusal(lambda: create(pb.CreateLinkRequest(sku_id=KNOWN_SKU), metadata=meta(), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "unauthenticated",
    )
    assert refusal(
        lambda: create(pb.CreateLinkRequest(sku_id="sku_gone"), metadata=meta("u_kol", "kol"), timeout=5)
    ) == (
        grpc.StatusCode.NOT_FOUND,
        "sku_not_found",
    )
    link = create(pb.CreateLinkRequest(sku_id=KNOWN_SKU), metadata=meta("u_kol", "kol"), timeout=5).link
    assert refusal(lambda: stub.GetLink(pb.GetLinkRequest(link_id=link.id), metadata=meta("u_other"), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "link_not_found",
    )
    resolve = stub.ResolveLink
    assert refusal(lambda: resolve(pb.ResolveLinkRequest(code="bad"), metadata=meta(), timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_code",
    )
    assert refusal(lambda: resolve(pb.ResolveLinkRequest(code="zzzzzzz"), metadata=meta(), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND,
        "link_not_found",
    )
