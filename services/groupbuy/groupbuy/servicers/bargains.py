"""BargainService: translates protos to the bargain use cases and back; nothing else."""

from __future__ import annotations

from typing import Any

import redis as redis_lib

from groupbuy.documents.bargains import Bargain, BargainCampaign, Help
from groupbuy.domain.bargains import BargainStatus, BargainTerms, BuyRule
from groupbuy.retail import Retail
from groupbuy.service import bargains
from groupbuy.servicers.groupbuy import CAMPAIGN_STATUS, STATUS_FILTER
from mallkit.outbox import OutboxRelay
from mallkit.protos import datetime_of, money, timestamp
from socialmall.common.v1 import page_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc

BUY_RULE = {BuyRule.ANY_PRICE: pb.BUY_RULE_ANY_PRICE, BuyRule.FLOOR_ONLY: pb.BUY_RULE_FLOOR_ONLY}
BUY_RULE_NAMES = {value: name for name, value in BUY_RULE.items()}  # UNSPECIFIED → None: the default
BARGAIN_STATUS = {
    BargainStatus.ACTIVE: pb.BARGAIN_STATUS_ACTIVE,
    BargainStatus.COMPLETED: pb.BARGAIN_STATUS_COMPLETED,
    BargainStatus.ORDERED: pb.BARGAIN_STATUS_ORDERED,
    BargainStatus.EXPIRED: pb.BARGAIN_STATUS_EXPIRED,
}


def campaign_pb(campaign: BargainCampaign) -> pb.BargainCampaign:
    return pb.BargainCampaign(
        id=campaign.id,
        owner_id=campaign.owner_id,
        sku_id=campaign.sku_id,
        original_price=money(campaign.original_price_fen),
        floor_price=money(campaign.floor_price_fen),
        helpers_needed=campaign.helpers_needed,
        expiry_hours=campaign.expiry_hours,
        buy_rule=BUY_RULE[BuyRule(campaign.buy_rule)],
        daily_help_limit=campaign.daily_help_limit,
        new_users_only=campaign.new_users_only,
        new_user_bonus=campaign.new_user_bonus,
        start_time=timestamp(campaign.start_time),
        end_time=timestamp(campaign.end_time),
        created_at=timestamp(campaign.created_at),
        status=CAMPAIGN_STATUS[bargains.campaign_status(campaign)],
    )


def bargain_pb(bargain: Bargain) -> pb.Bargain:
    return pb.Bargain(
        id=bargain.id,
        campaign_id=bargain.campaign_id,
        initiator_id=bargain.initiator_id,
        original_price=money(bargain.original_fen),
        floor_price=money(bargain.floor_fen),
        current_price=money(bargain.current_fen),
        helpers_needed=bargain.helpers_needed,
        helps=bargain.helps,
        status=BARGAIN_STATUS[bargains.shown_status(bargain)],
        expires_at=timestamp(bargain.expires_at),
        created_at=timestamp(bargain.created_at),
        order_id=bargain.order_id,
        sku_id=bargain.sku_id,
        buy_rule=BUY_RULE[BuyRule(bargain.buy_rule)],
    )


def help_pb(bargain_id: str, help_: Help) -> pb.BargainHelp:
    return pb.BargainHelp(
        bargain_id=bargain_id,
        helper_id=help_.helper_id,
        seq=help_.seq,
        cut=money(help_.cut_fen),
        price_after=money(help_.price_after_fen),
        created_at=timestamp(help_.created_at),
    )


def terms(request: pb.CreateBargainCampaignRequest) -> BargainTerms:
    return BargainTerms(
        sku_id=request.sku_id,
        original_price_fen=request.original_price.fen,
        floor_price_fen=request.floor_price.fen,
        helpers_needed=request.helpers_needed,
        expiry_hours=request.expiry_hours,
        buy_rule=BUY_RULE_NAMES.get(request.buy_rule),
        daily_help_limit=request.daily_help_limit,
        new_users_only=request.new_users_only,
        new_user_bonus=request.new_user_bonus,
        start_time=datetime_of(request, "start_time"),
        end_time=datetime_of(request, "end_time"),
    )


class BargainServicer(pb_grpc.BargainServiceServicer):
    def __init__(self, retail: Retail, redis: redis_lib.Redis | None, relay: OutboxRelay | None = None) -> None:
        self.retail = retail
        self.redis = redis
        self.relay = relay

    def _nudge(self, bargain: Bargain) -> None:
        if self.relay is not None:
            self.relay.nudge(bargain)

    def CreateBargainCampaign(self, request, context: Any):
        campaign = bargains.create_bargain_campaign(self.retail, terms(request))
        return pb.CreateBargainCampaignResponse(campaign=campaign_pb(campaign))

    def GetBargainCampaign(self, request, context: Any):
        return pb.GetBargainCampaignResponse(campaign=campaign_pb(bargains.get_bargain_campaign(request.campaign_id)))

    def ListBargainCampaigns(self, request, context: Any):
        status = STATUS_FILTER.get(request.status)
        found, cursor = bargains.list_bargain_campaigns(request.page.cursor, request.page.limit, request.sku_id, status)
        return pb.ListBargainCampaignsResponse(
            campaigns=[campaign_pb(c) for c in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def StartBargain(self, request, context: Any):
        bargain = bargains.start_bargain(request.campaign_id)
        self._nudge(bargain)
        return pb.StartBargainResponse(bargain=bargain_pb(bargain))

    def GetBargain(self, request, context: Any):
        return pb.GetBargainResponse(bargain=bargain_pb(bargains.get_bargain(request.bargain_id)))

    def ListMyBargains(self, request, context: Any):
        found, cursor = bargains.list_my_bargains(request.page.cursor, request.page.limit)
        return pb.ListMyBargainsResponse(
            bargains=[bargain_pb(b) for b in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def HelpBargain(self, request, context: Any):
        help_, bargain = bargains.help_bargain(request.bargain_id, redis=self.redis)
        self._nudge(bargain)
        return pb.HelpBargainResponse(help=help_pb(bargain.id, help_), bargain=bargain_pb(bargain))

    def ListBargainHelps(self, request, context: Any):
        found, cursor = bargains.list_bargain_helps(request.bargain_id, request.page.cursor, request.page.limit)
        return pb.ListBargainHelpsResponse(
            helps=[help_pb(request.bargain_id, h) for h in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def BuyBargain(self, request, context: Any):
        bargain = bargains.buy_bargain(self.retail, request.bargain_id)
        return pb.BuyBargainResponse(bargain=bargain_pb(bargain), price=money(bargain.order_price_fen))
