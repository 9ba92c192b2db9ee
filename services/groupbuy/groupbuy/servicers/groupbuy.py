"""GroupbuyService: translate protos to use cases and back; nothing else."""

from __future__ import annotations

import redis

from groupbuy.documents import Campaign, PaidOrder, Seat, Team
from groupbuy.domain.campaigns import CampaignStatus, CampaignTerms, UserLimits
from groupbuy.domain.teams import SeatStatus, TeamStatus
from groupbuy.retail import Retail
from groupbuy.service import campaigns, funnel, paid_orders, teams
from groupbuy.service.seat_gate import SeatGate
from groupbuy.service.teams import TeamView
from mallkit.outbox import OutboxRelay
from mallkit.protos import datetime_of, money, timestamp
from socialmall.common.v1 import page_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc

CAMPAIGN_STATUS = {
    CampaignStatus.DRAFT: pb.CAMPAIGN_STATUS_DRAFT,
    CampaignStatus.SCHEDULED: pb.CAMPAIGN_STATUS_SCHEDULED,
    CampaignStatus.LIVE: pb.CAMPAIGN_STATUS_LIVE,
    CampaignStatus.ENDED: pb.CAMPAIGN_STATUS_ENDED,
}
STATUS_FILTER = {v: k for k, v in CAMPAIGN_STATUS.items()}
TEAM_STATUS = {
    TeamStatus.FORMING: pb.TEAM_STATUS_FORMING,
    TeamStatus.FORMED: pb.TEAM_STATUS_FORMED,
    TeamStatus.FAILED: pb.TEAM_STATUS_FAILED,
}
SEAT_STATUS = {
    SeatStatus.HELD: pb.SEAT_STATUS_HELD,
    SeatStatus.PAID: pb.SEAT_STATUS_PAID,
    SeatStatus.RELEASED: pb.SEAT_STATUS_RELEASED,
}


def campaign_pb(campaign: Campaign, gate: SeatGate | None = None) -> pb.Campaign:
    return pb.Campaign(
        id=campaign.id,
        owner_id=campaign.owner_id,
        sku_id=campaign.sku_id,
        group_price=money(campaign.group_price_fen),
        leader_price=money(campaign.leader_price_fen),
        solo_price=money(campaign.solo_price_fen),
        team_size=campaign.team_size,
        expiry_hours=campaign.expiry_hours,
        status=CAMPAIGN_STATUS[campaigns.status_of(campaign)],
        created_at=timestamp(campaign.created_at),
        seat_allotment=campaign.seat_allotment,
        start_time=timestamp(campaign.start_time),
        end_time=timestamp(campaign.end_time),
        limits=pb.UserLimits(
            teams_opened=campaign.limits.teams_opened,
            teams_joined=campaign.limits.teams_joined,
            units_per_order=campaign.limits.units_per_order,
        ),
        virtual_fill_percent=campaign.virtual_fill_percent,
        distribution_enabled=campaign.distribution_enabled,
        seats_claimed=gate.claimed(campaign.id) if gate is not None and gate.is_ready(campaign.id) else 0,
    )


def seat_pb(seat: Seat, team: Team) -> pb.Seat:
    """`team`: the seat's, with its current leader and status."""
    return pb.Seat(
        team_id=seat.team_id,
        campaign_id=seat.campaign_id,
        user_id=seat.user_id,
        seat_no=seat.seat_no,
        leader=seat.status != SeatStatus.RELEASED and seat.user_id == team.leader_id,
        status=SEAT_STATUS.get(seat.status, pb.SEAT_STATUS_UNSPECIFIED),
        quantity=seat.quantity,
        order_id=seat.order_id,
        price=money(seat.price_fen),
        hold_expires_at=timestamp(seat.hold_expires_at if seat.status == SeatStatus.HELD else None),
        claimed_at=timestamp(seat.claimed_at),
        paid_at=timestamp(seat.paid_at),
        release_reason=seat.release_reason if seat.status == SeatStatus.RELEASED else "",
        team_status=TEAM_STATUS[team.status],
    )


