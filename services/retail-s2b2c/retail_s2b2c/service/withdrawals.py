"""Withdrawal use cases: request (debits the available balance atomically), admin review, listing.

No double spend without a lock or a stored balance: a user's withdrawals form a chain in the
ledger. The n-th withdrawal entry has the unique key `withdrawal:<user>:<n>`; a request reads the
user's last n, then their balance (a sum over entries), checks the rules and inserts entry n+1.
Two requests that read the same n cannot both insert n+1: the loser re-reads (now seeing the
winner's debit) and decides again. Earnings and reversals need no place in the chain: the first
only add to the balance, and the second may drive it negative by design (a clawback).

The entry is the commitment; the `Withdrawal` document (the workflow, with its outbox events) is
written right after it, with an id fixed in the entry, so a crash in between is repaired by a
retry with the same idempotency key or by the sweep (`repair`).
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from mallkit import ids, paging, sweeps
from mallkit.access import ADMIN, get_or_404, require_role, require_user
from mallkit.clock import business_day_start, now
from mallkit.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable
from mallkit.events import new_event
from mallkit.mongo import insert_once
from retail_s2b2c.config import SERVICE
from retail_s2b2c.documents.wallet import LedgerEntry, Withdrawal
from retail_s2b2c.domain import ledger
from retail_s2b2c.domain import withdrawals as rules_
from retail_s2b2c.domain.ledger import EntryState, Kind
from retail_s2b2c.domain.withdrawals import WithdrawalRules, WithdrawalStatus
from retail_s2b2c.service.ledger import balance

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50
MAX_CLIENT_KEY_LEN = 128


def _event(type_: str, withdrawal: Withdrawal) -> dict:
    return new_event(
        SERVICE,
        type_,
        {
            "withdrawal_id": withdrawal.id,
            "user_id": withdrawal.user_id,
            "amount_fen": withdrawal.amount_fen,
            "fee_fen": withdrawal.fee_fen,
            "status": withdrawal.status,
        },
    )


def _by_request_key(user_id: str, key: str, amount_fen: int) -> LedgerEntry | None:
    """The withdrawal this key already asked for; the same key for another amount is refused."""
    found = LedgerEntry.objects(beneficiary_id=user_id, kind=Kind.WITHDRAWAL, request_key=key).first()
    if found is not None and -found.amount_fen != amount_fen:
        raise InvalidArgument(
            f"idempotency key {key!r} asked for {ledger.fmt_fen(-found.amount_fen)}, not {ledger.fmt_fen(amount_fen)}",
            "idempotency_key_reused",
        )
    return found


def request_withdrawal(amount_fen: int, idempotency_key: str, rules: WithdrawalRules) -> Withdrawal:
    """Debit the caller's available balance and open a withdrawal; auto-approved amounts are paid
    at once by the simulated payout. Retrying with the same idempotency key returns the first."""
    user_id = require_user().user_id
    if len(idempotency_key) > MAX_CLIENT_KEY_LEN:
        raise InvalidArgument(
            f"idempotency key is longer than {MAX_CLIENT_KEY_LEN} characters", "invalid_idempotency_key"
        )
    if idempotency_key and (found := _by_request_key(user_id, idempotency_key, amount_fen)):
        return _ensure_document(found, rules)
    rules_.check_amount(amount_fen, rules)
    withdrawal_id = ids.new_id("wd")
    for attempt in range(MAX_ATTEMPTS):
        last = LedgerEntry.objects(beneficiary_id=user_id, kind=Kind.WITHDRAWAL).order_by("-seq").only("seq").first()
        seq = (last.seq if last else 0) + 1
        # after reading the chain's end: a same-key request that got in before it is visible now
        if idempotency_key and (found := _by_request_key(user_id, idempotency_key, amount_fen)):
            return _ensure_document(found, rules)
        today = LedgerEntry.objects(
            beneficiary_id=user_id, kind=Kind.WITHDRAWAL, created_at__gte=business_day_start(now())
        ).count()
        rules_.check_can_withdraw(amount_fen, balance(user_id).available_fen, today, rules)
        entry = LedgerEntry(
            id=ids.new_id("ent"),
            idempotency_key=ledger.withdrawal_key(user_id, seq),
            beneficiary_id=user_id,
            kind=Kind.WITHDRAWAL,
            amount_fen=-amount_fen,
            state=EntryState.WITHDRAWING,
            source=SERVICE,
            note=f"withdrawal {withdrawal_id}",
            withdrawal_id=withdrawal_id,
            seq=seq,
            request_key=idempotency_key or withdrawal_id,
            created_at=now(),
        )
        if insert_once(entry):
            return _ensure_document(entry, rules)
        time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))  # another request took seq n+1
    raise Unavailable("too many concurrent withdrawals; retry", "withdrawal_busy")


def _ensure_document(entry: LedgerEntry, rules: WithdrawalRules) -> Withdrawal:
    """The withdrawal document of a withdrawal entry (created if missing), in step with it."""
    withdrawal = Withdrawal.objects(id=entry.withdrawal_id).first()
    if withdrawal is None:
        amount = -entry.amount_fen
        paid = rules.auto_approved(amount)
        withdrawal = Withdrawal(
            id=entry.withdrawal_id,
            user_id=entry.beneficiary_id,
            amount_fen=amount,
            fee_fen=rules.fee_fen(amount),
            status=WithdrawalStatus.PAID if paid else WithdrawalStatus.PENDING_REVIEW,
            idempotency_key=entry.request_key,
            seq=entry.seq,
            created_at=entry.created_at,
            paid_at=now() if paid else None,
        )
        withdrawal.outbox = [_event("withdrawal_requested", withdrawal)]
        if paid:
            withdrawal.outbox.append(_event("withdrawal_paid", withdrawal))
        if not insert_once(withdrawal):
            withdrawal = Withdrawal.objects.get(id=entry.withdrawal_id)
    sync_entry(withdrawal)
    return withdrawal


def sync_entry(withdrawal: Withdrawal) -> None:
    """Move the withdrawal's entry to the state its status implies (idempotent).

    paid: withdrawing → withdrawn. rejected: a `withdrawal_returned` entry gives the amount back,
    then the debit becomes a plain available entry (the two net to zero)."""
    if withdrawal.status == WithdrawalStatus.PAID:
        LedgerEntry.objects(withdrawal_id=withdrawal.id, kind=Kind.WITHDRAWAL, state=EntryState.WITHDRAWING).update_one(
            set__state=EntryState.WITHDRAWN, set__settled_at=withdrawal.paid_at or now()
        )
    elif withdrawal.status == WithdrawalStatus.REJECTED:
        insert_once(
            LedgerEntry(
                id=ids.new_id("ent"),
                idempotency_key=ledger.withdrawal_returned_key(withdrawal.id),
                beneficiary_id=withdrawal.user_id,
                kind=Kind.WITHDRAWAL_RETURNED,
                amount_fen=withdrawal.amount_fen,
                state=EntryState.AVAILABLE,
                source=SERVICE,
                note=f"withdrawal {withdrawal.id} rejected: {withdrawal.reject_reason}",
                withdrawal_id=withdrawal.id,
                created_at=now(),
            )
        )
        LedgerEntry.objects(withdrawal_id=withdrawal.id, kind=Kind.WITHDRAWAL, state=EntryState.WITHDRAWING).update_one(
            set__state=EntryState.AVAILABLE
        )


def review_withdrawal(withdrawal_id: str, approve: bool, reason: str) -> Withdrawal:
    """Admin: approve (the simulated payout pays it at once) or reject with a reason (the amount
    returns to the available balance). Repeating the same decision returns the withdrawal."""
    who = require_role(ADMIN)
    withdrawal = get_or_404(Withdrawal, withdrawal_id, "withdrawal")
    if withdrawal.user_id == who.user_id:
        raise PermissionDenied("an admin does not review their own withdrawal", "own_withdrawal")
    wanted = WithdrawalStatus.PAID if approve else WithdrawalStatus.REJECTED
    if withdrawal.status != wanted:
        rules_.check_pending(withdrawal.status)
        at = now()
        if approve:
            withdrawal.status, withdrawal.paid_at = WithdrawalStatus.PAID, at
            changes = {"set__paid_at": at, "push__outbox": _event("withdrawal_paid", withdrawal)}
        else:
            withdrawal.reject_reason = rules_.check_reject_reason(reason)
            changes = {"set__reject_reason": withdrawal.reject_reason}
        Withdrawal.objects(id=withdrawal.id, status=WithdrawalStatus.PENDING_REVIEW).update_one(
            set__status=wanted, set__reviewed_by=who.user_id, set__reviewed_at=at, **changes
        )
        withdrawal.reload()
        if withdrawal.status != wanted:  # a concurrent review decided otherwise
            raise FailedPrecondition(f"the withdrawal is {withdrawal.status}", "withdrawal_not_pending")
    sync_entry(withdrawal)
    return withdrawal


def list_withdrawals(user_id: str, pending_only: bool, cursor: str, limit: int) -> tuple[list[Withdrawal], str]:
    """Newest first. Own withdrawals; admins may name a user or list the review queue."""
    who = require_user()
    page = paging.parse(cursor, limit)
    admin = who.has_role(ADMIN)
    if user_id and user_id != who.user_id and not admin:
        raise PermissionDenied("another user's withdrawals need the admin role", "role_required")
    if not user_id:
        user_id = "" if (pending_only and admin) else who.user_id  # "": the whole review queue
    query = Withdrawal.objects(user_id=user_id) if user_id else Withdrawal.objects
    if pending_only:
        query = query.filter(status=WithdrawalStatus.PENDING_REVIEW)
    return paging.newest_first(query, page)


def repair(rules: WithdrawalRules, older_than: timedelta = timedelta(seconds=60), limit: int = 200) -> int:
    """Entries still `withdrawing` a while after their request: write a missing document (a crash
    between the two writes) and bring the entry in step with a decided review."""
    stale = LedgerEntry.objects(
        kind=Kind.WITHDRAWAL, state=EntryState.WITHDRAWING, created_at__lt=now() - older_than
    ).limit(limit)
    return sweeps.each(
        stale,
        lambda entry: _ensure_document(entry, rules).status != WithdrawalStatus.PENDING_REVIEW,
        what="withdrawal entry",
    )
