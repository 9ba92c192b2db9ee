"""retail-s2b2c API process: wires Mongo, Redis, the outbox relay and the gRPC server."""

from __future__ import annotations

import grpc

from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.outbox import OutboxRelay, Publisher
from mallkit.redis_conn import connect as connect_redis
from retail_s2b2c.config import SERVICE, RetailSettings
from retail_s2b2c.documents import DOCUMENTS, OUTBOX_DOCUMENTS
from retail_s2b2c.servicers.retail import RetailServicer
from retail_s2b2c.servicers.stores import StoreServicer
from retail_s2b2c.servicers.wallet import WalletServicer
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc
from socialmall.retail.v1 import stores_pb2, stores_pb2_grpc, wallet_pb2, wallet_pb2_grpc


def build(kit: KitSettings, settings: RetailSettings, port: int | None = None) -> grpc_server.GrpcApp:
    """Wire the API process: Mongo, Redis, the outbox relay and the gRPC server."""
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    redis = connect_redis(kit)
    relay = OutboxRelay(Publisher(kit.amqp_uri, SERVICE), OUTBOX_DOCUMENTS)

    def register(server: grpc.Server) -> None:
        pb_grpc.add_RetailServiceServicer_to_server(RetailServicer(settings, relay), server)
        stores_pb2_grpc.add_StoreServiceServicer_to_server(StoreServicer(settings), server)
        wallet_pb2_grpc.add_WalletServiceServicer_to_server(WalletServicer(settings, relay), server)

    app = grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=register,
        service_names=[
            pb.DESCRIPTOR.services_by_name["RetailService"].full_name,
            stores_pb2.DESCRIPTOR.services_by_name["StoreService"].full_name,
            wallet_pb2.DESCRIPTOR.services_by_name["WalletService"].full_name,
        ],
        checks=grpc_server.readiness_checks(kit.amqp_uri, redis.ping),
    )
    relay.start()
    app.on_stop.append(relay.stop)
    return app


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, RetailSettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
