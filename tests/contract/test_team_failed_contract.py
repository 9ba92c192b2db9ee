"""groupbuy's team events, as groupbuy really raises them, are what retail's worker acts on
(docs/events.md): a failed team's paid orders are refunded exactly once and its unpaid order is
cancelled, with every event delivered twice.

Both services run their real code on one database: groupbuy reaches retail over gRPC through a
real RetailServicer, retail's order_paid reaches groupbuy's consumer, and groupbuy's outbox
events reach retail's handlers after a JSON round trip (as they cross the wire).
"""

from __future__ import annotations

import json

import grpc
import pytest
import redis

from groupbuy.documents import Seat, Team
from groupbuy.domain.campaigns import CampaignTerms
from groupbuy.service import campaigns, paid_orders, team_life, teams
from groupbuy.service.seat_gate import SeatGate
from mallkit import context, events
from mallkit.clock import frozen_at
from mallkit.grpc_client import ServiceClient
from mallkit.testing import NoRelay, grpc_test_server
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.orders import Order, Refund
from retail_s2b2c.domain.catalog import NewSku
from retail_s2b2c.domain.payments import sign
from retail_s2b2c.service import catalog, payments
from retail_s2b2c.servicers.retail import RetailServicer
from retail_s2b2c.worker import Worker as RetailWorker
from socialmall.retail.v1 import retail_pb2_grpc

pytestmark = pytest.mark.integration

BRAND = context.Caller("u_brand", frozenset({"brand"}))
ADMIN = context.Caller("u_admin", frozenset({"admin"}))
GROUP_PRICE_FEN = 990


def as_user(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def consumer(user_id: str) -> context.Caller:
    return context.Caller(user_id, frozenset({"consumer"}))


@pytest.fixture
def settings(monkeypatch) -> RetailSettings:
    monkeypatch.setenv("PAYMENT_HMAC_SECRET", "contract")
    return RetailSettings.from_env()


@pytest.fixture
def retail(mongo_db, settings):
    """groupbuy's retail client, as the groupbuy API builds it, against retail's real servicer."""

    def register(server: grpc.Server) -> None:
        retail_pb2_grpc.add_RetailServiceServicer_to_server(RetailServicer(settings, NoRelay()), server)

    with grpc_test_server(register) as target:
        client = ServiceClient(retail_pb2_grpc.RetailServiceStub, target, caller_service="groupbuy")
        yield client
        client.close()


@pytest.fixture
def gate(redis_url: str) -> SeatGate:
    return SeatGate(redis.Redis.from_url(redis_url, decode_responses=True))


def approved_sku() -> str:
    with as_user(BRAND):
        brand = catalog.create_brand("Contract tea")
        product, skus = catalog.create_product(brand.id, "Tea", "", [NewSku("250g", 1500, 9, supply_price_fen=800)])
    with as_user(ADMIN):
        catalog.review_product(product.id, approve=True, reason="")
    return skus[0].id


def pay(order_id: str, settings: RetailSettings) -> dict:
    """The provider's callback for the order; returns retail's order_paid as it crosses the wire."""
    order = Order.objects.get(id=order_id)
    body = json.dumps({"out_trade_no": order.id, "transaction_id": f"tx_{order.id}",
                       "amount_fen": order.total_fen, "status": "SUCCESS"}).encode()  # fmt: skip
    with as_user(context.ANONYMOUS):
        payments.handle_payment_notify(body, sign(body, "contract"), settings)
    [paid] = [e for e in order.reload().outbox if e["type"] == "order_paid"]
    return json.loads(json.dumps(paid))


def wire(document) -> list[dict]:
    """A groupbuy document's outbox events as retail's worker receives them (validated JSON)."""
    return [events.validate(json.loads(json.dumps(e))) for e in document.reload().outbox]


def test_a_failed_team_refunds_each_paid_order_once_when_every_event_arrives_twice(retail, gate, settings):
    sku_id = approved_sku()
    with as_user(BRAND):
        terms = CampaignTerms(sku_id=sku_id, group_price_fen=GROUP_PRICE_FEN, team_size=4, expiry_hours=24)
        campaign = campaigns.create_campaign(retail, terms, publish=True)
    members = ["u_lead", "u_a", "u_b"]
    with as_user(consumer("u_lead")):
        team, _ = teams.open_team(gate, campaign.id, 1)
    for member in members[1:]:
        with as_user(consumer(member)):
            teams.join_team(gate, team.id, "", 1)
    seats = {}
    for member in members:
        with as_user(consumer(member)):
            seats[member] = teams.place_seat_order(retail, team.id)
    for member in members[:2]:  # the leader and u_a pay; u_b never does
        paid_orders.order_paid(gate, pay(seats[member].order_id, settings))
    paid_ids = [seats[m].order_id for m in members[:2]]
    unpaid_id = seats["u_b"].order_id
    assert all(o.awaiting_group and o.total_fen == GROUP_PRICE_FEN for o in Order.objects(id__in=paid_ids))

    with frozen_at(team.reload().expires_at + team_life.JUDGE_GRACE):
        assert team_life.close_expired_teams(gate) == 1
    published = wire(team) + [e for seat in Seat.objects(team_id=team.id) for e in wire(seat)]
    [failed] = [e for e in published if e["type"] == "team_failed"]
    assert sorted(failed["data"]["order_ids"]) == sorted([*paid_ids, unpaid_id])

    handlers = {"team_failed": RetailWorker().void_failed_team, "seat_released": RetailWorker().void_released_seat}
    for _ in range(2):
        for event in published:
            if event["type"] in handlers:
                handlers[event["type"]](event)

    for order in Order.objects(id__in=paid_ids):
        assert (order.status, order.refunded_fen) == ("refunded", GROUP_PRICE_FEN)
        assert [e["type"] for e in order.outbox].count("order_refunded") == 1
        [refund] = Refund.objects(order_id=order.id)
        assert (refund.amount_fen, refund.reviewed_by) == (GROUP_PRICE_FEN, "groupbuy")
    unpaid = Order.objects.get(id=unpaid_id)
    assert unpaid.status == "cancelled"
    assert [e["data"]["reason"] for e in unpaid.outbox if e["type"] == "order_cancelled"] == ["group_failed"]
    assert Team.objects.get(id=team.id).status == "failed"
