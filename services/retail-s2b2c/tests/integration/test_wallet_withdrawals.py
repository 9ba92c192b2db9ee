"""Withdrawals against the Mongo wire server: the rules, review, idempotency, crash repair, and
concurrent requests from threads and from processes that must never overdraw."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from mallkit import context, ids
from mallkit.clock import frozen_at, now
from mallkit.errors import DomainError, FailedPrecondition, InvalidArgument, PermissionDenied
from retail_s2b2c.documents.wallet import LedgerEntry, Withdrawal
from retail_s2b2c.domain.ledger import Balance
from retail_s2b2c.domain.withdrawals import WithdrawalRules
from retail_s2b2c.service import wallet, withdrawals

pytestmark = pytest.mark.integration

ADMIN = context.Caller("u_admin", frozenset({"admin"}))
RULES = WithdrawalRules()
MANY_A_DAY = WithdrawalRules(per_day=1000)


def as_(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def user(name: str) -> context.Caller:
    return context.Caller(name, frozenset({"consumer"}))


def fund(user_id: str, amount_fen: int) -> None:
    """A settled earning, as the ledger leaves it after an order completes."""
    LedgerEntry(
        id=ids.new_id("ent"),
        idempotency_key=f"test:{ids.new_id('k')}",
        beneficiary_id=user_id,
        kind="kol_commission",
        amount_fen=amount_fen,
        state="available",
        order_id="ord_test",
        source="guide",
    ).save(force_insert=True)


def withdraw(user_id: str, amount_fen: int, key: str = "", rules: WithdrawalRules = RULES) -> Withdrawal:
    with as_(user(user_id)):
        return withdrawals.request_withdrawal(amount_fen, key, rules)


def balance(user_id: str) -> Balance:
    with as_(ADMIN):
        return wallet.get_balance(user_id)


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as err:
        call(*args, **kwargs)
    return err.value.code


def test_auto_approved_withdrawal_is_paid_at_once_and_raises_both_events(mongo_db):
    fund("u_O", 8000)
    paid = withdraw("u_O", 5000)
    assert (paid.status, paid.amount_fen, paid.fee_fen, paid.paid_at is not None) == ("paid", 5000, 0, True)
    assert balance("u_O") == Balance(available_fen=3000, withdrawn_fen=5000)
    events = Withdrawal.objects.get(id=paid.id).outbox
    assert [e["type"] for e in events] == ["withdrawal_requested", "withdrawal_paid"]
    assert events[1]["data"] == {
        "withdrawal_id": paid.id,
        "user_id": "u_O",
        "amount_fen": 5000,
        "fee_fen": 0,
        "status": "paid",
    }
    [entry] = LedgerEntry.objects(kind="withdrawal")
    assert (entry.amount_fen, entry.state, entry.idempotency_key) == (-5000, "withdrawn", "withdrawal:u_O:1")


def test_review_approve_pays_and_reject_returns_the_amount(mongo_db):
    fund("u_O", 30_000)
    big = withdraw("u_O", 10_000)
    other = withdraw("u_O", 12_000)
    assert big.status == other.status == "pending_review"
    assert balance("u_O") == Balance(available_fen=8000, withdrawing_fen=22_000)
    assert [e["type"] for e in Withdrawal.objects.get(id=big.id).outbox] == ["withdrawal_requested"]

    with as_(user("u_O")):
        assert code_of(withdrawals.review_withdrawal, big.id, True, "") == "role_required"
        queue, _ = withdrawals.list_withdrawals("", True, "", 10)  # a user sees only their own
        assert {w.id for w in queue} == {big.id, other.id}
    with as_(context.Caller("u_O", frozenset({"admin"}))):
        assert code_of(withdrawals.review_withdrawal, big.id, True, "") == "own_withdrawal"
    with as_(ADMIN):
        assert [w.id for w in withdrawals.list_withdrawals("", True, "", 10)[0]] == [other.id, big.id]
        approved = withdrawals.review_withdrawal(big.id, True, "")
        assert withdrawals.review_withdrawal(big.id, True, "").status == "paid"  # repeated: same answer
        assert code_of(withdrawals.review_withdrawal, big.id, False, "too late") == "withdrawal_not_pending"
        assert code_of(withdrawals.review_withdrawal, other.id, False, " ") == "reason_required"
        rejected = withdrawals.review_withdrawal(other.id, False, "account name does not match")
    assert (approved.status, approved.reviewed_by, approved.paid_at is not None) == ("paid", "u_admin", True)
    assert [e["type"] for e in Withdrawal.objects.get(id=big.id).outbox] == ["withdrawal_requested", "withdrawal_paid"]
    assert (rejected.status, rejected.reject_reason) == ("rejected", "account name does not match")
    assert balance("u_O") == Balance(available_fen=20_000, withdrawn_fen=10_000)
    assert sorted((e.kind, e.amount_fen, e.state) for e in LedgerEntry.objects(withdrawal_id=other.id)) == [
        ("withdrawal", -12_000, "available"),
        ("withdrawal_returned", 12_000, "available"),
    ]


def test_refusals(mongo_db):
    fund("u_O", 2000)
    assert code_of(withdraw, "u_O", 999) == "below_minimum"
    assert code_of(withdraw, "u_O", 500_001) == "above_maximum"
    assert code_of(withdraw, "u_O", 2001) == "insufficient_balance"
    assert code_of(withdraw, "u_nobody", 1000) == "insufficient_balance"
    with as_(context.ANONYMOUS), pytest.raises(PermissionDenied):
        withdrawals.request_withdrawal(1000, "", RULES)
    assert LedgerEntry.objects(kind="withdrawal").count() == 0


def test_three_a_day_in_china(mongo_db):
    fund("u_O", 10_000)
    with frozen_at(datetime(2026, 3, 5, 15, 59, tzinfo=UTC)):  # 23:59 in Beijing
        for _ in range(3):
            withdraw("u_O", 1000)
        with pytest.raises(FailedPrecondition) as err:
            withdraw("u_O", 1000)
        assert err.value.code == "daily_limit_reached"
    with frozen_at(datetime(2026, 3, 5, 16, 0, 1, tzinfo=UTC)):  # past midnight in Beijing
        assert withdraw("u_O", 1000).status == "paid"
    assert balance("u_O") == Balance(available_fen=6000, withdrawn_fen=4000)


def test_same_idempotency_key_returns_the_first_withdrawal(mongo_db):
    fund("u_O", 10_000)
    fund("u_P", 10_000)
    first = withdraw("u_O", 2000, "wk-1")
    assert withdraw("u_O", 2000, "wk-1").id == first.id
    assert withdraw("u_P", 2000, "wk-1").id != first.id  # keys are per user
    assert balance("u_O").available_fen == 8000
    with as_(user("u_O")), pytest.raises(InvalidArgument):
        withdrawals.request_withdrawal(2000, "k" * 129, RULES)
    with as_(user("u_O")), pytest.raises(InvalidArgument) as err:  # the same key for another amount
        withdrawals.request_withdrawal(300_000, "wk-1", RULES)
    assert err.value.code == "idempotency_key_reused" and balance("u_O").available_fen == 8000


def test_twenty_threads_never_overdraw(mongo_db):
    fund("u_O", 10_000)

    def attempt(_: int) -> str:
        try:
            withdraw("u_O", 1000, rules=MANY_A_DAY)
            return "ok"
        except FailedPrecondition as err:
            return err.code

    with ThreadPoolExecutor(20) as threads:
        outcomes = list(threads.map(attempt, range(20)))
    assert outcomes.count("ok") == 10 and outcomes.count("insufficient_balance") == 10
    assert balance("u_O") == Balance(available_fen=0, withdrawn_fen=10_000)
    assert sorted(e.seq for e in LedgerEntry.objects(kind="withdrawal")) == list(range(1, 11))
    assert Withdrawal.objects.count() == 10


def test_twenty_threads_with_one_key_make_one_withdrawal(mongo_db):
    fund("u_O", 10_000)
    with ThreadPoolExecutor(20) as threads:
        ids_ = set(threads.map(lambda _: withdraw("u_O", 3000, "same-key").id, range(20)))
    assert len(ids_) == 1
    assert balance("u_O") == Balance(available_fen=7000, withdrawn_fen=3000)


def test_the_daily_limit_holds_under_concurrency(mongo_db):
    fund("u_O", 100_000)

    def attempt(_: int) -> str:
        try:
            return withdraw("u_O", 1000).status
        except FailedPrecondition as err:
            return err.code

    with ThreadPoolExecutor(12) as threads:
        outcomes = list(threads.map(attempt, range(12)))
    assert outcomes.count("paid") == 3 and outcomes.count("daily_limit_reached") == 9


def _withdraw_in_child(args: tuple[str, str, int]) -> list[str]:
    """One process: connect to the shared database and try two withdrawals."""
    mongo_uri, db_name, n = args
    os.environ["MONGO_URI"] = mongo_uri
    from mallkit import mongo

    mongo.connect(db_name)
    outcomes = []
    for i in range(2):
        with context.bound(context.new_request_id(), context.Caller("u_O")):
            try:
                withdrawals.request_withdrawal(1000, f"p{n}-{i}", MANY_A_DAY)
                outcomes.append("ok")
            except FailedPrecondition as err:
                outcomes.append(err.code)
    return outcomes


def test_ten_processes_never_overdraw(mongo_db, mongo_uri):
    fund("u_O", 5000)
    with multiprocessing.get_context("spawn").Pool(10) as pool:
        outcomes = [
            o for pair in pool.map(_withdraw_in_child, [(mongo_uri, mongo_db, n) for n in range(10)]) for o in pair
        ]
    assert outcomes.count("ok") == 5 and outcomes.count("insufficient_balance") == 15
    assert balance("u_O") == Balance(available_fen=0, withdrawn_fen=5000)


def test_a_crash_between_the_entry_and_the_document_is_repaired(mongo_db):
    fund("u_O", 10_000)
    # the state a process leaves when it stops right after inserting the debit
    LedgerEntry(
        id=ids.new_id("ent"),
        idempotency_key="withdrawal:u_O:1",
        beneficiary_id="u_O",
        kind="withdrawal",
        amount_fen=-2000,
        state="withdrawing",
        source="retail",
        withdrawal_id="wd_crashed",
        seq=1,
        request_key="wk-crash",
        created_at=now() - timedelta(minutes=5),
    ).save(force_insert=True)
    assert balance("u_O") == Balance(available_fen=8000, withdrawing_fen=2000)
    assert withdrawals.repair(RULES) == 1
    repaired = Withdrawal.objects.get(id="wd_crashed")
    assert (repaired.status, repaired.idempotency_key, repaired.seq) == ("paid", "wk-crash", 1)
    assert balance("u_O") == Balance(available_fen=8000, withdrawn_fen=2000)
    assert withdraw("u_O", 2000, "wk-crash").id == "wd_crashed"  # the client's retry finds it
    assert withdraw("u_O", 2000).status == "paid"  # the chain continues at seq 2
    assert balance("u_O") == Balance(available_fen=6000, withdrawn_fen=4000)


def test_pending_withdrawal_entries_list_as_available(mongo_db):
    fund("u_O", 20_000)
    withdraw("u_O", 10_000)
    with as_(user("u_O")):
        available, _ = wallet.list_entries("", "available", "", "", "", 10)
        withdrawn, _ = wallet.list_entries("", "withdrawn", "", "", "", 10)
    assert sorted(e.amount_fen for e in available) == [-10_000, 20_000] and withdrawn == []