def team_pb(view: TeamView) -> pb.Team:
    team = view.team
    return pb.Team(
        id=team.id,
        campaign_id=team.campaign_id,
        leader_id=team.leader_id,
        team_size=team.team_size,
        status=TEAM_STATUS[team.status],
        seats_claimed=view.claimed,
        seats_paid=len(team.paid_seats),
        expires_at=timestamp(team.expires_at),
        created_at=timestamp(team.created_at),
        virtually_filled=team.virtually_filled,
        failure_reason=team.failure_reason,
        seats=[seat_pb(s, team) for s in view.seats],
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


def _counts(counts: funnel.Counts) -> pb.FunnelCounts:
    return pb.FunnelCounts(
        shares=counts.shares, opens=counts.opens, joins=counts.joins, paid=counts.paid, formed=counts.formed
    )


def _terms(request: pb.CreateCampaignRequest) -> CampaignTerms:
    return CampaignTerms(
        sku_id=request.sku_id,
        group_price_fen=request.group_price.fen,
        team_size=request.team_size,
        expiry_hours=request.expiry_hours,
        leader_price_fen=request.leader_price.fen,
        solo_price_fen=request.solo_price.fen,
        seat_allotment=request.seat_allotment,
        start_time=datetime_of(request, "start_time"),
        end_time=datetime_of(request, "end_time"),
        limits=UserLimits(request.limits.teams_opened, request.limits.teams_joined, request.limits.units_per_order),
        virtual_fill_percent=request.virtual_fill_percent,
        distribution_enabled=request.distribution_enabled,
    )


class GroupbuyServicer(pb_grpc.GroupbuyServiceServicer):
    def __init__(self, retail: Retail, redis_client: redis.Redis, relay: OutboxRelay) -> None:
        self.retail = retail
        self.gate = SeatGate(redis_client)
        self.relay = relay

    # ── campaigns ───────────────────────────────────────────────────────────────────────────

    def CreateCampaign(self, request, context):
        campaign = campaigns.create_campaign(self.retail, _terms(request), request.publish)
        return pb.CreateCampaignResponse(campaign=campaign_pb(campaign))

    def PublishCampaign(self, request, context):
        return pb.PublishCampaignResponse(campaign=campaign_pb(campaigns.publish_campaign(request.campaign_id)))

    def EndCampaign(self, request, context):
        return pb.EndCampaignResponse(campaign=campaign_pb(campaigns.end_campaign(request.campaign_id), self.gate))

    def GetCampaign(self, request, context):
        return pb.GetCampaignResponse(campaign=campaign_pb(campaigns.get_campaign(request.campaign_id), self.gate))

    def ListCampaigns(self, request, context):
        status = STATUS_FILTER.get(request.status)
        found, cursor = campaigns.list_campaigns(request.page.cursor, request.page.limit, request.sku_id, status)
        return pb.ListCampaignsResponse(
            campaigns=[campaign_pb(c, self.gate) for c in found], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    # ── teams ───────────────────────────────────────────────────────────────────────────────

    def OpenTeam(self, request, context):
        team, seat = teams.open_team(self.gate, request.campaign_id, request.quantity)
        self.relay.nudge(team, seat)
        return pb.OpenTeamResponse(team=team_pb(TeamView(team, [seat], 1)), seat=seat_pb(seat, team))

    def JoinTeam(self, request, context):
        seat = teams.join_team(self.gate, request.team_id, request.share_code, request.quantity)
        self.relay.nudge(seat)
        # granted only in a forming team, and a joiner does not lead: no need to read the team
        joined = Team(id=seat.team_id, leader_id="", status=TeamStatus.FORMING)
        return pb.JoinTeamResponse(seat=seat_pb(seat, joined))

    def PlaceSeatOrder(self, request, context):
        seat = teams.place_seat_order(self.retail, request.team_id)
        return pb.PlaceSeatOrderResponse(seat=seat_pb(seat, teams.teams_of([seat])[seat.team_id]))

    def LeaveTeam(self, request, context):
        team = teams.leave_team(self.gate, request.team_id)
        self.relay.nudge()
        return pb.LeaveTeamResponse(team=team_pb(teams.get_team(team.id)))

    def GetTeam(self, request, context):
        return pb.GetTeamResponse(team=team_pb(teams.get_team(request.team_id)))

    def ListJoinableTeams(self, request, context):
        found = teams.list_joinable(self.gate, request.campaign_id, request.limit)
        return pb.ListJoinableTeamsResponse(teams=[team_pb(view) for view in found])

    def ListMySeats(self, request, context):
        found, cursor = teams.list_my_seats(request.page.cursor, request.page.limit)
        of = teams.teams_of(found)
        seats = [seat_pb(s, of[s.team_id]) for s in found]
        return pb.ListMySeatsResponse(seats=seats, page=page_pb2.PageResponse(next_cursor=cursor))

    def ShareTeam(self, request, context):
        return pb.ShareTeamResponse(share_code=teams.share_team(request.team_id))

    def GetShare(self, request, context):
        share = teams.get_share(request.share_code)
        return pb.GetShareResponse(team=team_pb(teams.get_team(share.team_id)), sharer_id=share.sharer_id)

    def PlaceSoloOrder(self, request, context):
        order_id, total_fen = teams.place_solo_order(
            self.retail, request.campaign_id, request.quantity, request.idempotency_key
        )
        return pb.PlaceSoloOrderResponse(order_id=order_id, price=money(total_fen))

    def GetCampaignFunnel(self, request, context):
        result = funnel.campaign_funnel(request.campaign_id, request.top_inviters)
        return pb.GetCampaignFunnelResponse(
            totals=_counts(result.totals),
            inviters=[pb.InviterFunnel(inviter_id=who, counts=_counts(c)) for who, c in result.inviters],
        )

    def GetPaidOrder(self, request, context):
        return pb.GetPaidOrderResponse(paid_order=paid_order_pb(paid_orders.get_paid_order(request.order_id)))
