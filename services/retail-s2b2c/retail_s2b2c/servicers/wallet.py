"""WalletService: the ledger, withdrawals and the payout policy; translates protos to use cases.

Who may call what (enforced in the use cases):
- PostEntry: platform services (x-caller-service metadata) or callers with the `service` or
  `admin` role.
- GetBalance, ListEntries: the caller's own wallet; another user's needs `admin`.
- GetOrderPayouts: admins and services see every line; a beneficiary sees only their own lines.
- RequestWithdrawal, ListWithdrawals: the caller's own (admins may name a user or list the
  review queue); ReviewWithdrawal and UpdatePayoutPolicy: `admin`. GetPayoutPolicy: anyone.
"""

from __future__ import annotations

from mallkit.outbox import OutboxRelay
from mallkit.protos import money, timestamp
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.wallet import LedgerEntry, Withdrawal
from retail_s2b2c.domain.ledger import Balance, EntryState
from retail_s2b2c.domain.payout_policy import Policy
from retail_s2b2c.domain.withdrawals import WithdrawalStatus
from retail_s2b2c.service import wallet, withdrawals
from socialmall.common.v1 import page_pb2
from socialmall.retail.v1 import wallet_pb2 as pb
from socialmall.retail.v1 import wallet_pb2_grpc as pb_grpc

# a pending withdrawal's debit is shown as AVAILABLE: it is taken from the available balance
ENTRY_STATE = {
    EntryState.FROZEN: pb.ENTRY_STATE_FROZEN,
    EntryState.AVAILABLE: pb.ENTRY_STATE_AVAILABLE,
    EntryState.WITHDRAWING: pb.ENTRY_STATE_AVAILABLE,
    EntryState.WITHDRAWN: pb.ENTRY_STATE_WITHDRAWN,
}
STATE_FILTER = {
    pb.ENTRY_STATE_UNSPECIFIED: "",
    pb.ENTRY_STATE_FROZEN: EntryState.FROZEN.value,
    pb.ENTRY_STATE_AVAILABLE: EntryState.AVAILABLE.value,
    pb.ENTRY_STATE_WITHDRAWN: EntryState.WITHDRAWN.value,
    pb.ENTRY_STATE_REVERSED: "reversed",  # refused by the use case: reversals are a kind
}
WITHDRAWAL_STATUS = {
    WithdrawalStatus.PENDING_REVIEW: pb.WITHDRAWAL_STATUS_PENDING_REVIEW,
    WithdrawalStatus.PAID: pb.WITHDRAWAL_STATUS_PAID,
    WithdrawalStatus.REJECTED: pb.WITHDRAWAL_STATUS_REJECTED,
}


def entry_pb(entry: LedgerEntry) -> pb.Entry:
    return pb.Entry(
        id=entry.id,
        beneficiary_id=entry.beneficiary_id,
        kind=entry.kind,
        amount=money(entry.amount_fen),
        state=ENTRY_STATE[EntryState(entry.state)],
        order_id=entry.order_id,
        source=entry.source,
        idempotency_key=entry.idempotency_key,
        note=entry.note,
        created_at=timestamp(entry.created_at),
    )


def balance_pb(balance: Balance) -> pb.Balance:
    return pb.Balance(
        frozen=money(balance.frozen_fen),
        available=money(balance.available_fen),
        withdrawing=money(balance.withdrawing_fen),
        withdrawn=money(balance.withdrawn_fen),
    )


def withdrawal_pb(withdrawal: Withdrawal) -> pb.Withdrawal:
    return pb.Withdrawal(
        id=withdrawal.id,
        user_id=withdrawal.user_id,
        amount=money(withdrawal.amount_fen),
        fee=money(withdrawal.fee_fen),
        status=WITHDRAWAL_STATUS[WithdrawalStatus(withdrawal.status)],
        reject_reason=withdrawal.reject_reason,
        created_at=timestamp(withdrawal.created_at),
        paid_at=timestamp(withdrawal.paid_at),
    )


def policy_pb(policy: Policy) -> pb.PayoutPolicy:
    return pb.PayoutPolicy(
        paid_levels=policy.paid_levels,
        level1_rate_bp=policy.level1_rate_bp,
        level2_rate_bp=policy.level2_rate_bp,
        order_cap_bp=policy.order_cap_bp,
    )


class WalletServicer(pb_grpc.WalletServiceServicer):
    def __init__(self, settings: RetailSettings, relay: OutboxRelay) -> None:
        self.settings = settings
        self.relay = relay

    def PostEntry(self, request, context):
        posted = wallet.post_entry(
            request.idempotency_key,
            request.beneficiary_id,
            request.kind,
            request.amount.fen,
            request.order_id,
            request.note,
            dict(request.amount_by_sku),
        )
        return pb.PostEntryResponse(entry=entry_pb(posted.entry), newly_posted=posted.newly_posted)

    def GetBalance(self, request, context):
        return pb.GetBalanceResponse(balance=balance_pb(wallet.get_balance(request.user_id)))

    def ListEntries(self, request, context):
        rows, cursor = wallet.list_entries(
            request.user_id,
            STATE_FILTER.get(request.state, "reversed"),
            request.kind,
            request.order_id,
            request.page.cursor,
            request.page.limit,
        )
        return pb.ListEntriesResponse(
            entries=[entry_pb(e) for e in rows], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def GetOrderPayouts(self, request, context):
        view = wallet.get_order_payouts(request.order_id)
        return pb.GetOrderPayoutsResponse(
            order_id=view.order_id,
            paid=money(view.paid_fen),
            cap=money(view.cap_fen),
            booked=money(view.booked_fen),
            entries=[entry_pb(e) for e in view.entries],
        )

    def RequestWithdrawal(self, request, context):
        withdrawal = withdrawals.request_withdrawal(
            request.amount.fen, request.idempotency_key, self.settings.withdrawal_rules
        )
        self.relay.nudge(withdrawal)
        return pb.RequestWithdrawalResponse(withdrawal=withdrawal_pb(withdrawal))

    def ReviewWithdrawal(self, request, context):
        withdrawal = withdrawals.review_withdrawal(request.withdrawal_id, request.approve, request.reason)
        self.relay.nudge(withdrawal)
        return pb.ReviewWithdrawalResponse(withdrawal=withdrawal_pb(withdrawal))

    def ListWithdrawals(self, request, context):
        rows, cursor = withdrawals.list_withdrawals(
            request.user_id, request.pending_only, request.page.cursor, request.page.limit
        )
        return pb.ListWithdrawalsResponse(
            withdrawals=[withdrawal_pb(w) for w in rows], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def GetPayoutPolicy(self, request, context):
        return pb.GetPayoutPolicyResponse(policy=policy_pb(wallet.get_payout_policy()))

    def UpdatePayoutPolicy(self, request, context):
        p = request.policy
        updated = wallet.update_payout_policy(Policy(p.paid_levels, p.level1_rate_bp, p.level2_rate_bp, p.order_cap_bp))
        return pb.UpdatePayoutPolicyResponse(policy=policy_pb(updated))
