"""Bargain (砍价) routes: campaigns, starting, helping, listing cuts, buying; JSON ⇄ BargainService."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient

from gateway.tests.conftest import new_key
from gateway.tests.gateway_fakes import BARGAIN_CUT_FEN, BARGAIN_FLOOR_FEN, BARGAIN_ORIGINAL_FEN, Plan
from socialmall.groupbuy.v1 import groupbuy_pb2

Auth = Callable[..., dict[str, str]]
API = "/api/v1/bargain"
CAMPAIGN = {"sku_id": "sku_1", "original_price_fen": 12800, "floor_price_fen": 6800, "helpers_needed": 5}


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def money(fen: int) -> dict[str, Any]:
    return {"fen": fen, "display": f"¥{fen // 100}.{fen % 100:02d}"}


def test_create_a_bargain_campaign(client: TestClient, auth: Auth, plan: Plan) -> None:
    created = client.post(f"{API}/campaigns", json=CAMPAIGN, headers=auth("u_b", "brand"))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "bgc_1",
        "owner_id": "u_b",
        "sku_id": "sku_1",
        "original_price": money(12800),
        "floor_price": money(6800),
        "helpers_needed": 5,
        "expiry_hours": 24,
        "buy_rule": "any_price",
        "daily_help_limit": 0,
        "new_users_only": False,
        "new_user_bonus": False,
        "status": "live",
        "start_time": None,
        "end_time": None,
        "created_at": "2025-01-31T08:00:00Z",
    }
    call = plan.calls_to("CreateBargainCampaign")[0]
    sent: groupbuy_pb2.CreateBargainCampaignRequest = call.request
    assert (sent.original_price.fen, sent.floor_price.fen, sent.helpers_needed, sent.expiry_hours) == (
        12800,
        6800,
        5,
        0,
    )
    assert (sent.buy_rule, sent.expiry_hours, sent.daily_help_limit, sent.HasField("start_time")) == (
        groupbuy_pb2.BUY_RULE_ANY_PRICE,
        0,
        0,
        False,
    )
    assert call.metadata["x-user-id"] == "u_b"


def test_create_a_bargain_campaign_with_every_term(client: TestClient, auth: Auth, plan: Plan) -> None:
    body = {
        **CAMPAIGN,
        "floor_price_fen": 0,  # 砍到 0 元: the service decides whether that is allowed
        "expiry_hours": 168,
        "buy_rule": "floor_only",
        "daily_help_limit": 10,
        "new_users_only": True,
        "new_user_bonus": True,
        "start_time": "2025-02-01T08:00:00+08:00",
        "end_time": "2025-03-01T00:00:00Z",
    }
    created = client.post(f"{API}/campaigns", json=body, headers=auth("u_a", "admin"))
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert (campaign["buy_rule"], campaign["status"], campaign["start_time"], campaign["end_time"]) == (
        "floor_only",
        "scheduled",
        "2025-02-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    )
    assert (campaign["floor_price"], campaign["daily_help_limit"], campaign["new_users_only"]) == (money(0), 10, True)
    sent: groupbuy_pb2.CreateBargainCampaignRequest = plan.calls_to("CreateBargainCampaign")[0].request
    assert (sent.buy_rule, sent.expiry_hours, sent.daily_help_limit, sent.new_users_only, sent.new_user_bonus) == (
        groupbuy_pb2.BUY_RULE_FLOOR_ONLY,
        168,
        10,
        True,
        True,
    )
    assert (sent.start_time.ToJsonString(), sent.end_time.ToJsonString()) == (
        "2025-02-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"helpers_needed": 0},
        {"helpers_needed": 101},
        {"original_price_fen": 0},
        {"original_price_fen": -12800},
        {"floor_price_fen": -1},
        {"floor_price_fen": 68.5},
        {"expiry_hours": 169},
        {"expiry_hours": 0},
        {"buy_rule": "cheapest"},
        {"buy_rule": "BUY_RULE_FLOOR_ONLY"},
        {"daily_help_limit": 0},
        {"daily_help_limit": 101},
        {"new_users_only": 1},
        {"start_time": "2025-02-01"},
        {"sku_id": ""},
        {"team_size": 3},
    ],
)
def test_a_bad_bargain_campaign_is_a_422(client: TestClient, auth: Auth, plan: Plan, change: dict[str, Any]) -> None:
    response = client.post(f"{API}/campaigns", json={**CAMPAIGN, **change}, headers=auth("u_b", "brand"))
    assert error_of(response) == (422, "validation_failed")
    assert plan.calls == []


def test_creating_a_bargain_campaign_needs_the_brand_or_admin_role(client: TestClient, auth: Auth, plan: Plan) -> None:
    assert error_of(client.post(f"{API}/campaigns", json=CAMPAIGN)) == (401, "missing_token")
    assert error_of(client.post(f"{API}/campaigns", json=CAMPAIGN, headers=auth("u_c", "consumer", "kol"))) == (
        403,
        "role_required",
    )
    assert plan.calls == []
    plan.fail("CreateBargainCampaign", grpc.StatusCode.INVALID_ARGUMENT, "range too small", "cut_range_too_small")
    assert error_of(client.post(f"{API}/campaigns", json=CAMPAIGN, headers=auth("u_b", "brand"))) == (
        400,
        "cut_range_too_small",
    )


def test_campaigns_and_bargains_are_public_to_read(client: TestClient, plan: Plan) -> None:
    campaign = client.get(f"{API}/campaigns/bgc_7")
    assert (campaign.status_code, campaign.json()["id"], campaign.json()["daily_help_limit"]) == (200, "bgc_7", 3)
    bargain = client.get(f"{API}/bargains/bgn_7")
    assert bargain.status_code == 200, bargain.text
    assert bargain.json() == {
        "id": "bgn_7",
        "campaign_id": "bgc_1",
        "sku_id": "sku_1",
        "initiator_id": "u_init",
        "buy_rule": "floor_only",
        "original_price": money(BARGAIN_ORIGINAL_FEN),
        "floor_price": money(BARGAIN_FLOOR_FEN),
        "current_price": money(BARGAIN_ORIGINAL_FEN - 2 * BARGAIN_CUT_FEN),
        "helpers_needed": 5,
        "helps": 2,
        "status": "active",
        "expires_at": "2025-02-01T08:00:00Z",
        "created_at": "2025-01-31T08:00:00Z",
        "order_id": None,
    }
    calls = plan.calls_to("GetBargainCampaign") + plan.calls_to("GetBargain")
    assert (calls[0].request.campaign_id, calls[1].request.bargain_id) == ("bgc_7", "bgn_7")
    assert all("x-user-id" not in c.metadata for c in calls)
    plan.fail("GetBargain", grpc.StatusCode.NOT_FOUND, "no such bargain", "bargain_not_found")
    assert error_of(client.get(f"{API}/bargains/bgn_0")) == (404, "bargain_not_found")
    assert error_of(client.get(f"{API}/bargains/bgn.7")) == (422, "validation_failed")


def test_campaigns_are_listed_for_anyone(client: TestClient, plan: Plan) -> None:
    first = client.get(f"{API}/campaigns", params={"sku_id": "sku_1", "status": "live", "limit": 2})
    assert first.status_code == 200, first.text
    assert ([c["id"] for c in first.json()["items"]], first.json()["next_cursor"]) == (["bgc_2", "bgc_1"], "YmdjXzE")
    assert client.get(f"{API}/campaigns", params={"cursor": "YmdjXzE"}).json()["next_cursor"] is None
    sent = [(c.request.sku_id, c.request.status, c.request.page.cursor) for c in plan.calls_to("ListBargainCampaigns")]
    assert sent == [
        ("sku_1", groupbuy_pb2.CAMPAIGN_STATUS_LIVE, ""),
        ("", groupbuy_pb2.CAMPAIGN_STATUS_UNSPECIFIED, "YmdjXzE"),
    ]
    assert all("x-user-id" not in c.metadata for c in plan.calls_to("ListBargainCampaigns"))
    assert error_of(client.get(f"{API}/campaigns", params={"status": "draft"})) == (422, "validation_failed")


def test_my_bargains_are_the_callers(client: TestClient, auth: Auth, plan: Plan) -> None:
    mine = client.get(f"{API}/me/bargains", headers=auth("u_init"), params={"limit": 5})
    assert mine.status_code == 200, mine.text
    assert [(b["id"], b["initiator_id"]) for b in mine.json()["items"]] == [("brg_2", "u_init"), ("brg_1", "u_init")]
    (call,) = plan.calls_to("ListMyBargains")
    assert (call.metadata["x-user-id"], call.request.page.limit) == ("u_init", 5)
    assert error_of(client.get(f"{API}/me/bargains")) == (401, "missing_token")


def test_start_a_bargain(client: TestClient, auth: Auth, plan: Plan) -> None:
    started = client.post(f"{API}/campaigns/bgc_1/bargains", headers=auth("u_init"))
    assert started.status_code == 201, started.text
    assert (started.json()["initiator_id"], started.json()["current_price"], started.json()["helps"]) == (
        "u_init",
        money(BARGAIN_ORIGINAL_FEN),
        0,
    )
    (call,) = plan.calls_to("StartBargain")
    assert (call.request.campaign_id, call.metadata["x-user-id"]) == ("bgc_1", "u_init")
    assert error_of(client.post(f"{API}/campaigns/bgc_1/bargains")) == (401, "missing_token")
    plan.fail("StartBargain", grpc.StatusCode.ALREADY_EXISTS, "one at a time", "bargain_already_active")
    assert error_of(client.post(f"{API}/campaigns/bgc_1/bargains", headers=auth())) == (409, "bargain_already_active")


def test_help_a_bargain(client: TestClient, auth: Auth, plan: Plan) -> None:
    helped = client.post(f"{API}/bargains/bgn_1/help", headers=auth("u_friend"))
    assert helped.status_code == 201, helped.text
    outcome = helped.json()
    assert outcome["help"] == {
        "bargain_id": "bgn_1",
        "helper_id": "u_friend",
        "seq": 3,
        "cut": money(BARGAIN_CUT_FEN),
        "price_after": money(BARGAIN_ORIGINAL_FEN - 3 * BARGAIN_CUT_FEN),
        "created_at": "2025-01-31T09:00:00Z",
    }
    assert (outcome["bargain"]["helps"], outcome["bargain"]["current_price"]) == (
        3,
        outcome["help"]["price_after"],
    )
    (call,) = plan.calls_to("HelpBargain")
    assert (call.request.bargain_id, call.metadata["x-user-id"]) == ("bgn_1", "u_friend")
    assert error_of(client.post(f"{API}/bargains/bgn_1/help")) == (401, "missing_token")


@pytest.mark.parametrize(
    ("code", "error", "status"),
    [
        (grpc.StatusCode.ALREADY_EXISTS, "already_helped", 409),
        (grpc.StatusCode.FAILED_PRECONDITION, "bargain_completed", 409),
        (grpc.StatusCode.FAILED_PRECONDITION, "not_a_new_user", 409),
        (grpc.StatusCode.FAILED_PRECONDITION, "daily_help_limit_reached", 409),
    ],
)
def test_help_refusals_keep_their_code(
    client: TestClient, auth: Auth, plan: Plan, code, error: str, status: int
) -> None:
    plan.fail("HelpBargain", code, "refused", error)
    assert error_of(client.post(f"{API}/bargains/bgn_1/help", headers=auth("u_friend"))) == (status, error)


def test_list_a_bargains_helps(client: TestClient, plan: Plan) -> None:
    first = client.get(f"{API}/bargains/bgn_1/helps", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(h["seq"], h["helper_id"], h["price_after"]["fen"]) for h in page["items"]] == [
        (1, "u_h1", BARGAIN_ORIGINAL_FEN - BARGAIN_CUT_FEN),
        (2, "u_h2", BARGAIN_ORIGINAL_FEN - 2 * BARGAIN_CUT_FEN),
    ]
    assert page["next_cursor"] == "aGxwXzI"
    last = client.get(f"{API}/bargains/bgn_1/helps", params={"cursor": "aGxwXzI"}).json()
    assert last["next_cursor"] is None
    sent = [
        (c.request.bargain_id, c.request.page.cursor, c.request.page.limit) for c in plan.calls_to("ListBargainHelps")
    ]
    assert sent == [("bgn_1", "", 2), ("bgn_1", "aGxwXzI", 20)]
    assert client.get(f"{API}/bargains/bgn_1/helps", params={"limit": 0}).status_code == 422


def test_buying_a_bargain_is_idempotent_by_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_init")
    first = client.post(f"{API}/bargains/bgn_1/order", headers={**user, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    bought = first.json()
    assert (bought["price"], bought["bargain"]["status"], bought["bargain"]["order_id"]) == (
        money(BARGAIN_FLOOR_FEN),
        "ordered",
        "ord_bgn",
    )
    again = client.post(f"{API}/bargains/bgn_1/order", headers={**user, "Idempotency-Key": key})
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, bought, "true")
    (call,) = plan.calls_to("BuyBargain")
    assert (call.request.bargain_id, call.metadata["x-user-id"]) == ("bgn_1", "u_init")
    assert error_of(client.post(f"{API}/bargains/bgn_1/order", headers={"Idempotency-Key": key})) == (
        401,
        "missing_token",
    )


def test_a_refused_purchase_is_replayed_under_its_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    headers = {**auth("u_init"), "Idempotency-Key": new_key()}
    plan.fail("BuyBargain", grpc.StatusCode.FAILED_PRECONDITION, "not at the floor yet", "floor_not_reached")
    assert error_of(client.post(f"{API}/bargains/bgn_1/order", headers=headers)) == (409, "floor_not_reached")
    plan.failures.clear()
    again = client.post(f"{API}/bargains/bgn_1/order", headers=headers)
    assert error_of(again) == (409, "floor_not_reached") and again.headers["Idempotent-Replayed"] == "true"
    assert len(plan.calls_to("BuyBargain")) == 1
    plan.fail("BuyBargain", grpc.StatusCode.PERMISSION_DENIED, "not yours", "not_initiator")
    assert error_of(client.post(f"{API}/bargains/bgn_1/order", headers=auth("u_friend"))) == (403, "not_initiator")
