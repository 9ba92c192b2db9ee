"""guide gRPC entrypoint: translate protos to use cases and back; nothing else."""

from __future__ import annotations

import redis

from guide import service
from guide.config import SERVICE, GuideSettings
from guide.documents import DOCUMENTS, Link
from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.grpc_client import ServiceClient
from mallkit.protos import timestamp
from mallkit.redis_conn import connect as connect_redis
from socialmall.guide.v1 import guide_pb2 as pb
from socialmall.guide.v1 import guide_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2_grpc


def link_pb(link: Link) -> pb.Link:
    return pb.Link(
        id=link.id,
        kol_id=link.kol_id,
        sku_id=link.sku_id,
        code=link.code,
        target_url=link.target_url,
        clicks=link.clicks,
        created_at=timestamp(link.created_at),
    )


class GuideServicer(pb_grpc.GuideServiceServicer):
    def __init__(self, settings: GuideSettings, retail: service.Retail, cache: redis.Redis) -> None:
        self.settings = settings
        self.retail = retail
        self.cache = cache

    def CreateLink(self, request, context):
        return pb.CreateLinkResponse(link=link_pb(service.create_link(request.sku_id, self.settings, self.retail)))

    def GetLink(self, request, context):
        return pb.GetLinkResponse(link=link_pb(service.get_link(request.link_id)))

    def ResolveLink(self, request, context):
        link = service.resolve_link(request.code, request.visitor_id, self.cache)
        return pb.ResolveLinkResponse(link_id=link.id, target_url=link.target_url)


def build(kit: KitSettings, settings: GuideSettings, port: int | None = None) -> grpc_server.GrpcApp:
    """Wire the API process: Mongo, Redis, the retail client and the gRPC server (no outbox yet)."""
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    cache = connect_redis(kit)
    retail = ServiceClient(
        retail_pb2_grpc.RetailServiceStub, settings.retail_grpc_target, deadline=kit.grpc_deadline_seconds
    )
    servicer = GuideServicer(settings, retail, cache)
    app = grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=lambda server: pb_grpc.add_GuideServiceServicer_to_server(servicer, server),
        service_names=[pb.DESCRIPTOR.services_by_name["GuideService"].full_name],
        checks=grpc_server.readiness_checks(kit.amqp_uri, cache.ping),
    )
    app.on_stop.append(retail.close)
    return app


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, GuideSettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
