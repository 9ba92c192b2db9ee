"""The wallet ledger at the service level against the Mongo wire server: the BUSINESS_RULES worked
example end to end, the payout cap, the policy, PostEntry and reading."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from mallkit import context, ids
from mallkit.clock import now
from mallkit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from mallkit.events import new_event
from retail_s2b2c.documents.catalog import Product, Sku
from retail_s2b2c.documents.orders import Order
from retail_s2b2c.documents.stores import Store
from retail_s2b2c.documents.wallet import AuditRecord, LedgerEntry, OrderPayouts
from retail_s2b2c.domain import ledger as domain_ledger
from retail_s2b2c.domain.ledger import Balance
from retail_s2b2c.domain.payout_policy import Policy
from retail_s2b2c.domain.withdrawals import WithdrawalRules
from retail_s2b2c.service import ledger, wallet, withdrawals

pytestmark = pytest.mark.integration

ADMIN = context.Caller("u_admin", frozenset({"admin"}))
GUIDE = context.Caller(service="guide")
CONTENT = context.Caller(service="content")
RULES = WithdrawalRules()


def as_(who: context.Caller):
    return context.bound(context.new_request_id(), who)


def user(name: str) -> context.Caller:
    return context.Caller(name, frozenset({"consumer"}))


# ── world: stores and orders written as the stores and orders contexts would ────────────────────


def make_store(owner: str, upline: str = "") -> str:
    store_id = ids.new_id("sto")
    Store._get_collection().insert_one(
        {"_id": store_id, "owner_id": owner, "name": owner, "share_code": store_id, "upline_owner_id": upline}
    )
    return store_id


def make_order(buyer: str, store_id: str, amounts: list[int], status: str = "paid", **data: Any) -> dict:
    """A paid order document and its order_paid envelope (the orders contract)."""
    order_id = ids.new_id("ord")
    items = [
        {"sku_id": data.pop(f"sku_{i}", f"sku_missing_{i}"), "quantity": 1, "unit_price_fen": a, "amount_fen": a}
        for i, a in enumerate(amounts)
    ]
    attribution = {"store_id": store_id}
    Order._get_collection().insert_one(
        {
            "_id": order_id,
            "buyer_id": buyer,
            "items": items,
            "total_fen": sum(amounts),
            "status": status,
            "attribution": attribution,
            "idempotency_key": order_id,
            "outbox": [],
            "created_at": now(),
        }
    )
    return new_event(
        "retail",
        "order_paid",
        {
            "order_id": order_id,
            "buyer_id": buyer,
            "total_fen": sum(amounts),
            "items": items,
            "attribution": attribution,
            "transaction_id": "tx",
            "paid_at": now().isoformat(),
            **data,
        },
    )


def refund(paid: dict, refund_id: str, amount_fen: int, refunded_total_fen: int) -> dict:
    data = paid["data"]
    return new_event(
        "retail",
        "order_refunded",
        {
            "order_id": data["order_id"],
            "buyer_id": data["buyer_id"],
            "refund_id": refund_id,
            "amount_fen": amount_fen,
            "refunded_total_fen": refunded_total_fen,
            "total_fen": data["total_fen"],
            "items": [],
            "attribution": data["attribution"],
        },
    )


def set_status(paid: dict, status: str) -> None:
    changes: dict[str, Any] = {"status": status}
    if status == "completed":
        changes["completed_at"] = now()
    Order._get_collection().update_one({"_id": paid["data"]["order_id"]}, {"$set": changes})


def balance(user_id: str) -> Balance:
    with as_(ADMIN):
        return wallet.get_balance(user_id)


def withdraw(user_id: str, amount_fen: int, key: str = ""):
    with as_(user(user_id)):
        return withdrawals.request_withdrawal(amount_fen, key, RULES)


def refused_code(call, *args) -> str:
    with pytest.raises((FailedPrecondition, InvalidArgument, PermissionDenied, NotFound)) as err:
        call(*args)
    return err.value.code


# ── the worked example ──────────────────────────────────────────────────────────────────────


def test_business_rules_worked_example(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    order_id = paid["data"]["order_id"]

    # order_paid: O frozen +¥10.00, U frozen +¥5.00
    posted = wallet.book_store_commissions(paid)
    assert {(p.entry.idempotency_key, p.entry.beneficiary_id, p.entry.amount_fen) for p in posted} == {
        (f"order:{order_id}:l1", "u_O", 1000),
        (f"order:{order_id}:l2", "u_U", 500),
    }
    assert {p.entry.state for p in posted} == {"frozen"}
    assert posted[0].entry.note == "level 1 commission, 10 % of ¥100.00"
    assert [p.newly_posted for p in wallet.book_store_commissions(paid)] == [False, False]  # redelivered
    assert balance("u_O") == Balance(frozen_fen=1000) and balance("u_U") == Balance(frozen_fen=500)

    # partial refund of ¥40.00 before completion: O −¥4.00, U −¥2.00
    assert wallet.reverse_for_refund(refund(paid, "rf_1", 4000, 4000)) == 600
    assert wallet.reverse_for_refund(refund(paid, "rf_1", 4000, 4000)) == 0  # redelivered
    assert balance("u_O") == Balance(frozen_fen=600) and balance("u_U") == Balance(frozen_fen=300)

    # completion: the frozen payouts become available
    set_status(paid, "completed")
    assert wallet.release_completed_orders() == 4
    assert balance("u_O") == Balance(available_fen=600) and balance("u_U") == Balance(available_fen=300)

    # O withdraws ¥6.00? Refused: below the ¥10.00 minimum
    with pytest.raises(InvalidArgument) as err:
        withdraw("u_O", 600)
    assert err.value.code == "below_minimum"

    # O earns ¥30.00 more on a second order and withdraws everything (auto-approved, paid)
    second = make_order("u_C", store, [30_000])
    wallet.book_store_commissions(second)
    set_status(second, "completed")
    assert wallet.release_order(second["data"]["order_id"]) == 2
    assert withdraw("u_O", 3600).status == "paid"
    assert balance("u_O") == Balance(available_fen=0, withdrawn_fen=3600)

    # the remaining ¥60.00 is refunded after settlement: O −¥6.00 from available, now negative
    set_status(paid, "refunded")
    assert wallet.reverse_for_refund(refund(paid, "rf_2", 6000, 10_000)) == 900
    assert balance("u_O") == Balance(available_fen=-600, withdrawn_fen=3600)
    assert balance("u_U") == Balance(available_fen=1500)  # ¥3.00 of order 1 reversed, ¥15.00 of order 2
    with as_(ADMIN):
        payouts = wallet.get_order_payouts(order_id)
    assert (payouts.paid_fen, payouts.cap_fen, payouts.booked_fen) == (10_000, 3000, 1500)
    assert sorted((e.beneficiary_id, e.amount_fen, e.state) for e in payouts.entries) == [
        ("u_O", -600, "available"),
        ("u_O", -400, "available"),
        ("u_O", 1000, "available"),
        ("u_U", -300, "available"),
        ("u_U", -200, "available"),
        ("u_U", 500, "available"),
    ]
    assert {e.idempotency_key for e in payouts.entries if e.kind == "reversal"} == {
        f"refund:rf_1:order:{order_id}:l1",
        f"refund:rf_1:order:{order_id}:l2",
        f"refund:rf_2:order:{order_id}:l1",
        f"refund:rf_2:order:{order_id}:l2",
    }

    # a negative available balance blocks withdrawals until offset
    with pytest.raises(FailedPrecondition) as err:
        withdraw("u_O", 1000)
    assert err.value.code == "negative_balance"

    # a new earning offsets it
    third = make_order("u_D", store, [20_000])
    wallet.book_store_commissions(third)
    set_status(third, "completed")
    wallet.release_order(third["data"]["order_id"])
    assert balance("u_O").available_fen == 1400
    assert withdraw("u_O", 1000).status == "paid"
    assert balance("u_O") == Balance(available_fen=400, withdrawn_fen=4600)


def test_a_refund_seen_before_the_payouts_is_applied_when_they_are_booked(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    assert wallet.reverse_for_refund(refund(paid, "rf_1", 2500, 2500)) == 0  # nothing booked yet
    wallet.book_store_commissions(paid)  # order_paid delivered late
    assert balance("u_O") == Balance(frozen_fen=750) and balance("u_U") == Balance(frozen_fen=375)
    assert wallet.reverse_for_refund(refund(paid, "rf_1", 2500, 2500)) == 0


def test_a_late_booking_cut_short_before_its_reversal_is_reversed_when_redelivered(mongo_db, monkeypatch):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    wallet.reverse_for_refund(refund(paid, "rf_1", 2500, 2500))
    with monkeypatch.context() as crash:  # booked, then the process stopped before reversing for rf_1
        crash.setattr(ledger, "reconcile_reversals", lambda order_id: 0)
        wallet.book_store_commissions(paid)
    assert balance("u_O") == Balance(frozen_fen=1000)
    wallet.book_store_commissions(paid)  # order_paid redelivered
    assert balance("u_O") == Balance(frozen_fen=750) and balance("u_U") == Balance(frozen_fen=375)


def test_an_older_refund_event_arriving_late_reverses_nothing_more(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    wallet.book_store_commissions(paid)
    assert wallet.reverse_for_refund(refund(paid, "rf_2", 3000, 7000)) == 1050
    assert wallet.reverse_for_refund(refund(paid, "rf_1", 4000, 4000)) == 0
    assert balance("u_O") == Balance(frozen_fen=300)


def test_concurrent_refunds_and_booking_converge_on_the_largest_refund(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    order_id = paid["data"]["order_id"]
    tasks = [lambda: wallet.book_store_commissions(paid)] + [
        lambda n=n: wallet.reverse_for_refund(refund(paid, f"rf_{n}", 1000, 1000 * n)) for n in [*range(1, 7)] * 3
    ]
    start = threading.Barrier(len(tasks))

    def run(task):
        start.wait()
        return task()

    with ThreadPoolExecutor(len(tasks)) as threads:
        list(threads.map(run, tasks))
    assert balance("u_O") == Balance(frozen_fen=400) and balance("u_U") == Balance(frozen_fen=200)
    payouts = OrderPayouts.objects.get(id=order_id)
    assert (payouts.reversed_fen, payouts.refunded_fen, payouts.refund_id, payouts.pending) == (900, 6000, "rf_6", [])
    reversals = LedgerEntry.objects(order_id=order_id, kind="reversal")
    assert sum(e.amount_fen for e in reversals) == -900


def test_a_refund_landing_between_read_and_write_makes_the_reversal_retry(mongo_db, monkeypatch):
    """The interleaving the version compare-and-set exists for, made deterministic: while one
    refund computes its reversals, a larger refund is recorded and reversed in full."""
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    wallet.book_store_commissions(paid)
    delta = domain_ledger.reversal_delta
    interleaved: list[int] = []

    def delta_then_a_concurrent_refund(*args):
        if not interleaved:
            interleaved.append(0)
            interleaved[0] = wallet.reverse_for_refund(refund(paid, "rf_2", 2000, 6000))
        return delta(*args)

    monkeypatch.setattr(domain_ledger, "reversal_delta", delta_then_a_concurrent_refund)
    wallet.reverse_for_refund(refund(paid, "rf_1", 4000, 4000))
    assert interleaved == [900]
    assert balance("u_O") == Balance(frozen_fen=400) and balance("u_U") == Balance(frozen_fen=200)
    assert OrderPayouts.objects.get(id=paid["data"]["order_id"]).reversed_fen == 900


def test_no_store_no_distribution_or_own_purchase_books_nothing(mongo_db):
    store = make_store("u_O", upline="u_U")
    assert wallet.book_store_commissions(make_order("u_B", "", [10_000])) == []
    assert wallet.book_store_commissions(make_order("u_B", store, [10_000], distribution_enabled=False)) == []
    assert wallet.book_store_commissions(make_order("u_O", store, [10_000])) == []
    assert wallet.book_store_commissions(make_order("u_B", "sto_gone", [10_000])) == []
    assert LedgerEntry.objects.count() == 0


def test_product_rate_overrides_the_policy(mongo_db):
    Product._get_collection().insert_one({"_id": "prd_x", "brand_id": "brd_1", "title": "Tea", "level1_rate_bp": 1500})
    Sku._get_collection().insert_one({"_id": "sku_x", "product_id": "prd_x", "spec": "250g"})
    store = make_store("u_O", upline="u_U")
    posted = wallet.book_store_commissions(make_order("u_B", store, [10_000, 2000], sku_0="sku_x"))
    assert [(p.entry.beneficiary_id, p.entry.amount_fen) for p in posted] == [("u_O", 1700), ("u_U", 600)]
    assert posted[0].entry.note == "level 1 commission, 10 % of ¥20.00 + 15 % of ¥100.00"


def test_a_fully_refunded_order_that_never_completes_is_released_at_zero(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    wallet.book_store_commissions(paid)
    set_status(paid, "refunded")
    assert wallet.release_completed_orders() == 0  # refunded, but its payouts are not reversed yet
    wallet.reverse_for_refund(refund(paid, "rf_1", 10_000, 10_000))
    assert wallet.release_completed_orders() == 4
    assert balance("u_O") == Balance() and LedgerEntry.objects(state="frozen").count() == 0


def test_an_entry_left_pending_by_a_crash_is_written_once(mongo_db, monkeypatch):
    paid = make_order("u_B", "", [10_000])
    order_id = paid["data"]["order_id"]
    with monkeypatch.context() as crash:  # the process stops between its two writes
        crash.setattr(ledger, "materialize", lambda order_id: 0)
        with as_(GUIDE), pytest.raises(FailedPrecondition):
            wallet.post_entry("guide:evt9:u_K:kol", "u_K", "kol_commission", 700, order_id, "")
    assert LedgerEntry.objects.count() == 0 and len(OrderPayouts.objects.get(id=order_id).pending) == 1
    assert ledger.repair_pending(older_than=timedelta(0)) == 1
    assert ledger.repair_pending(older_than=timedelta(0)) == 0
    with as_(GUIDE):  # the caller's retry returns the entry and books nothing more
        again = wallet.post_entry("guide:evt9:u_K:kol", "u_K", "kol_commission", 700, order_id, "")
    assert not again.newly_posted and again.entry.amount_fen == 700
    assert OrderPayouts.objects.get(id=order_id).booked_fen == 700 and LedgerEntry.objects.count() == 1


# ── the payout cap ──────────────────────────────────────────────────────────────────────────


def test_an_entry_past_the_cap_is_refused_with_an_audit_record_and_changes_nothing(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])  # cap: ¥30.00
    order_id = paid["data"]["order_id"]
    wallet.book_store_commissions(paid)  # ¥15.00
    with as_(GUIDE):
        wallet.post_entry(f"guide:{order_id}:kol", "u_K", "kol_commission", 1000, order_id, "8 % KOL")
    with as_(CONTENT), pytest.raises(FailedPrecondition) as err:
        wallet.post_entry(f"content:{order_id}:creator", "u_C", "creator_reward", 501, order_id, "")
    assert err.value.code == "payout_cap_exceeded"
    [record] = AuditRecord.objects(action="post_entry")
    assert (record.outcome, record.code, record.order_id, record.subject_id, record.actor) == (
        "refused",
        "payout_cap_exceeded",
        order_id,
        "u_C",
        "service:content",
    )
    assert record.details["amount_fen"] == 501 and record.details["booked_fen"] == 2500
    payouts = OrderPayouts.objects.get(id=order_id)
    assert (payouts.booked_fen, len(payouts.keys), payouts.pending) == (2500, 3, [])
    assert LedgerEntry.objects(beneficiary_id="u_C").count() == 0
    with as_(CONTENT):  # exactly up to the cap is fine
        assert wallet.post_entry(f"content:{order_id}:creator", "u_C", "creator_reward", 500, order_id, "").newly_posted
    assert OrderPayouts.objects.get(id=order_id).booked_fen == 3000


def test_store_commission_refused_by_the_cap_is_audited_and_skipped(mongo_db):
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    order_id = paid["data"]["order_id"]
    with as_(GUIDE):
        wallet.post_entry(f"guide:{order_id}:kol", "u_K", "kol_commission", 2000, order_id, "")
    posted = wallet.book_store_commissions(paid)  # l1 ¥10.00 fits, l2 ¥5.00 does not
    assert [p.entry.kind for p in posted] == ["commission_l1"]
    assert AuditRecord.objects(code="payout_cap_exceeded", subject_id="u_U").count() == 1


# ── PostEntry ───────────────────────────────────────────────────────────────────────────────


def test_post_entry_is_idempotent_by_key(mongo_db):
    paid = make_order("u_B", "", [10_000])
    order_id = paid["data"]["order_id"]
    with as_(GUIDE):
        first = wallet.post_entry("guide:evt1:u_K:kol", "u_K", "kol_commission", 800, order_id, "8 % of ¥100.00")
        again = wallet.post_entry("guide:evt1:u_K:kol", "u_K", "kol_commission", 800, order_id, "8 % of ¥100.00")
    assert first.newly_posted and not again.newly_posted
    assert again.entry.id == first.entry.id
    entry = first.entry
    assert (entry.source, entry.state, entry.amount_fen, entry.order_id) == ("guide", "frozen", 800, order_id)
    assert OrderPayouts.objects.get(id=order_id).booked_fen == 800
    other = make_order("u_B", "", [10_000])["data"]["order_id"]
    with as_(GUIDE):  # the same key on another order is still the first entry, and takes no cap there
        reused = wallet.post_entry("guide:evt1:u_K:kol", "u_K", "kol_commission", 800, other, "")
    assert not reused.newly_posted and reused.entry.id == first.entry.id
    assert OrderPayouts.objects.get(id=other).booked_fen == 0


def test_ten_threads_posting_one_key_make_one_entry_and_consume_the_cap_once(mongo_db):
    paid = make_order("u_B", "", [10_000])
    order_id = paid["data"]["order_id"]

    def post(_: int):
        with as_(GUIDE):
            return wallet.post_entry("guide:evt2:u_K:kol", "u_K", "kol_commission", 1000, order_id, "")

    with ThreadPoolExecutor(10) as threads:
        results = list(threads.map(post, range(10)))
    assert sum(r.newly_posted for r in results) == 1
    assert len({r.entry.id for r in results}) == 1
    assert LedgerEntry.objects(order_id=order_id).count() == 1
    payouts = OrderPayouts.objects.get(id=order_id)
    assert (payouts.booked_fen, payouts.keys, payouts.pending) == (1000, ["guide:evt2:u_K:kol"], [])


def test_post_entry_refusals(mongo_db):
    paid = make_order("u_B", "", [10_000])
    order_id = paid["data"]["order_id"]
    unpaid = make_order("u_B", "", [10_000], status="created")["data"]["order_id"]
    with as_(user("u_X")), pytest.raises(PermissionDenied):
        wallet.post_entry("k1", "u_K", "kol_commission", 100, order_id, "")
    with as_(GUIDE):
        assert refused_code(wallet.post_entry, "k2", "u_K", "kol_commission", 100, unpaid, "") == "order_not_paid"
        assert refused_code(wallet.post_entry, "k3", "u_K", "recruit_bonus", 100, order_id, "") == "kind_not_postable"
        assert refused_code(wallet.post_entry, "k4", "u_K", "commission_l1", 100, order_id, "") == "kind_not_postable"
        assert refused_code(wallet.post_entry, "k5", "u_B", "kol_commission", 100, order_id, "") == "self_purchase"
        assert refused_code(wallet.post_entry, "k6", "u_K", "kol_commission", -100, order_id, "") == "invalid_amount"
        assert refused_code(wallet.post_entry, "k7", "u_K", "kol_commission", 100, "", "") == "order_required"
        reserved = refused_code(wallet.post_entry, f"order:{order_id}:l1", "u_K", "kol_commission", 1, order_id, "")
        assert reserved == "reserved_idempotency_key"
    assert {r.code for r in AuditRecord.objects(action="post_entry")} == {"kind_not_postable", "self_purchase"}
    assert LedgerEntry.objects.count() == 0
    with as_(ADMIN):  # admins may post (source `admin`)
        assert wallet.post_entry("k8", "u_K", "agent_rebate", 100, order_id, "").entry.source == "admin"


def test_an_earning_split_per_sku_is_reversed_item_by_item(mongo_db):
    """A KOL earned 8 % on the kettle only (¥8.00 of a ¥100.00 kettle + ¥100.00 tea order): the tea
    sent back reverses nothing of it, the kettle sent back all of it. An earning without a split
    loses half on either refund."""
    paid = make_order("u_B", "", [10_000, 10_000], sku_0="sku_tea", sku_1="sku_kettle")
    order_id = paid["data"]["order_id"]
    with as_(GUIDE):
        wallet.post_entry("guide:k:kettle", "u_K", "kol_commission", 800, order_id, "", {"sku_kettle": 800})
        wallet.post_entry("guide:k:whole", "u_W", "kol_commission", 800, order_id, "")
    tea_back = refund(paid, "rf_1", 10_000, 10_000) | {}
    tea_back["data"] = tea_back["data"] | {"refunded_by_sku_fen": {"sku_tea": 10_000}}
    assert wallet.reverse_for_refund(tea_back) == 400  # all of it from u_W (no split), none from u_K
    assert (balance("u_K").frozen_fen, balance("u_W").frozen_fen) == (800, 400)
    both_back = refund(paid, "rf_2", 10_000, 20_000)
    both_back["data"] = both_back["data"] | {"refunded_by_sku_fen": {"sku_tea": 10_000, "sku_kettle": 10_000}}
    assert wallet.reverse_for_refund(both_back) == 1200
    assert (balance("u_K").frozen_fen, balance("u_W").frozen_fen) == (0, 0)


@pytest.mark.parametrize(
    "split",
    [{"sku_lamp": 800}, {"sku_kettle": 700}, {"sku_kettle": 900, "sku_tea": -100}],
    ids=["a SKU not in the order", "parts short of the amount", "a negative part"],
)
def test_a_split_that_does_not_fit_the_order_is_refused_and_books_nothing(mongo_db, split):
    paid = make_order("u_B", "", [10_000, 10_000], sku_0="sku_tea", sku_1="sku_kettle")
    order_id = paid["data"]["order_id"]
    with as_(GUIDE):
        code = refused_code(wallet.post_entry, "guide:k", "u_K", "kol_commission", 800, order_id, "", split)
    assert code == "invalid_amount_by_sku"
    assert LedgerEntry.objects.count() == 0 and OrderPayouts.objects(id=order_id).first() is None


# ── the policy ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (Policy(3, 1000, 500, 3000), "too_many_paid_levels"),
        (Policy(2, 1000, 500, 3500), "payout_cap_too_high"),
        (Policy(2, -100, 500, 3000), "negative_rate"),
        (Policy(2, 2500, 1000, 3000), "rates_exceed_cap"),
    ],
)
def test_policy_refusals_are_audited_and_change_nothing(mongo_db, policy, code):
    with as_(ADMIN), pytest.raises(InvalidArgument) as err:
        wallet.update_payout_policy(policy)
    assert err.value.code == code
    [record] = AuditRecord.objects(action="update_payout_policy")
    assert (record.outcome, record.code, record.actor) == ("refused", code, "u_admin")
    assert record.details["paid_levels"] == policy.paid_levels
    assert wallet.get_payout_policy() == Policy(2, 1000, 500, 3000)


def test_policy_update_is_admin_only_audited_and_applies_to_new_bookings(mongo_db):
    with as_(user("u_X")), pytest.raises(PermissionDenied):
        wallet.update_payout_policy(Policy(1, 1200, 0, 2000))
    with as_(ADMIN):
        assert wallet.update_payout_policy(Policy(1, 1200, 0, 2000)) == Policy(1, 1200, 0, 2000)
    assert AuditRecord.objects.get(action="update_payout_policy").outcome == "accepted"
    store = make_store("u_O", upline="u_U")
    paid = make_order("u_B", store, [10_000])
    posted = wallet.book_store_commissions(paid)
    assert [(p.entry.beneficiary_id, p.entry.amount_fen) for p in posted] == [("u_O", 1200)]
    assert OrderPayouts.objects.get(id=paid["data"]["order_id"]).cap_fen == 2000


# ── reading ─────────────────────────────────────────────────────────────────────────────────


def test_entries_balances_and_order_payouts_are_visible_to_their_owner_and_admins(mongo_db):
    store = make_store("u_O", upline="u_U")
    orders = [make_order("u_B", store, [10_000 * (i + 1)]) for i in range(3)]
    for paid in orders:
        wallet.book_store_commissions(paid)
    set_status(orders[0], "completed")
    wallet.release_order(orders[0]["data"]["order_id"])

    with as_(user("u_O")):
        first, cursor = wallet.list_entries("", "", "", "", "", 2)
        rest, end = wallet.list_entries("", "", "", "", cursor, 2)
        assert [e.amount_fen for e in first + rest] == [3000, 2000, 1000] and end == ""
        assert [e.amount_fen for e in wallet.list_entries("", "available", "", "", "", 10)[0]] == [1000]
        assert [e.amount_fen for e in wallet.list_entries("", "frozen", "commission_l1", "", "", 10)[0]] == [3000, 2000]
        only = wallet.list_entries("", "", "", orders[1]["data"]["order_id"], "", 10)[0]
        assert [e.amount_fen for e in only] == [2000]
        assert wallet.get_balance() == Balance(frozen_fen=5000, available_fen=1000)
        assert refused_code(wallet.get_balance, "u_U") == "role_required"
        assert refused_code(wallet.list_entries, "", "reversed", "", "", "", 10) == "unsupported_state_filter"
        mine = wallet.get_order_payouts(orders[0]["data"]["order_id"])
        assert [(e.beneficiary_id, e.amount_fen) for e in mine.entries] == [("u_O", 1000)]
        assert (mine.paid_fen, mine.cap_fen, mine.booked_fen) == (10_000, 3000, 1000)
    with as_(user("u_stranger")):
        assert refused_code(wallet.get_order_payouts, orders[0]["data"]["order_id"]) == "order_payouts_not_found"
    with as_(ADMIN):
        assert wallet.get_balance("u_U") == Balance(frozen_fen=2500, available_fen=500)
        assert len(wallet.get_order_payouts(orders[0]["data"]["order_id"]).entries) == 2
