"""groupbuy gRPC entrypoint: translate protos to use cases and back; nothing else."""

from __future__ import annotations

from groupbuy import service
from groupbuy.config import SERVICE, GroupbuySettings
from groupbuy.documents import DOCUMENTS, Campaign, PaidOrder
from groupbuy.domain.campaigns import CampaignStatus
from groupbuy.retail import SkuSource
from mallkit import grpc_server, logs, mongo
from mallkit.config import KitSettings
from mallkit.grpc_client import ServiceClient
from mallkit.protos import money, timestamp
from mallkit.redis_conn import connect as connect_redis
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc
from socialmall.retail.v1 import retail_pb2_grpc

CAMPAIGN_STATUS = {
    CampaignStatus.DRAFT: pb.CAMPAIGN_STATUS_DRAFT,
    CampaignStatus.LIVE: pb.CAMPAIGN_STATUS_LIVE,
    CampaignStatus.ENDED: pb.CAMPAIGN_STATUS_ENDED,
}


def campaign_pb(campaign: Campaign) -> pb.Campaign:
    return pb.Campaign(
        id=campaign.id,
        owner_id=campaign.owner_id,
        sku_id=campaign.sku_id,
        group_price=money(campaign.group_price_fen),
        team_size=campaign.team_size,
        expiry_hours=campaign.expiry_hours,
        status=CAMPAIGN_STATUS[campaign.status],
        created_at=timestamp(campaign.created_at),
    )


def paid_order_pb(paid: PaidOrder) -> pb.PaidOrder:
    return pb.PaidOrder(
        order_id=paid.order_id,
        buyer_id=paid.buyer_id,
        amount=money(paid.amount_fen),
        group_team_id=paid.group_team_id,
        event_id=paid.event_id,
        recorded_at=timestamp(paid.recorded_at),
    )


class GroupbuyServicer(pb_grpc.GroupbuyServiceServicer):
    def __init__(self, retail: SkuSource) -> None:
        self.retail = retail

    def CreateCampaign(self, request, context):
        campaign = service.create_campaign(
            self.retail, request.sku_id, request.group_price.fen, request.team_size, request.expiry_hours
        )
        return pb.CreateCampaignResponse(campaign=campaign_pb(campaign))

    def GetCampaign(self, request, context):
        return pb.GetCampaignResponse(campaign=campaign_pb(service.get_campaign(request.campaign_id)))

    def GetPaidOrder(self, request, context):
        return pb.GetPaidOrderResponse(paid_order=paid_order_pb(service.get_paid_order(request.order_id)))


def build(kit: KitSettings, settings: GroupbuySettings, port: int | None = None) -> grpc_server.GrpcApp:
    """Wire the API process: Mongo, Redis, the retail client and the gRPC server.

    groupbuy has no outbox documents yet, so no relay runs; RabbitMQ stays a readiness check
    because the worker half of the service cannot work without it.
    """
    mongo.connect(settings.db_name, kit)
    mongo.ensure_indexes(DOCUMENTS)
    redis = connect_redis(kit)
    retail = ServiceClient(retail_pb2_grpc.RetailServiceStub, settings.retail_target)
    app = grpc_server.build(
        name=SERVICE,
        port=settings.grpc_port if port is None else port,
        register=lambda server: pb_grpc.add_GroupbuyServiceServicer_to_server(GroupbuyServicer(retail), server),
        service_names=[pb.DESCRIPTOR.services_by_name["GroupbuyService"].full_name],
        checks=grpc_server.readiness_checks(kit.amqp_uri, redis.ping),
    )
    app.on_stop.append(retail.close)
    return app


def main() -> None:
    kit = KitSettings.from_env()
    logs.configure(SERVICE, kit.log_level)
    build(kit, GroupbuySettings.from_env()).serve_forever()


if __name__ == "__main__":
    main()
