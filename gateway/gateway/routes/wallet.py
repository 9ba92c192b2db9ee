"""The wallet: balances and ledger entries, order payouts, withdrawals, and the payout policy.

Payouts are booked by the services (WalletService.PostEntry over gRPC); this API only reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, role
from gateway.clients import Rpc
from gateway.idempotency import IdempotentRoute, RequiredIdempotencyKey
from gateway.money import MAX_FEN, Money, to_pb
from gateway.schemas import Cursor, JsonInt, Limit, Page, RequestBody, enum_label, path_id, query_id
from mallkit.protos import datetime_of
from socialmall.common.v1 import page_pb2
from socialmall.retail.v1 import wallet_pb2 as pb

router = APIRouter(tags=["wallet"], responses=errors.COMMON, route_class=IdempotentRoute)

Authenticated = Annotated[Rpc, Depends(authenticated)]
AdminOnly = Annotated[Rpc, Depends(role(Role.ADMIN))]
UserId = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Another user's (admins only); omit for the caller's own.",
        examples=["u_42"],
    ),
]
OrderId = Annotated[str, path_id("ord")]
WithdrawalId = Annotated[str, path_id("wd")]
OrderFilter = Annotated[str | None, query_id("ord")]
ENTRY_STATE = {
    "frozen": pb.ENTRY_STATE_FROZEN,
    "available": pb.ENTRY_STATE_AVAILABLE,
    "withdrawn": pb.ENTRY_STATE_WITHDRAWN,
}
Kind = Literal[
    "commission_l1",
    "commission_l2",
    "group_commission",
    "creator_reward",
    "kol_commission",
    "agent_rebate",
    "reversal",
    "withdrawal",
    "withdrawal_returned",
]
KINDS = get_args(Kind)


def page_of(cursor: str | None, limit: int) -> page_pb2.PageRequest:
    return page_pb2.PageRequest(cursor=cursor or "", limit=limit)


class Balance(BaseModel):
    frozen: Money = Field(..., description="Earned on orders still inside their after-sale window.")
    available: Money = Field(..., description="Withdrawable; negative after a clawback (withdrawals then wait).")
    withdrawing: Money = Field(..., description="Requested withdrawals not yet paid out.")
    withdrawn: Money

    @classmethod
    def from_pb(cls, balance: pb.Balance) -> Balance:
        return cls(
            frozen=Money.from_pb(balance.frozen),
            available=Money.from_pb(balance.available),
            withdrawing=Money.from_pb(balance.withdrawing),
            withdrawn=Money.from_pb(balance.withdrawn),
        )


class Entry(BaseModel):
    id: str = Field(..., examples=["ent_6650a1f2c3d4e5f6a7b8c9e3"])
    beneficiary_id: str = Field(..., examples=["u_42"])
    kind: str = Field(..., description=f"One of {', '.join(KINDS)}.", examples=["commission_l1"])
    amount: Money = Field(..., description="Signed: earnings positive, reversals and withdrawals negative.")
    state: str = Field(..., description="frozen, available, withdrawn or reversed.", examples=["frozen"])
    order_id: str | None = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    source: str = Field(..., description="The service that booked it.", examples=["retail"])
    note: str = Field(..., examples=["level 1 commission, 10 % of ¥256.00"])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:05:00Z"])

    @classmethod
    def from_pb(cls, entry: pb.Entry) -> Entry:
        return cls(
            id=entry.id,
            beneficiary_id=entry.beneficiary_id,
            kind=entry.kind,
            amount=Money.from_pb(entry.amount),
            state=enum_label(entry, "state", "ENTRY_STATE_"),
            order_id=entry.order_id or None,
            source=entry.source,
            note=entry.note,
            created_at=datetime_of(entry, "created_at"),
        )


class OrderPayouts(BaseModel):
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    paid: Money = Field(..., description="What the buyer paid.")
    cap: Money = Field(..., description="The most the order may pay out in total, across every service.")
    booked: Money = Field(..., description="Booked so far (only the caller's own, unless an admin).")
    entries: list[Entry]


class Withdrawal(BaseModel):
    id: str = Field(..., examples=["wd_6650a1f2c3d4e5f6a7b8c9e4"])
    user_id: str = Field(..., examples=["u_42"])
    amount: Money
    fee: Money
    status: str = Field(..., description="pending_review, paid or rejected.", examples=["paid"])
    reject_reason: str | None = Field(..., examples=[None])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    paid_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def from_pb(cls, withdrawal: pb.Withdrawal) -> Withdrawal:
        return cls(
            id=withdrawal.id,
            user_id=withdrawal.user_id,
            amount=Money.from_pb(withdrawal.amount),
            fee=Money.from_pb(withdrawal.fee),
            status=enum_label(withdrawal, "status", "WITHDRAWAL_STATUS_"),
            reject_reason=withdrawal.reject_reason or None,
            created_at=datetime_of(withdrawal, "created_at"),
            paid_at=datetime_of(withdrawal, "paid_at"),
        )


class NewWithdrawal(RequestBody):
    amount_fen: JsonInt = Field(
        ..., gt=0, le=MAX_FEN, description="From the available balance (platform limits apply).", examples=[5000]
    )


class WithdrawalReview(RequestBody):
    approve: bool = Field(..., examples=[True])
    reason: str = Field("", max_length=200, description="Required to reject.", examples=[""])


BasisPoints = Annotated[JsonInt, Field(ge=0, le=10_000, description="Basis points: 1000 = 10 %.")]


class PayoutPolicy(RequestBody):
    """Compliance: at most 2 paid levels and a cap of at most 30 %; a policy beyond them is refused (400)."""

    paid_levels: JsonInt = Field(..., ge=0, le=10, description="1 or 2: the platform maximum is 2.", examples=[2])
    level1_rate_bp: BasisPoints = Field(..., examples=[1000])
    level2_rate_bp: BasisPoints = Field(..., examples=[500])
    order_cap_bp: BasisPoints = Field(
        ..., description="Total payout on an order in basis points of the paid amount; at most 3000.", examples=[3000]
    )

    @classmethod
    def from_pb(cls, policy: pb.PayoutPolicy) -> PayoutPolicy:
        return cls(
            paid_levels=policy.paid_levels,
            level1_rate_bp=policy.level1_rate_bp,
            level2_rate_bp=policy.level2_rate_bp,
            order_cap_bp=policy.order_cap_bp,
        )

    def to_pb(self) -> pb.PayoutPolicy:
        return pb.PayoutPolicy(**self.model_dump())


# ── balances and entries ───────────────────────────────────────────────────────────────────────


@router.get(
    "/wallet/balance",
    responses={**errors.NEEDS_TOKEN, **errors.forbidden("role_required")},
    summary="The caller's balance; admins may name a user (authenticated)",
)
async def get_balance(rpc: Authenticated, user_id: UserId = None) -> Balance:
    reply = await rpc.wallet("GetBalance", pb.GetBalanceRequest(user_id=user_id or ""))
    return Balance.from_pb(reply.balance)


@router.get(
    "/wallet/entries",
    responses={**errors.NEEDS_TOKEN, **errors.forbidden("role_required")},
    summary="The caller's ledger entries, newest first; admins may name a user (authenticated)",
)
async def list_entries(
    rpc: Authenticated,
    cursor: Cursor = None,
    limit: Limit = 20,
    state: Annotated[
        Literal["frozen", "available", "withdrawn"] | None,
        Query(description="Only entries in this state (reversals: kind=reversal).", examples=["frozen"]),
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only entries of this kind.", examples=["reversal"])] = None,
    order_id: OrderFilter = None,
    user_id: UserId = None,
) -> Page[Entry]:
    request = pb.ListEntriesRequest(
        user_id=user_id or "",
        state=ENTRY_STATE[state] if state else pb.ENTRY_STATE_UNSPECIFIED,
        kind=kind or "",
        order_id=order_id or "",
        page=page_of(cursor, limit),
    )
    reply = await rpc.wallet("ListEntries", request)
    return Page[Entry](items=[Entry.from_pb(e) for e in reply.entries], next_cursor=reply.page.next_cursor or None)


@router.get(
    "/wallet/orders/{order_id}/payouts",
    responses=errors.NEEDS_TOKEN,
    summary="Who earned what from one order, and why (authenticated: a beneficiary sees their own lines)",
)
async def get_order_payouts(order_id: OrderId, rpc: Authenticated) -> OrderPayouts:
    reply = await rpc.wallet("GetOrderPayouts", pb.GetOrderPayoutsRequest(order_id=order_id))
    return OrderPayouts(
        order_id=reply.order_id,
        paid=Money.from_pb(reply.paid),
        cap=Money.from_pb(reply.cap),
        booked=Money.from_pb(reply.booked),
        entries=[Entry.from_pb(e) for e in reply.entries],
    )


# ── withdrawals ────────────────────────────────────────────────────────────────────────────────


@router.post(
    "/wallet/withdrawals",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Withdraw from the available balance (authenticated; Idempotency-Key required)",
    description=(
        "Below the minimum is a 400 `below_minimum`, above the maximum `above_maximum`; more than is "
        "available a 409 `insufficient_balance`. Small amounts are paid at once; larger ones wait for review."
    ),
)
async def request_withdrawal(
    body: NewWithdrawal, rpc: Authenticated, idempotency_key: RequiredIdempotencyKey
) -> Withdrawal:
    request = pb.RequestWithdrawalRequest(amount=to_pb(body.amount_fen), idempotency_key=idempotency_key)
    reply = await rpc.wallet("RequestWithdrawal", request)
    return Withdrawal.from_pb(reply.withdrawal)


@router.get(
    "/wallet/withdrawals",
    responses={**errors.NEEDS_TOKEN, **errors.forbidden("role_required")},
    summary="The caller's withdrawals, newest first; admins may name a user or list the review queue (authenticated)",
)
async def list_withdrawals(
    rpc: Authenticated,
    cursor: Cursor = None,
    limit: Limit = 20,
    pending_only: Annotated[
        bool, Query(description="Only those waiting for review (admins without user_id: everyone's).", examples=[False])
    ] = False,
    user_id: UserId = None,
) -> Page[Withdrawal]:
    request = pb.ListWithdrawalsRequest(user_id=user_id or "", pending_only=pending_only, page=page_of(cursor, limit))
    reply = await rpc.wallet("ListWithdrawals", request)
    return Page[Withdrawal](
        items=[Withdrawal.from_pb(w) for w in reply.withdrawals], next_cursor=reply.page.next_cursor or None
    )


@router.post(
    "/admin/withdrawals/{withdrawal_id}/review",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Approve (paid out at once) or reject a withdrawal with a reason (role admin)",
)
async def review_withdrawal(withdrawal_id: WithdrawalId, body: WithdrawalReview, rpc: AdminOnly) -> Withdrawal:
    request = pb.ReviewWithdrawalRequest(withdrawal_id=withdrawal_id, approve=body.approve, reason=body.reason)
    reply = await rpc.wallet("ReviewWithdrawal", request)
    return Withdrawal.from_pb(reply.withdrawal)


# ── payout policy ──────────────────────────────────────────────────────────────────────────────


@router.get("/admin/payout-policy", responses=errors.NEEDS_ROLE, summary="The platform's payout policy (role admin)")
async def get_payout_policy(rpc: AdminOnly) -> PayoutPolicy:
    reply = await rpc.wallet("GetPayoutPolicy", pb.GetPayoutPolicyRequest())
    return PayoutPolicy.from_pb(reply.policy)


@router.put(
    "/admin/payout-policy",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Change the payout policy; beyond the compliance limits it is refused and audited (role admin)",
)
async def update_payout_policy(body: PayoutPolicy, rpc: AdminOnly) -> PayoutPolicy:
    reply = await rpc.wallet("UpdatePayoutPolicy", pb.UpdatePayoutPolicyRequest(policy=body.to_pb()))
    return PayoutPolicy.from_pb(reply.policy)
