"""groupbuy API process: wires Mongo, Redis, the retail client, the outbox relay and the gRPC server."""

from __future__ import annotations

import grpc

from groupbuy.config import SERVICE, GroupbuySettings
from groupbuy.documents import DOCUMENTS, OUTBOX_DOCUMENTS
from groupbuy.retail import IDEMPOTENT_CALLS
from groupbuy.servicers.bargains import BargainServicer
from groupbuy.servicers.groupbuy import GroupbuyServicer
from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.grpc_client import ServiceClient
from mallkit.outbox import OutboxRelay, Publisher
from mallkit.redis_conn import connect as connect_redis
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2_grpc


def build(kit: KitSettings, settings: GroupbuySettings, port: int | None = None) -> grpc_server.GrpcApp:
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    redis = connect_redis(kit)
    retail = ServiceClient(
        retail_pb2_grpc.RetailServiceStub, settings.retail_target, idempotent=IDEMPOTENT_CALLS, caller_service=SERVICE
    )
    relay = OutboxRelay(Publisher(kit.amqp_uri, SERVICE), OUTBOX_DOCUMENTS)

    def register(server: grpc.Server) -> None:
        pb_grpc.add_GroupbuyServiceServicer_to_server(GroupbuyServicer(retail, redis, relay), server)
        pb_grpc.add_BargainServiceServicer_to_server(BargainServicer(retail, redis, relay), server)

    app = grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=register,
        service_names=[
            pb.DESCRIPTOR.services_by_name["GroupbuyService"].full_name,
            pb.DESCRIPTOR.services_by_name["BargainService"].full_name,
        ],
        checks=grpc_server.readiness_checks(kit.amqp_uri, redis.ping),
    )
    relay.start()
    app.on_stop.extend([relay.stop, retail.close])
    return app


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, GroupbuySettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
