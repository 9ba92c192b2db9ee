"""The gRPC API in-process, talking to a fake retail over real gRPC."""

from collections.abc import Iterator

import grpc
import pytest

from content import api
from content.config import ContentSettings
from mallkit import context
from mallkit.config import KitSettings
from socialmall.content.v1 import content_pb2 as pb
from socialmall.content.v1 import content_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

AUTHOR = context.Caller("u_author", frozenset({"consumer"}))
ANONYMOUS = context.ANONYMOUS


def as_(who: context.Caller) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), who)


@pytest.fixture
def stub(mongo_db: str, retail_target: str) -> Iterator[pb_grpc.ContentServiceStub]:
    settings = ContentSettings(grpc_port=0, db_name=mongo_db, retail_target=retail_target)
    app = api.build(KitSettings.from_env(), settings, port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield pb_grpc.ContentServiceStub(channel)
    app.stop(grace=0)


def refusal(call, request, metadata) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call(request, metadata=metadata, timeout=10)
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_create_then_get_a_post(stub, fake_retail):
    request = pb.CreatePostRequest(title="Rose mist", body="Two weeks in.", sku_ids=["sku_mist", "sku_cream"])
    created = stub.CreatePost(request, metadata=as_(AUTHOR), timeout=10).post
    assert created.id.startswith("pst_") and created.author_id == "u_author"
    assert list(created.sku_ids) == ["sku_mist", "sku_cream"] and created.created_at.seconds > 0
    assert fake_retail.asked == [("u_author", "sku_mist"), ("u_author", "sku_cream")]  # identity reached retail
    found = stub.GetPost(pb.GetPostRequest(post_id=created.id), timeout=10).post  # public
    assert found == created


@pytest.mark.parametrize(
    ("who", "request_", "status", "code"),
    [
        (
            context.ANONYMOUS,
            pb.CreatePostRequest(title="t", sku_ids=["sku_mist"]),
            "PERMISSION_DENIED",
            "unauthenticated",
        ),
        (AUTHOR, pb.CreatePostRequest(title="", sku_ids=["sku_mist"]), "INVALID_ARGUMENT", "invalid_title"),
        (AUTHOR, pb.CreatePostRequest(title="t", sku_ids=[]), "INVALID_ARGUMENT", "invalid_sku_ids"),
        (AUTHOR, pb.CreatePostRequest(title="t", sku_ids=["sku_gone"]), "NOT_FOUND", "sku_not_found"),
        (AUTHOR, pb.CreatePostRequest(title="t", sku_ids=["sku_down"]), "UNAVAILABLE", "unavailable"),
    ],
)
def test_create_post_refusals(stub, who, request_, status, code):
    assert refusal(stub.CreatePost, request_, as_(who)) == (grpc.StatusCode[status], code)


def test_unknown_post_is_not_found(stub):
    request = pb.GetPostRequest(post_id="pst_nope")
    assert refusal(stub.GetPost, request, as_(AUTHOR)) == (grpc.StatusCode.NOT_FOUND, "post_not_found")
