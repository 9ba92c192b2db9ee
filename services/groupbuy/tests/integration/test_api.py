"""The gRPC API in-process, talking to a fake retail over real gRPC."""

from collections.abc import Iterator

import grpc
import pytest

from groupbuy import api
from groupbuy.config import GroupbuySettings
from groupbuy.service import paid_orders
from mallkit import context
from mallkit.config import KitSettings
from socialmall.common.v1 import money_pb2
from socialmall.groupbuy.v1 import groupbuy_pb2 as pb
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
BUYER = context.Caller("u_buyer", frozenset({"consumer"}))


def as_(who: context.Caller) -> list[tuple[str, str]]:
    return context.to_metadata(context.new_request_id(), who)


@pytest.fixture
def stub(mongo_db: str, retail_target: str) -> Iterator[pb_grpc.GroupbuyServiceStub]:
    settings = GroupbuySettings(grpc_port=0, db_name=mongo_db, retail_target=retail_target)
    app = api.build(KitSettings.from_env(), settings, port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield pb_grpc.GroupbuyServiceStub(channel)
    app.stop(grace=0)


def campaign_request(sku_id: str = "sku_mist", price_fen: int = 990, team_size: int = 3) -> pb.CreateCampaignRequest:
    return pb.CreateCampaignRequest(
        sku_id=sku_id, group_price=money_pb2.Money(fen=price_fen), team_size=team_size, publish=True
    )


def refusal(call, request, metadata) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call(request, metadata=metadata, timeout=10)
    return err.value.code(), dict(err.value.trailing_metadata())["error-code"]


def test_create_then_get_a_campaign(stub, fake_retail):
    created = stub.CreateCampaign(campaign_request(), metadata=as_(BRAND), timeout=10).campaign
    assert created.id.startswith("cmp_") and created.owner_id == "u_brand"
    assert (created.group_price.fen, created.team_size, created.expiry_hours) == (990, 3, 24)
    assert created.status == pb.CAMPAIGN_STATUS_LIVE and created.created_at.seconds > 0
    assert [c.user_id for c in fake_retail.callers] == ["u_brand"]  # identity reached retail
    found = stub.GetCampaign(pb.GetCampaignRequest(campaign_id=created.id), timeout=10).campaign  # public
    assert found == created


@pytest.mark.parametrize(
    ("who", "request_", "status", "code"),
    [
        (BUYER, campaign_request(), grpc.StatusCode.PERMISSION_DENIED, "role_required"),
        (context.ANONYMOUS, campaign_request(), grpc.StatusCode.PERMISSION_DENIED, "unauthenticated"),
        (BRAND, campaign_request(team_size=51), grpc.StatusCode.INVALID_ARGUMENT, "invalid_team_size"),
        (BRAND, campaign_request(price_fen=1990), grpc.StatusCode.INVALID_ARGUMENT, "group_price_not_below_price"),
        (BRAND, campaign_request(sku_id="sku_gone"), grpc.StatusCode.NOT_FOUND, "sku_not_found"),
        (BRAND, campaign_request(sku_id="sku_down"), grpc.StatusCode.UNAVAILABLE, "unavailable"),
    ],
)
def test_create_campaign_refusals(stub, who, request_, status, code):
    assert refusal(stub.CreateCampaign, request_, as_(who)) == (status, code)


def test_unknown_campaign_is_not_found(stub):
    request = pb.GetCampaignRequest(campaign_id="cmp_nope")
    assert refusal(stub.GetCampaign, request, as_(BUYER)) == (grpc.StatusCode.NOT_FOUND, "campaign_not_found")


def test_get_paid_order(stub, gate, order_paid):
    event = order_paid("ord_1", buyer_id="u_buyer", total_fen=3980, group_team_id="tm_1")
    assert paid_orders.order_paid(gate, event)
    paid = stub.GetPaidOrder(pb.GetPaidOrderRequest(order_id="ord_1"), metadata=as_(BUYER), timeout=10).paid_order
    assert (paid.order_id, paid.buyer_id, paid.amount.fen, paid.group_team_id, paid.event_id) == (
        "ord_1",
        "u_buyer",
        3980,
        "tm_1",
        event["event_id"],
    )
    assert paid.recorded_at.seconds > 0
    missing = pb.GetPaidOrderRequest(order_id="ord_2")
    assert refusal(stub.GetPaidOrder, missing, as_(BUYER)) == (grpc.StatusCode.NOT_FOUND, "paid_order_not_found")
    anonymous = as_(context.ANONYMOUS)
    assert refusal(stub.GetPaidOrder, missing, anonymous) == (grpc.StatusCode.PERMISSION_DENIED, "unauthenticated")


def user_(user_id: str) -> list[tuple[str, str]]:
    return as_(context.Caller(user_id, frozenset({"consumer"})))


def test_a_team_through_the_api_members_see_seats_others_see_the_team(stub, fake_retail):
    campaign = stub.CreateCampaign(campaign_request(team_size=2), metadata=as_(BRAND), timeout=10).campaign
    opened = stub.OpenTeam(pb.OpenTeamRequest(campaign_id=campaign.id), metadata=user_("u_lead"), timeout=10)
    assert (opened.team.status, opened.team.leader_id, opened.seat.seat_no) == (pb.TEAM_STATUS_FORMING, "u_lead", 1)
    assert opened.seat.leader and opened.seat.status == pb.SEAT_STATUS_HELD and opened.seat.price.fen == 990
    team_id = opened.team.id
    joined = stub.JoinTeam(pb.JoinTeamRequest(team_id=team_id), metadata=user_("u_a"), timeout=10).seat
    assert (joined.seat_no, joined.leader, joined.hold_expires_at.seconds > 0) == (2, False, True)
    assert joined.team_status == pb.TEAM_STATUS_FORMING
    ordered = stub.PlaceSeatOrder(pb.PlaceSeatOrderRequest(team_id=team_id), metadata=user_("u_a"), timeout=10).seat
    assert ordered.order_id and [c.service for c in fake_retail.callers[-1:]] == ["groupbuy"]

    listed = stub.ListCampaigns(pb.ListCampaignsRequest(), metadata=user_("u_x"), timeout=10).campaigns
    assert [(c.id, c.seats_claimed) for c in listed] == [(campaign.id, 2)]
    seen = stub.GetTeam(pb.GetTeamRequest(team_id=team_id), metadata=user_("u_a"), timeout=10).team
    assert [s.user_id for s in seen.seats] == ["u_lead", "u_a"] and seen.seats_claimed == 2
    stranger = stub.GetTeam(pb.GetTeamRequest(team_id=team_id), metadata=user_("u_x"), timeout=10).team
    assert (list(stranger.seats), stranger.seats_claimed) == ([], 2)
    mine = stub.ListMySeats(pb.ListMySeatsRequest(), metadata=user_("u_a"), timeout=10).seats
    assert [(s.team_id, s.order_id, s.team_status) for s in mine] == [
        (team_id, ordered.order_id, pb.TEAM_STATUS_FORMING)
    ]

    full = pb.JoinTeamRequest(team_id=team_id)
    assert refusal(stub.JoinTeam, full, user_("u_b")) == (grpc.StatusCode.FAILED_PRECONDITION, "team_full")
    assert refusal(stub.JoinTeam, full, user_("u_a")) == (grpc.StatusCode.ALREADY_EXISTS, "already_joined")
    assert refusal(stub.JoinTeam, full, as_(context.ANONYMOUS)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "unauthenticated",
    )
    both = pb.JoinTeamRequest(team_id=team_id, share_code="sh1")
    assert refusal(stub.JoinTeam, both, user_("u_b")) == (grpc.StatusCode.INVALID_ARGUMENT, "team_or_share_code")
    funnel = pb.GetCampaignFunnelRequest(campaign_id=campaign.id)
    assert refusal(stub.GetCampaignFunnel, funnel, user_("u_a")) == (grpc.StatusCode.PERMISSION_DENIED, "role_required")
    assert stub.GetCampaignFunnel(funnel, metadata=as_(BRAND), timeout=10).totals.joins == 1

    stub.LeaveTeam(pb.LeaveTeamRequest(team_id=team_id), metadata=user_("u_a"), timeout=10)
    [left] = stub.ListMySeats(pb.ListMySeatsRequest(), metadata=user_("u_a"), timeout=10).seats
    assert (left.status, left.release_reason, left.leader) == (pb.SEAT_STATUS_RELEASED, "left", False)
    stub.LeaveTeam(pb.LeaveTeamRequest(team_id=team_id), metadata=user_("u_lead"), timeout=10)  # alone: it fails
    [gone] = stub.ListMySeats(pb.ListMySeatsRequest(), metadata=user_("u_lead"), timeout=10).seats
    assert (gone.status, gone.team_status) == (pb.SEAT_STATUS_RELEASED, pb.TEAM_STATUS_FAILED)
