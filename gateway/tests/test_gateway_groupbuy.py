"""Groupbuy routes: campaigns, teams and seats, the funnel, paid orders; JSON ⇄ GroupbuyService."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient

from gateway.tests.conftest import new_key
from gateway.tests.gateway_fakes import (
    GROUP_PRICE_FEN,
    GROUP_SHARE_CODE,
    PAYMENT_AMOUNT_FEN,
    SOLO_PRICE_FEN,
    Plan,
)
from socialmall.groupbuy.v1 import groupbuy_pb2

Auth = Callable[..., dict[str, str]]
API = "/api/v1/groupbuy"
CAMPAIGN = {"sku_id": "sku_1", "group_price_fen": 1490, "team_size": 3}
FULL_CAMPAIGN = {
    **CAMPAIGN,
    "expiry_hours": 48,
    "leader_price_fen": 1290,
    "solo_price_fen": 1790,
    "seat_allotment": 500,
    "start_time": "2025-02-01T08:00:00+08:00",
    "end_time": "2025-03-01T00:00:00Z",
    "limits": {"teams_opened": 2, "teams_joined": 5, "units_per_order": 3},
    "virtual_fill_percent": 60,
    "distribution_enabled": True,
    "publish": True,
}


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def money(fen: int) -> dict[str, Any]:
    return {"fen": fen, "display": f"¥{fen // 100}.{fen % 100:02d}"}


# ── campaigns ──────────────────────────────────────────────────────────────────────────────────


def test_create_a_draft_campaign_with_only_the_required_terms(client: TestClient, auth: Auth, plan: Plan) -> None:
    created = client.post(f"{API}/campaigns", json=CAMPAIGN, headers=auth("u_b", "brand"))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "cmp_1",
        "owner_id": "u_b",
        "sku_id": "sku_1",
        "group_price": money(1490),
        "leader_price": None,
        "solo_price": None,
        "team_size": 3,
        "expiry_hours": 24,
        "seat_allotment": 1000,
        "seats_claimed": 0,
        "limits": {"teams_opened": 0, "teams_joined": 0, "units_per_order": 0},
        "virtual_fill_percent": 0,
        "distribution_enabled": False,
        "status": "draft",
        "start_time": None,
        "end_time": None,
        "created_at": "2025-01-31T08:00:00Z",
    }
    call = plan.calls_to("CreateCampaign")[0]
    sent: groupbuy_pb2.CreateCampaignRequest = call.request
    assert (sent.sku_id, sent.group_price.fen, sent.team_size, sent.expiry_hours, sent.seat_allotment) == (
        "sku_1",
        1490,
        3,
        0,
        0,
    )
    for unset in ("leader_price", "solo_price", "start_time", "end_time"):
        assert not sent.HasField(unset), unset
    assert (sent.limits.teams_opened, sent.virtual_fill_percent, sent.distribution_enabled, sent.publish) == (
        0,
        0,
        False,
        False,
    )
    assert (call.metadata["x-user-id"], call.metadata["x-user-roles"]) == ("u_b", "brand")


def test_create_a_campaign_with_every_term(client: TestClient, auth: Auth, plan: Plan) -> None:
    created = client.post(f"{API}/campaigns", json=FULL_CAMPAIGN, headers=auth("u_a", "admin"))
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert (campaign["leader_price"], campaign["solo_price"], campaign["status"]) == (
        money(1290),
        money(1790),
        "live",
    )
    assert (campaign["start_time"], campaign["end_time"]) == ("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")
    assert campaign["limits"] == {"teams_opened": 2, "teams_joined": 5, "units_per_order": 3}
    assert (campaign["virtual_fill_percent"], campaign["distribution_enabled"], campaign["seat_allotment"]) == (
        60,
        True,
        500,
    )
    sent: groupbuy_pb2.CreateCampaignRequest = plan.calls_to("CreateCampaign")[0].request
    assert (sent.leader_price.fen, sent.solo_price.fen, sent.expiry_hours, sent.seat_allotment) == (1290, 1790, 48, 500)
    assert sent.start_time.ToJsonString() == "2025-02-01T00:00:00Z"  # +08:00 converted to UTC
    assert sent.end_time.ToJsonString() == "2025-03-01T00:00:00Z"
    assert (sent.limits.teams_opened, sent.limits.teams_joined, sent.limits.units_per_order) == (2, 5, 3)
    assert (sent.virtual_fill_percent, sent.distribution_enabled, sent.publish) == (60, True, True)


@pytest.mark.parametrize(
    "change",
    [
        {"team_size": 51},
        {"team_size": 1},
        {"group_price_fen": -1},
        {"group_price_fen": 0},
        {"group_price_fen": "1490"},
        {"leader_price_fen": -100},
        {"solo_price_fen": 0},
        {"expiry_hours": 73},
        {"seat_allotment": 0},
        {"seat_allotment": 1_000_001},
        {"limits": {"teams_opened": 0}},
        {"limits": {"units_per_order": 101}},
        {"limits": {"teams_joined": 2, "other": 1}},
        {"virtual_fill_percent": 101},
        {"virtual_fill_percent": -1},
        {"start_time": "2025-02-01T08:00:00"},  # no time zone
        {"start_time": 1738396800},
        {"start_time": "0001-01-01T00:00:00+08:00"},  # before the first UTC instant a Timestamp holds
        {"end_time": "next week"},
        {"sku_id": "../sku_1"},
        {"publish": "yes"},
        {"surprise": True},
    ],
)
def test_a_bad_campaign_is_a_422(client: TestClient, auth: Auth, plan: Plan, change: dict[str, Any]) -> None:
    response = client.post(f"{API}/campaigns", json={**CAMPAIGN, **change}, headers=auth("u_b", "brand"))
    assert error_of(response) == (422, "validation_failed")
    assert plan.calls == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/campaigns"),
        ("POST", "/campaigns/cmp_1/publish"),
        ("POST", "/campaigns/cmp_1/end"),
        ("GET", "/campaigns/cmp_1/funnel"),
    ],
)
def test_campaign_management_needs_the_brand_or_admin_role(
    client: TestClient, auth: Auth, plan: Plan, method: str, path: str
) -> None:
    body = CAMPAIGN if path == "/campaigns" else None
    assert error_of(client.request(method, API + path, json=body)) == (401, "missing_token")
    assert error_of(client.request(method, API + path, json=body, headers=auth("u_c", "consumer", "store_owner"))) == (
        403,
        "role_required",
    )
    assert plan.calls == []


def test_publish_and_end_a_campaign(client: TestClient, auth: Auth, plan: Plan) -> None:
    published = client.post(f"{API}/campaigns/cmp_7/publish", headers=auth("u_b", "brand"))
    assert published.status_code == 200, published.text
    assert (published.json()["id"], published.json()["status"], published.json()["start_time"]) == (
        "cmp_7",
        "scheduled",
        "2025-02-01T00:00:00Z",
    )
    ended = client.post(f"{API}/campaigns/cmp_7/end", headers=auth("u_b", "brand"))
    assert (ended.status_code, ended.json()["status"]) == (200, "ended")
    calls = plan.calls_to("PublishCampaign") + plan.calls_to("EndCampaign")
    assert [(c.request.campaign_id, c.metadata["x-user-id"]) for c in calls] == [("cmp_7", "u_b"), ("cmp_7", "u_b")]


@pytest.mark.parametrize(
    ("path", "rpc", "code", "status", "error"),
    [
        ("publish", "PublishCampaign", grpc.StatusCode.FAILED_PRECONDITION, 409, "campaign_not_draft"),
        ("publish", "PublishCampaign", grpc.StatusCode.PERMISSION_DENIED, 403, "not_campaign_owner"),
        ("end", "EndCampaign", grpc.StatusCode.NOT_FOUND, 404, "campaign_not_found"),
    ],
)
def test_campaign_refusals_keep_their_code(
    client: TestClient, auth: Auth, plan: Plan, path: str, rpc: str, code, status: int, error: str
) -> None:
    plan.fail(rpc, code, "refused", error)
    assert error_of(client.post(f"{API}/campaigns/cmp_1/{path}", headers=auth("u_b", "brand"))) == (status, error)


def test_list_campaigns_pages_and_filters(client: TestClient, plan: Plan) -> None:
    first = client.get(f"{API}/campaigns", params={"limit": 2, "sku_id": "sku_1", "status": "scheduled"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [c["id"] for c in page["items"]] == ["cmp_2", "cmp_1"] and page["next_cursor"] == "Y21wXzI"
    assert [c["solo_price"] for c in page["items"]] == [money(SOLO_PRICE_FEN), None]
    last = client.get(f"{API}/campaigns", params={"cursor": "Y21wXzI"}).json()
    assert last["next_cursor"] is None
    sent = [c.request for c in plan.calls_to("ListCampaigns")]
    assert [(r.page.cursor, r.page.limit, r.sku_id, r.status) for r in sent] == [
        ("", 2, "sku_1", groupbuy_pb2.CAMPAIGN_STATUS_SCHEDULED),
        ("Y21wXzI", 20, "", groupbuy_pb2.CAMPAIGN_STATUS_UNSPECIFIED),
    ]
    assert "x-user-id" not in plan.calls_to("ListCampaigns")[0].metadata
    for bad in ({"status": "forming"}, {"limit": 0}, {"limit": 101}, {"sku_id": "a b"}, {"cursor": "no/pe"}):
        assert client.get(f"{API}/campaigns", params=bad).status_code == 422, bad


def test_a_token_is_optional_on_campaign_reads_and_forwarded_when_sent(
    client: TestClient, auth: Auth, plan: Plan
) -> None:
    anonymous = client.get(f"{API}/campaigns/cmp_7")
    assert (anonymous.status_code, anonymous.json()["id"], anonymous.json()["status"]) == (200, "cmp_7", "live")
    owner = client.get(f"{API}/campaigns/cmp_7", headers=auth("u_b", "brand"))
    assert owner.status_code == 200
    listed = client.get(f"{API}/campaigns", headers=auth("u_b", "brand"))
    assert listed.status_code == 200
    get_calls = plan.calls_to("GetCampaign")
    assert "x-user-id" not in get_calls[0].metadata
    assert (get_calls[1].metadata["x-user-id"], get_calls[1].metadata["x-user-roles"]) == ("u_b", "brand")
    assert plan.calls_to("ListCampaigns")[0].metadata["x-user-id"] == "u_b"
    # a token that is sent must be valid: the client learns to refresh it instead of seeing less
    forged = {"Authorization": "Bearer not-a-jwt"}
    assert error_of(client.get(f"{API}/campaigns/cmp_7", headers=forged)) == (401, "invalid_token")
    assert error_of(client.get(f"{API}/campaigns", headers=forged)) == (401, "invalid_token")
    assert len(plan.calls_to("GetCampaign")) == 2
    plan.fail("GetCampaign", grpc.StatusCode.NOT_FOUND, "no such campaign", "campaign_not_found")
    assert error_of(client.get(f"{API}/campaigns/cmp_draft")) == (404, "campaign_not_found")


def test_campaign_funnel(client: TestClient, auth: Auth, plan: Plan) -> None:
    funnel = client.get(f"{API}/campaigns/cmp_1/funnel", params={"top_inviters": 5}, headers=auth("u_b", "brand"))
    assert funnel.status_code == 200, funnel.text
    assert funnel.json() == {
        "totals": {"shares": 120, "opens": 40, "joins": 75, "paid": 90, "formed": 25},
        "inviters": [{"inviter_id": "u_42", "counts": {"shares": 10, "opens": 0, "joins": 6, "paid": 5, "formed": 2}}],
    }
    assert client.get(f"{API}/campaigns/cmp_1/funnel", headers=auth("u_a", "admin")).status_code == 200
    sent = [(c.request.campaign_id, c.request.top_inviters) for c in plan.calls_to("GetCampaignFunnel")]
    assert sent == [("cmp_1", 5), ("cmp_1", 20)]
    for bad in (0, 101):
        response = client.get(f"{API}/campaigns/cmp_1/funnel", params={"top_inviters": bad}, headers=auth("u", "brand"))
        assert response.status_code == 422


# ── teams and seats ────────────────────────────────────────────────────────────────────────────


def test_open_a_team(client: TestClient, auth: Auth, plan: Plan) -> None:
    opened = client.post(f"{API}/campaigns/cmp_1/teams", json={"quantity": 2}, headers=auth("u_lead"))
    assert opened.status_code == 201, opened.text
    seat = {
        "team_id": "team_1",
        "campaign_id": "cmp_1",
        "user_id": "u_lead",
        "seat_no": 1,
        "leader": True,
        "status": "held",
        "release_reason": None,
        "team_status": "forming",
        "quantity": 2,
        "order_id": None,
        "price": money(2 * GROUP_PRICE_FEN),
        "hold_expires_at": "2025-01-31T08:30:00Z",
        "claimed_at": "2025-01-31T08:00:00Z",
        "paid_at": None,
    }
    assert opened.json() == {
        "team": {
            "id": "team_1",
            "campaign_id": "cmp_1",
            "leader_id": "u_lead",
            "team_size": 3,
            "status": "forming",
            "seats_claimed": 1,
            "seats_paid": 0,
            "expires_at": None,
            "created_at": "2025-01-31T08:00:00Z",
            "virtually_filled": False,
            "failure_reason": None,
            "seats": [seat],
        },
        "seat": seat,
    }
    no_body = client.post(f"{API}/campaigns/cmp_1/teams", headers=auth("u_lead"))
    assert no_body.status_code == 201, no_body.text
    calls = plan.calls_to("OpenTeam")
    assert [(c.request.campaign_id, c.request.quantity, c.metadata["x-user-id"]) for c in calls] == [
        ("cmp_1", 2, "u_lead"),
        ("cmp_1", 0, "u_lead"),
    ]
    assert error_of(client.post(f"{API}/campaigns/cmp_1/teams", json={})) == (401, "missing_token")
    for bad in ({"quantity": 0}, {"quantity": 101}, {"quantity": "1"}, {"team_size": 3}):
        assert client.post(f"{API}/campaigns/cmp_1/teams", json=bad, headers=auth()).status_code == 422, bad


def test_join_by_team_id_or_share_code(client: TestClient, auth: Auth, plan: Plan) -> None:
    joined = client.post(f"{API}/teams/team_9/join", json={"quantity": 1}, headers=auth("u_m"))
    assert joined.status_code == 201, joined.text
    assert (joined.json()["team_id"], joined.json()["user_id"], joined.json()["seat_no"], joined.json()["leader"]) == (
        "team_9",
        "u_m",
        2,
        False,
    )
    by_code = client.post(f"{API}/join", json={"share_code": GROUP_SHARE_CODE, "quantity": 2}, headers=auth("u_f"))
    assert by_code.status_code == 201, by_code.text
    assert (by_code.json()["team_id"], by_code.json()["quantity"]) == ("team_shared", 2)
    assert client.post(f"{API}/teams/team_9/join", headers=auth("u_m")).status_code == 201
    sent = [(c.request.team_id, c.request.share_code, c.request.quantity) for c in plan.calls_to("JoinTeam")]
    assert sent == [("team_9", "", 1), ("", GROUP_SHARE_CODE, 2), ("team_9", "", 0)]
    assert plan.calls_to("JoinTeam")[1].metadata["x-user-id"] == "u_f"
    for bad in ({}, {"share_code": ""}, {"share_code": "no way!"}, {"share_code": "X" * 33}, {"team_id": "team_9"}):
        assert client.post(f"{API}/join", json=bad, headers=auth()).status_code == 422, bad
    assert error_of(client.post(f"{API}/join", json={"share_code": GROUP_SHARE_CODE})) == (401, "missing_token")
    assert error_of(client.post(f"{API}/teams/team_9/join")) == (401, "missing_token")
    assert len(plan.calls_to("JoinTeam")) == 3


@pytest.mark.parametrize(
    ("code", "error", "status"),
    [
        (grpc.StatusCode.FAILED_PRECONDITION, "team_full", 409),
        (grpc.StatusCode.FAILED_PRECONDITION, "join_limit_reached", 409),
        (grpc.StatusCode.ALREADY_EXISTS, "already_in_team", 409),
        (grpc.StatusCode.NOT_FOUND, "share_code_not_found", 404),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "campaign_sold_out", 429),
    ],
)
def test_join_refusals_keep_their_code(
    client: TestClient, auth: Auth, plan: Plan, code, error: str, status: int
) -> None:
    plan.fail("JoinTeam", code, "refused", error)
    assert error_of(client.post(f"{API}/teams/team_9/join", headers=auth())) == (status, error)
    assert error_of(client.post(f"{API}/join", json={"share_code": GROUP_SHARE_CODE}, headers=auth())) == (
        status,
        error,
    )


def test_a_seat_order_is_placed_once_per_idempotency_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_m")
    first = client.post(f"{API}/teams/team_9/order", headers={**user, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert (first.json()["order_id"], first.json()["team_id"], first.json()["price"]) == (
        "ord_1",
        "team_9",
        money(GROUP_PRICE_FEN),
    )
    again = client.post(f"{API}/teams/team_9/order", headers={**user, "Idempotency-Key": key})
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    (call,) = plan.calls_to("PlaceSeatOrder")
    assert (call.request.team_id, call.metadata["x-user-id"]) == ("team_9", "u_m")
    elsewhere = client.post(f"{API}/teams/team_8/order", headers={**user, "Idempotency-Key": key})
    assert error_of(elsewhere) == (422, "idempotency_key_reused")
    assert client.post(f"{API}/teams/team_9/order", headers=user).status_code == 201  # the key is optional
    assert client.post(f"{API}/teams/team_9/order", headers={**user, "Idempotency-Key": "a b"}).status_code == 422
    assert error_of(client.post(f"{API}/teams/team_9/order", headers={"Idempotency-Key": new_key()})) == (
        401,
        "missing_token",
    )
    assert len(plan.calls_to("PlaceSeatOrder")) == 2


def test_a_refused_seat_order_is_stored_under_its_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    headers = {**auth("u_m"), "Idempotency-Key": new_key()}
    plan.fail("PlaceSeatOrder", grpc.StatusCode.FAILED_PRECONDITION, "the hold ran out", "seat_released")
    assert error_of(client.post(f"{API}/teams/team_9/order", headers=headers)) == (409, "seat_released")
    plan.failures.clear()
    again = client.post(f"{API}/teams/team_9/order", headers=headers)
    assert error_of(again) == (409, "seat_released") and again.headers["Idempotent-Replayed"] == "true"
    assert len(plan.calls_to("PlaceSeatOrder")) == 1


def test_a_solo_order_is_placed_once_per_idempotency_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    key, user = new_key(), auth("u_s")
    path = f"{API}/campaigns/cmp_1/solo-order"
    first = client.post(path, json={"quantity": 2}, headers={**user, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert first.json() == {"order_id": "ord_solo", "price": money(2 * SOLO_PRICE_FEN)}
    again = client.post(path, json={"quantity": 2}, headers={**user, "Idempotency-Key": key})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    other = client.post(path, json={"quantity": 3}, headers={**user, "Idempotency-Key": key})
    assert error_of(other) == (422, "idempotency_key_reused")
    (call,) = plan.calls_to("PlaceSoloOrder")
    assert (call.request.campaign_id, call.request.quantity, call.metadata["x-user-id"]) == ("cmp_1", 2, "u_s")
    assert client.post(path, headers=user).json()["price"] == money(SOLO_PRICE_FEN)
    assert plan.calls_to("PlaceSoloOrder")[-1].request.quantity == 0
    plan.fail("PlaceSoloOrder", grpc.StatusCode.FAILED_PRECONDITION, "no solo price", "solo_not_offered")
    assert error_of(client.post(path, headers=user)) == (409, "solo_not_offered")
    assert error_of(client.post(path)) == (401, "missing_token")
    assert client.post(path, json={"quantity": -1}, headers=user).status_code == 422


def test_leave_read_and_share_a_team(client: TestClient, auth: Auth, plan: Plan) -> None:
    left = client.post(f"{API}/teams/team_1/leave", headers=auth("u_lead"))
    assert left.status_code == 200, left.text
    assert (left.json()["status"], left.json()["failure_reason"], left.json()["seats"]) == (
        "failed",
        "leader_left",
        [],
    )
    team = client.get(f"{API}/teams/team_1", headers=auth("u_m"))
    assert team.status_code == 200, team.text
    body = team.json()
    assert (body["seats_claimed"], body["seats_paid"], body["expires_at"]) == (2, 1, "2025-02-01T08:05:00Z")
    assert [(s["user_id"], s["status"], s["order_id"], s["paid_at"]) for s in body["seats"]] == [
        ("u_leader", "paid", "ord_0", "2025-01-31T08:05:00Z"),
        ("u_m", "held", None, None),
    ]
    shared = client.post(f"{API}/teams/team_1/share", headers=auth("u_m"))
    assert (shared.status_code, shared.json()) == (200, {"share_code": GROUP_SHARE_CODE})
    calls = plan.calls_to("LeaveTeam") + plan.calls_to("GetTeam") + plan.calls_to("ShareTeam")
    assert [(c.request.team_id, c.metadata["x-user-id"]) for c in calls] == [
        ("team_1", "u_lead"),
        ("team_1", "u_m"),
        ("team_1", "u_m"),
    ]
    for path in ("leave", "share"):
        assert error_of(client.post(f"{API}/teams/team_1/{path}")) == (401, "missing_token"), path
    plan.fail("LeaveTeam", grpc.StatusCode.FAILED_PRECONDITION, "formed", "team_formed")
    assert error_of(client.post(f"{API}/teams/team_1/leave", headers=auth())) == (409, "team_formed")


def test_a_shared_team_opens_without_a_token_and_without_its_seats(client: TestClient, auth: Auth, plan: Plan) -> None:
    anonymous = client.get(f"{API}/teams/team_1")
    assert anonymous.status_code == 200, anonymous.text
    body = anonymous.json()
    assert (body["id"], body["status"], body["seats_claimed"], body["seats_paid"]) == ("team_1", "forming", 2, 1)
    assert (body["expires_at"], body["seats"]) == ("2025-02-01T08:05:00Z", [])
    member = client.get(f"{API}/teams/team_1", headers=auth("u_m"))
    assert [s["user_id"] for s in member.json()["seats"]] == ["u_leader", "u_m"]
    calls = plan.calls_to("GetTeam")
    assert "x-user-id" not in calls[0].metadata
    assert calls[1].metadata["x-user-id"] == "u_m"
    # a token that is sent must be valid
    assert error_of(client.get(f"{API}/teams/team_1", headers={"Authorization": "Bearer not-a-jwt"})) == (
        401,
        "invalid_token",
    )
    assert len(plan.calls_to("GetTeam")) == 2
    plan.fail("GetTeam", grpc.StatusCode.NOT_FOUND, "no such team", "team_not_found")
    assert error_of(client.get(f"{API}/teams/team_0")) == (404, "team_not_found")


def test_a_share_code_opens_its_team_and_names_its_sharer(client: TestClient, auth: Auth, plan: Plan) -> None:
    opened = client.get(f"{API}/shares/sh6650a1f2c3d4e5f6")
    assert opened.status_code == 200, opened.text
    assert (opened.json()["team"]["id"], opened.json()["sharer_id"]) == ("team_1", "u_sharer")
    client.get(f"{API}/shares/sh6650a1f2c3d4e5f6", headers=auth("u_m"))
    calls = plan.calls_to("GetShare")
    assert [c.request.share_code for c in calls] == ["sh6650a1f2c3d4e5f6"] * 2
    assert ("x-user-id" in calls[0].metadata, calls[1].metadata["x-user-id"]) == (False, "u_m")
    assert error_of(client.get(f"{API}/shares/sh-1")) == (422, "validation_failed")
    plan.fail("GetShare", grpc.StatusCode.NOT_FOUND, "no such share code", "share_code_not_found")
    assert error_of(client.get(f"{API}/shares/shnope")) == (404, "share_code_not_found")


def test_joinable_teams_are_public(client: TestClient, plan: Plan) -> None:
    listed = client.get(f"{API}/campaigns/cmp_1/teams", params={"limit": 5})
    assert listed.status_code == 200, listed.text
    teams = listed.json()["items"]
    assert [(t["id"], t["seats_claimed"], t["seats"], t["expires_at"]) for t in teams] == [
        ("team_2", 2, [], None),
        ("team_3", 1, [], None),
    ]
    assert client.get(f"{API}/campaigns/cmp_1/teams").status_code == 200
    calls = plan.calls_to("ListJoinableTeams")
    assert [(c.request.campaign_id, c.request.limit) for c in calls] == [("cmp_1", 5), ("cmp_1", 20)]
    assert "x-user-id" not in calls[0].metadata
    assert client.get(f"{API}/campaigns/cmp_1/teams", params={"limit": 101}).status_code == 422


def test_my_seats_page(client: TestClient, auth: Auth, plan: Plan) -> None:
    first = client.get(f"{API}/me/seats", params={"limit": 2}, headers=auth("u_m")).json()
    assert [(s["team_id"], s["user_id"]) for s in first["items"]] == [("team_2", "u_m"), ("team_1", "u_m")]
    assert first["next_cursor"] == "c2VhdF8y"
    last = client.get(f"{API}/me/seats", params={"cursor": "c2VhdF8y"}, headers=auth("u_m")).json()
    assert last["next_cursor"] is None
    sent = [(c.request.page.cursor, c.request.page.limit) for c in plan.calls_to("ListMySeats")]
    assert sent == [("", 2), ("c2VhdF8y", 20)]
    assert error_of(client.get(f"{API}/me/seats")) == (401, "missing_token")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/campaigns/{}"),
        ("POST", "/campaigns/{}/teams"),
        ("GET", "/campaigns/{}/teams"),
        ("POST", "/teams/{}/join"),
        ("POST", "/teams/{}/order"),
        ("GET", "/teams/{}"),
    ],
)
@pytest.mark.parametrize("bad_id", ["a.b", "x" * 65, "%24where"])
def test_malformed_ids_never_reach_groupbuy(
    client: TestClient, auth: Auth, plan: Plan, method: str, path: str, bad_id: str
) -> None:
    response = client.request(method, API + path.format(bad_id), headers=auth("u_b", "brand"))
    assert error_of(response) == (422, "validation_failed")
    assert plan.calls == []


# ── paid orders ────────────────────────────────────────────────────────────────────────────────


def test_get_paid_order(client: TestClient, auth: Auth) -> None:
    paid = client.get(f"{API}/paid-orders/ord_1", headers=auth("u_9")).json()
    assert (paid["buyer_id"], paid["amount"]["fen"], paid["group_team_id"]) == ("u_9", PAYMENT_AMOUNT_FEN, None)
    assert client.get(f"{API}/paid-orders/ord_1").status_code == 401
