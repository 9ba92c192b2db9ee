"""Property test on the wire server: random sequences of pay / KOL payout / refund / redelivery /
completion / withdrawal / review on one order sold through a store chain, checked after every step
against an independent model and the ledger's invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallkit import context, ids
from mallkit.clock import now
from mallkit.errors import FailedPrecondition
from mallkit.events import new_event
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.documents.stores import Store
from retail_s2b2c.documents.wallet import LedgerEntry, OrderPayouts, Withdrawal
from retail_s2b2c.domain.ledger import Balance
from retail_s2b2c.domain.withdrawals import WithdrawalRules
from retail_s2b2c.service import wallet, withdrawals

pytestmark = pytest.mark.integration

ADMIN = context.Caller("u_admin", frozenset({"admin"}))
GUIDE = context.Caller(service="guide")
RULES = WithdrawalRules(min_fen=1, per_day=1000, auto_approve_max_fen=800)

STEPS = st.one_of(
    st.just(("pay",)),
    st.tuples(st.just("kol"), st.integers(1, 2500)),
    st.tuples(st.just("refund"), st.integers(1, 100)),  # percent of what is left
    st.just(("redeliver_refund",)),
    st.just(("complete",)),
    st.tuples(st.just("withdraw"), st.sampled_from("OUK"), st.integers(1, 2000)),
    st.tuples(st.just("review"), st.booleans()),
)


def as_(who: context.Caller):
    return context.bound(context.new_request_id(), who)


@dataclass
class Model:
    """What the balances must be, computed without the ledger."""

    paid: int
    cap: int
    earnings: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (user, amount)
    refunded: int = 0
    settled: bool = False
    pending: dict[str, int] = field(default_factory=dict)  # withdrawal id -> amount
    owner_of: dict[str, str] = field(default_factory=dict)  # withdrawal id -> user
    withdrawn: dict[str, int] = field(default_factory=dict)  # user -> amount

    def book(self, key: str, user: str, amount: int) -> bool:
        if key in self.earnings:
            return False
        if amount <= 0 or sum(a for _, a in self.earnings.values()) + amount > self.cap:
            return False
        self.earnings[key] = (user, amount)
        return True

    def balance(self, user: str) -> Balance:
        net = sum(a - a * self.refunded // self.paid for u, a in self.earnings.values() if u == user)
        pending = sum(a for w, a in self.pending.items() if self.owner_of[w] == user)
        out = pending + self.withdrawn.get(user, 0)
        if self.settled:
            return Balance(0, net - out, pending, self.withdrawn.get(user, 0))
        return Balance(net, -out, pending, self.withdrawn.get(user, 0))


def _sums_by_state(user: str) -> Balance:
    sums: dict[str, int] = {}
    for entry in LedgerEntry.objects(beneficiary_id=user):
        sums[entry.state] = sums.get(entry.state, 0) + entry.amount_fen
    return Balance.from_state_sums(sums)


def check_invariants(model: Model, order_id: str, users: dict[str, str]) -> None:
    for user in users.values():
        with as_(ADMIN):
            reported = wallet.get_balance(user)
        assert reported == _sums_by_state(user), "a balance is the sum of the entries by state"
        assert reported == model.balance(user), f"{user}: ledger {reported} != model {model.balance(user)}"
    entries = list(LedgerEntry.objects(beneficiary_id__in=list(users.values())))
    keys = [e.idempotency_key for e in entries]
    assert len(keys) == len(set(keys)), "no effect applied twice"
    earnings = {e.idempotency_key: e for e in entries if e.order_id == order_id and e.kind != "reversal"}
    assert {k: (e.beneficiary_id, e.amount_fen) for k, e in earnings.items()} == model.earnings
    for key, earning in earnings.items():
        reversed_fen = -sum(e.amount_fen for e in entries if e.reverses == key)
        assert reversed_fen == earning.amount_fen * model.refunded // model.paid <= earning.amount_fen
    payouts = OrderPayouts.objects(id=order_id).first()
    if payouts is not None:
        assert payouts.pending == []
        assert payouts.booked_fen == sum(e.amount_fen for e in earnings.values()) <= payouts.cap_fen
        assert payouts.reversed_fen == -sum(e.amount_fen for e in entries if e.kind == "reversal")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(100, 50_000), min_size=1, max_size=3), steps=st.lists(STEPS, max_size=12))
def test_random_histories_keep_the_ledger_exact(mongo_db, amounts, steps):
    tag = ids.new_id("x")[-8:]
    users = {"O": f"u_O{tag}", "U": f"u_U{tag}", "K": f"u_K{tag}", "B": f"u_B{tag}"}
    store_id, order_id = f"sto_{tag}", f"ord_{tag}"
    Store._get_collection().insert_one(
        {"_id": store_id, "owner_id": users["O"], "name": "s", "share_code": tag, "upline_owner_id": users["U"]}
    )
    items = [{"sku_id": "sku_none", "quantity": 1, "unit_price_fen": a, "amount_fen": a} for a in amounts]
    paid_fen = sum(amounts)
    data = {
        "order_id": order_id,
        "buyer_id": users["B"],
        "total_fen": paid_fen,
        "items": items,
        "attribution": {"store_id": store_id},
    }
    Order._get_collection().insert_one(
        {
            "_id": order_id,
            **{k: v for k, v in data.items() if k != "order_id"},
            "status": "paid",
            "idempotency_key": order_id,
            "outbox": [],
        }
    )
    paid_event = new_event("retail", "order_paid", data)
    model = Model(paid=paid_fen, cap=paid_fen * 3000 // 10_000)
    last_refund: dict | None = None

    for step in steps:
        match step:
            case ("pay",):
                wallet.book_store_commissions(paid_event)
                model.book(f"order:{order_id}:l1", users["O"], sum(a * 1000 // 10_000 for a in amounts))
                model.book(f"order:{order_id}:l2", users["U"], sum(a * 500 // 10_000 for a in amounts))
            case ("kol", amount):
                key = f"guide:{order_id}:kol"
                fits = key in model.earnings or model.book(key, users["K"], amount)
                try:
                    with as_(GUIDE):
                        wallet.post_entry(key, users["K"], "kol_commission", amount, order_id, "")
                    assert fits
                except FailedPrecondition as err:
                    assert err.code == "payout_cap_exceeded" and not fits
            case ("refund", percent):
                left = paid_fen - model.refunded
                if left == 0:
                    continue
                model.refunded += max(1, left * percent // 100)
                last_refund = new_event(
                    "retail",
                    "order_refunded",
                    {**data, "refund_id": ids.new_id("rf"), "refunded_total_fen": model.refunded},
                )
                wallet.reverse_for_refund(last_refund)
            case ("redeliver_refund",):
                if last_refund is not None:
                    assert wallet.reverse_for_refund(last_refund) == 0
            case ("complete",):
                Order._get_collection().update_one(
                    {"_id": order_id}, {"$set": {"status": "completed", "completed_at": now()}}
                )
                wallet.release_completed_orders()
                model.settled = True
            case ("withdraw", who, amount):
                user = users[who]
                available = model.balance(user).available_fen
                try:
                    with as_(context.Caller(user)):
                        withdrawal = withdrawals.request_withdrawal(amount, "", RULES)
                except FailedPrecondition as err:
                    expected = "negative_balance" if available < 0 else "insufficient_balance"
                    assert err.code == expected and amount > available
                else:
                    assert amount <= available, "no withdrawal beyond the available balance"
                    model.owner_of[withdrawal.id] = user
                    if withdrawal.status == "paid":
                        model.withdrawn[user] = model.withdrawn.get(user, 0) + amount
                    else:
                        model.pending[withdrawal.id] = amount
            case ("review", approve):
                queued = Withdrawal.objects(id__in=list(model.pending), status="pending_review").order_by("id").first()
                if queued is None:
                    continue
                with as_(ADMIN):
                    withdrawals.review_withdrawal(queued.id, approve, "" if approve else "checked by hand")
                amount = model.pending.pop(queued.id)
                if approve:
                    owner = model.owner_of[queued.id]
                    model.withdrawn[owner] = model.withdrawn.get(owner, 0) + amount
        check_invariants(model, order_id, users)
