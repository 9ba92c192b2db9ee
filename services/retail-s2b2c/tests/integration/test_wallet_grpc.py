"""WalletService over gRPC in the real API process: registration, identity from metadata, proto
mapping, error codes in the trailer, and the withdrawal events leaving through the outbox."""

from __future__ import annotations

import json
import uuid

import grpc
import pika
import pytest

from mallkit import context, ids
from mallkit.clock import now
from mallkit.testing import free_port, wait_serving
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.documents.wallet import OrderPayouts, Withdrawal
from socialmall.common.v1 import money_pb2
from socialmall.retail.v1 import wallet_pb2 as pb
from socialmall.retail.v1 import wallet_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def error_code(err: grpc.RpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("error-code", "")


@pytest.fixture
def withdrawal_events(amqp_uri):
    """A private queue bound to the wallet's events on retail.events."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("retail.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare(f"test-withdrawals-{uuid.uuid4().hex[:8]}", exclusive=True).method.queue
    for event_type in ("withdrawal_requested", "withdrawal_paid"):
        channel.queue_bind(queue, "retail.events", routing_key=event_type)

    def drain(wait: float = 3.0) -> list[dict]:
        found = []
        for _method, _props, body in channel.consume(queue, inactivity_timeout=wait):
            if body is None:
                break
            found.append(json.loads(body))
        channel.cancel()
        return found

    yield drain
    connection.close()


def test_wallet_service_over_grpc(mongo_db, infra_env, spawn, withdrawal_events):
    port = free_port()
    api = spawn("retail-api", ["-m", "retail_s2b2c.api"], {**infra_env, "MONGO_DB": mongo_db, "GRPC_PORT": str(port)})
    target = f"127.0.0.1:{port}"
    wait_serving(target, timeout=30, service="socialmall.retail.v1.WalletService")
    order_id = ids.new_id("ord")
    Order._get_collection().insert_one(
        {
            "_id": order_id,
            "buyer_id": "u_B",
            "items": [{"sku_id": "sku_tea", "quantity": 10, "unit_price_fen": 10_000, "amount_fen": 100_000}],
            "total_fen": 100_000,
            "status": "completed",
            "completed_at": now(),
            "attribution": {},
            "idempotency_key": order_id,
            "outbox": [],
        }
    )
    guide = context.to_metadata("rid-guide", context.Caller(service="guide"))
    kol = context.to_metadata("rid-kol", context.Caller("u_K", frozenset({"consumer"})))
    admin = context.to_metadata("rid-admin", context.Caller("u_admin", frozenset({"admin"})))
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.WalletServiceStub(channel)
        assert stub.GetPayoutPolicy(pb.GetPayoutPolicyRequest(), timeout=5).policy == pb.PayoutPolicy(
            paid_levels=2, level1_rate_bp=1000, level2_rate_bp=500, order_cap_bp=3000
        )
        post = pb.PostEntryRequest(
            idempotency_key=f"guide:{order_id}:kol",
            beneficiary_id="u_K",
            kind="kol_commission",
            amount=money_pb2.Money(fen=8000),
            order_id=order_id,
            note="8 % of ¥1,000.00",
            amount_by_sku={"sku_tea": 8000},
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.PostEntry(post, metadata=kol, timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        split_wrong = pb.PostEntryRequest()
        split_wrong.CopyFrom(post)
        split_wrong.amount_by_sku.clear()
        split_wrong.amount_by_sku["sku_gone"] = 8000
        with pytest.raises(grpc.RpcError) as err:
            stub.PostEntry(split_wrong, metadata=guide, timeout=5)
        assert (err.value.code(), error_code(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_amount_by_sku")
        first = stub.PostEntry(post, metadata=guide, timeout=5)
        assert OrderPayouts.objects.get(id=order_id).lines[0].basis == {"sku_tea": 8000}
        again = stub.PostEntry(post, metadata=guide, timeout=5)
        assert first.newly_posted and not again.newly_posted and again.entry.id == first.entry.id
        # the order had completed already: the payout is available at once
        assert (first.entry.source, first.entry.amount.fen, first.entry.state) == (
            "guide",
            8000,
            pb.ENTRY_STATE_AVAILABLE,
        )

        with pytest.raises(grpc.RpcError) as err:
            stub.RequestWithdrawal(pb.RequestWithdrawalRequest(amount=money_pb2.Money(fen=600)), metadata=kol)
        assert (err.value.code(), error_code(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "below_minimum")
        request = pb.RequestWithdrawalRequest(amount=money_pb2.Money(fen=6000), idempotency_key="wk-1")
        pending = stub.RequestWithdrawal(request, metadata=kol, timeout=5).withdrawal
        assert pending.status == pb.WITHDRAWAL_STATUS_PENDING_REVIEW
        assert stub.RequestWithdrawal(request, metadata=kol, timeout=5).withdrawal.id == pending.id
        balance = stub.GetBalance(pb.GetBalanceRequest(), metadata=kol, timeout=5).balance
        assert (balance.available.fen, balance.withdrawing.fen) == (2000, 6000)

        queue = stub.ListWithdrawals(pb.ListWithdrawalsRequest(pending_only=True), metadata=admin, timeout=5)
        assert [w.id for w in queue.withdrawals] == [pending.id]
        paid = stub.ReviewWithdrawal(
            pb.ReviewWithdrawalRequest(withdrawal_id=pending.id, approve=True), metadata=admin, timeout=5
        ).withdrawal
        assert paid.status == pb.WITHDRAWAL_STATUS_PAID and paid.paid_at.seconds > 0

        entries = stub.ListEntries(pb.ListEntriesRequest(page={"limit": 1}), metadata=kol, timeout=5)
        assert [e.kind for e in entries.entries] == ["withdrawal"] and entries.page.next_cursor
        assert entries.entries[0].state == pb.ENTRY_STATE_WITHDRAWN
        payouts = stub.GetOrderPayouts(pb.GetOrderPayoutsRequest(order_id=order_id), metadata=admin, timeout=5)
        assert (payouts.paid.fen, payouts.cap.fen, payouts.booked.fen, len(payouts.entries)) == (
            100_000,
            30_000,
            8000,
            1,
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.UpdatePayoutPolicy(
                pb.UpdatePayoutPolicyRequest(policy=pb.PayoutPolicy(paid_levels=3, order_cap_bp=3000)),
                metadata=admin,
                timeout=5,
            )
        assert (err.value.code(), error_code(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "too_many_paid_levels")
    events = withdrawal_events()
    assert [(e["type"], e["data"]["status"]) for e in events] == [
        ("withdrawal_requested", "pending_review"),
        ("withdrawal_paid", "paid"),
    ], api.log()
    assert events[1]["data"] == {
        "withdrawal_id": pending.id,
        "user_id": "u_K",
        "amount_fen": 6000,
        "fee_fen": 0,
        "status": "paid",
    }
    assert Withdrawal.objects.get(id=pending.id).outbox == []
