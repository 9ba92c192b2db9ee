"""Wallet routes: balance, entries, order payouts, withdrawals and their review, the payout policy."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from fastapi.testclient import TestClient

from gateway.tests.conftest import new_key
from gateway.tests.gateway_fakes import PAYMENT_AMOUNT_FEN, Plan
from socialmall.retail.v1 import wallet_pb2

Auth = Callable[..., dict[str, str]]
POLICY = {"paid_levels": 2, "level1_rate_bp": 1000, "level2_rate_bp": 500, "order_cap_bp": 3000}


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_balance(client: TestClient, auth: Auth, plan: Plan) -> None:
    balance = client.get("/api/v1/wallet/balance", headers=auth("u_o"))
    assert balance.status_code == 200, balance.text
    assert balance.json() == {
        "frozen": {"fen": 398, "display": "¥3.98"},
        "available": {"fen": -100, "display": "-¥1.00"},
        "withdrawing": {"fen": 0, "display": "¥0.00"},
        "withdrawn": {"fen": 5000, "display": "¥50.00"},
    }
    assert client.get("/api/v1/wallet/balance", params={"user_id": "u_9"}, headers=auth("u_a", "admin")).is_success
    assert [c.request.user_id for c in plan.calls_to("GetBalance")] == ["", "u_9"]
    plan.fail("GetBalance", grpc.StatusCode.PERMISSION_DENIED, "admins only", "role_required")
    assert error_of(client.get("/api/v1/wallet/balance", params={"user_id": "u_9"}, headers=auth())) == (
        403,
        "role_required",
    )
    assert error_of(client.get("/api/v1/wallet/balance")) == (401, "missing_token")


def test_entries_and_order_payouts(client: TestClient, auth: Auth, plan: Plan) -> None:
    params = {"state": "frozen", "kind": "commission_l1", "order_id": "ord_1", "limit": 5}
    page = client.get("/api/v1/wallet/entries", params=params, headers=auth("u_o")).json()
    assert page["next_cursor"] == "ZW50XzE"
    (entry,) = page["items"]
    assert (entry["kind"], entry["state"], entry["amount"]["fen"], entry["order_id"], entry["source"]) == (
        "commission_l1",
        "frozen",
        398,
        "ord_1",
        "retail",
    )
    sent = plan.calls_to("ListEntries")[0].request
    assert (sent.state, sent.kind, sent.order_id, sent.page.limit) == (
        wallet_pb2.ENTRY_STATE_FROZEN,
        "commission_l1",
        "ord_1",
        5,
    )
    assert client.get("/api/v1/wallet/entries", params={"state": "reversed"}, headers=auth()).status_code == 422
    payouts = client.get("/api/v1/wallet/orders/ord_1/payouts", headers=auth("u_o")).json()
    assert (payouts["paid"]["fen"], payouts["cap"]["fen"], payouts["booked"]["fen"]) == (PAYMENT_AMOUNT_FEN, 1194, 398)
    assert payouts["entries"][0]["beneficiary_id"] == "u_o"
    plan.fail("GetOrderPayouts", grpc.StatusCode.NOT_FOUND, "none", "order_payouts_not_found")
    assert error_of(client.get("/api/v1/wallet/orders/ord_2/payouts", headers=auth())) == (
        404,
        "order_payouts_not_found",
    )


def test_withdrawals_need_an_idempotency_key(client: TestClient, auth: Auth, plan: Plan) -> None:
    path = "/api/v1/wallet/withdrawals"
    assert error_of(client.post(path, json={"amount_fen": 20000}, headers=auth("u_o"))) == (422, "validation_failed")
    key = new_key()
    created = client.post(path, json={"amount_fen": 20000}, headers={**auth("u_o"), "Idempotency-Key": key})
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["amount"]["fen"], created.json()["paid_at"]) == (
        "pending_review",
        20000,
        None,
    )
    again = client.post(path, json={"amount_fen": 20000}, headers={**auth("u_o"), "Idempotency-Key": key})
    assert again.headers["Idempotent-Replayed"] == "true"
    (call,) = plan.calls_to("RequestWithdrawal")
    assert (call.request.amount.fen, call.request.idempotency_key) == (20000, key)
    plan.fail("RequestWithdrawal", grpc.StatusCode.INVALID_ARGUMENT, "the minimum is ¥10.00", "below_minimum")
    small = client.post(path, json={"amount_fen": 100}, headers={**auth("u_o"), "Idempotency-Key": new_key()})
    assert error_of(small) == (400, "below_minimum")
    plan.fail("RequestWithdrawal", grpc.StatusCode.FAILED_PRECONDITION, "only ¥3.98", "insufficient_balance")
    big = client.post(path, json={"amount_fen": 9000}, headers={**auth("u_o"), "Idempotency-Key": new_key()})
    assert error_of(big) == (409, "insufficient_balance")


def test_list_and_review_withdrawals(client: TestClient, auth: Auth, plan: Plan) -> None:
    mine = client.get("/api/v1/wallet/withdrawals", headers=auth("u_o")).json()
    assert mine["items"][0]["user_id"] == "u_o" and mine["next_cursor"] is None
    queue = client.get("/api/v1/wallet/withdrawals", params={"pending_only": True}, headers=auth("u_a", "admin"))
    assert queue.status_code == 200
    sent = [c.request for c in plan.calls_to("ListWithdrawals")]
    assert [(r.user_id, r.pending_only) for r in sent] == [("", False), ("", True)]

    path = "/api/v1/admin/withdrawals/wd_7/review"
    assert error_of(client.post(path, json={"approve": True}, headers=auth("u_o", "store_owner"))) == (
        403,
        "role_required",
    )
    paid = client.post(path, json={"approve": True}, headers=auth("u_a", "admin")).json()
    assert (paid["id"], paid["status"], paid["paid_at"]) == ("wd_7", "paid", "2025-01-31T08:00:00Z")
    rejected = client.post(path, json={"approve": False, "reason": "KYC"}, headers=auth("u_a", "admin")).json()
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "KYC")
    plan.fail("ReviewWithdrawal", grpc.StatusCode.FAILED_PRECONDITION, "already paid", "withdrawal_not_pending")
    assert error_of(client.post(path, json={"approve": False, "reason": "x"}, headers=auth("u_a", "admin"))) == (
        409,
        "withdrawal_not_pending",
    )


def test_payout_policy_is_for_admins(client: TestClient, auth: Auth, plan: Plan) -> None:
    assert error_of(client.get("/api/v1/admin/payout-policy", headers=auth("u_b", "brand"))) == (403, "role_required")
    assert client.get("/api/v1/admin/payout-policy", headers=auth("u_a", "admin")).json() == POLICY
    changed = {**POLICY, "level1_rate_bp": 800}
    updated = client.put("/api/v1/admin/payout-policy", json=changed, headers=auth("u_a", "admin"))
    assert (updated.status_code, updated.json()) == (200, changed)
    assert plan.calls_to("UpdatePayoutPolicy")[0].request.policy.level1_rate_bp == 800
    plan.fail("UpdatePayoutPolicy", grpc.StatusCode.INVALID_ARGUMENT, "at most 2 levels", "too_many_paid_levels")
    three = client.put("/api/v1/admin/payout-policy", json={**POLICY, "paid_levels": 3}, headers=auth("u_a", "admin"))
    assert error_of(three) == (400, "too_many_paid_levels")  # the service refuses (and audits) it, not the edge
    assert client.put("/api/v1/admin/payout-policy", json=POLICY, headers=auth("u_o")).status_code == 403
    assert plan.calls_to("UpdatePayoutPolicy")[-1].request.policy.paid_levels == 3


def test_wallet_calls_ride_on_the_retail_channel(client: TestClient) -> None:
    clients = client.app.state.clients  # type: ignore[attr-defined]
    assert clients.wallet.channel is clients.retail.channel and clients.stores.channel is clients.retail.channel
    assert set(clients.by_name()) == {"retail", "groupbuy", "content", "agent", "guide"}
