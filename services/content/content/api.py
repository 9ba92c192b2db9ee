"""content gRPC entrypoint: translate protos to use cases and back; nothing else."""

from __future__ import annotations

from content import service
from content.config import SERVICE, ContentSettings
from content.documents import DOCUMENTS, Post
from content.retail import SkuSource
from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.grpc_client import ServiceClient
from mallkit.protos import timestamp
from mallkit.redis_conn import connect as connect_redis
from socialmall.content.v1 import content_pb2 as pb
from socialmall.content.v1 import content_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2_grpc


def post_pb(post: Post) -> pb.Post:
    return pb.Post(
        id=post.id,
        author_id=post.author_id,
        title=post.title,
        body=post.body,
        sku_ids=post.sku_ids,
        created_at=timestamp(post.created_at),
    )


class ContentServicer(pb_grpc.ContentServiceServicer):
    def __init__(self, retail: SkuSource) -> None:
        self.retail = retail

    def CreatePost(self, request, context):
        post = service.create_post(self.retail, request.title, request.body, list(request.sku_ids))
        return pb.CreatePostResponse(post=post_pb(post))

    def GetPost(self, request, context):
        return pb.GetPostResponse(post=post_pb(service.get_post(request.post_id)))


def build(kit: KitSettings, settings: ContentSettings, port: int | None = None) -> grpc_server.GrpcApp:
    """Wire the API process: Mongo, Redis, the retail client and the gRPC server.

    content has no outbox documents yet, so no relay runs; RabbitMQ stays a readiness check
    because the worker half of the service cannot work without it.
    """
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    redis = connect_redis(kit)
    retail = ServiceClient(retail_pb2_grpc.RetailServiceStub, settings.retail_target)
    app = grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=lambda server: pb_grpc.add_ContentServiceServicer_to_server(ContentServicer(retail), server),
        service_names=[pb.DESCRIPTOR.services_by_name["ContentService"].full_name],
        checks=grpc_server.readiness_checks(kit.amqp_uri, redis.ping),
    )
    app.on_stop.append(retail.close)
    return app


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, ContentSettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
