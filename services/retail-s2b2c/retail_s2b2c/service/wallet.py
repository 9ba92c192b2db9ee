"""Wallet use cases: posting payouts, balances and entries, order payouts, the payout policy, and
the reactions to order events (store commissions, refund reversals, settlement).

Withdrawals: service/withdrawals.py. The journal engine and its consistency argument:
service/ledger.py. The rules: domain/ledger.py, domain/payout_policy.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mallkit import context, ids, paging
from mallkit.access import ADMIN, require_role, require_user
from mallkit.clock import now
from mallkit.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from retail_s2b2c.config import SERVICE
from retail_s2b2c.documents.catalog import Product, Sku
from retail_s2b2c.documents.stores import Store
from retail_s2b2c.documents.wallet import LedgerEntry, OrderPayouts, PayoutPolicy
from retail_s2b2c.domain import ledger as rules
from retail_s2b2c.domain import payout_policy
from retail_s2b2c.domain.ledger import Balance, EntryState, Kind
from retail_s2b2c.domain.payout_policy import ItemRates, Policy
from retail_s2b2c.service import ledger
from retail_s2b2c.service.ledger import NewEarning, Posted

log = logging.getLogger(__name__)

SERVICE_ROLE = "service"


# ── PostEntry: payouts from other services ───────────────────────────────────────────────────


def _posting_source(who: context.Caller) -> str:
    """Who may post: a platform service calling service-to-service (x-caller-service metadata,
    which only services inside the cluster can send), or a caller with the `service` or `admin`
    role. The entry's source is the calling service (else `admin`)."""
    if who.service:
        return who.service
    require_role(ADMIN, SERVICE_ROLE)
    return "admin" if who.has_role(ADMIN) else SERVICE_ROLE


def _actor(who: context.Caller) -> str:
    return f"service:{who.service}" if who.service else who.user_id


def _refuse_audited(
    code: str, who: context.Caller, key: str, beneficiary_id: str, kind: str, amount_fen: int, order_id: str
) -> None:
    ledger.audit(
        "post_entry",
        "refused",
        code=code,
        actor=_actor(who),
        order_id=order_id,
        subject_id=beneficiary_id,
        key=key,
        kind=kind,
        amount_fen=amount_fen,
    )


def post_entry(
    key: str,
    beneficiary_id: str,
    kind: str,
    amount_fen: int,
    order_id: str,
    note: str,
    amount_by_sku: dict[str, int] | None = None,
) -> Posted:
    """An earning from another business model, on a consumer's paid order, within the order cap.

    Idempotent by key. Only positive earnings of the postable kinds (no recruitment reward exists);
    refunds are reversed by the ledger itself: item by item when `amount_by_sku` splits the amount
    over the order's SKUs, else in proportion of the order; nobody earns from their own purchase.
    Compliance refusals are audited."""
    who = context.caller()
    source = _posting_source(who)
    key = rules.check_key(key)
    if key.startswith(rules.RESERVED_KEY_PREFIXES):
        reserved = ", ".join(rules.RESERVED_KEY_PREFIXES)
        raise InvalidArgument(f"keys starting with {reserved} are the ledger's own", "reserved_idempotency_key")
    if not ids.is_valid(beneficiary_id):
        raise InvalidArgument("beneficiary_id is required", "invalid_beneficiary")
    if not ids.is_valid(order_id):
        raise InvalidArgument("a payout needs the order it is paid from", "order_required")
    if amount_fen <= 0:
        raise InvalidArgument("only positive earnings are posted; refunds are reversed by the ledger", "invalid_amount")
    if len(note) > 200:
        raise InvalidArgument("note is longer than 200 characters", "invalid_note")
    if kind not in rules.POSTABLE_KINDS:
        _refuse_audited("kind_not_postable", who, key, beneficiary_id, kind, amount_fen, order_id)
        raise InvalidArgument(
            f"kind {kind!r} cannot be posted; one of {', '.join(sorted(rules.POSTABLE_KINDS))}", "kind_not_postable"
        )
    order = ledger.paid_order(order_id)
    basis = rules.check_amount_by_sku(amount_by_sku or {}, amount_fen, {item.sku_id for item in order.items})
    if order.buyer_id == beneficiary_id:
        _refuse_audited("self_purchase", who, key, beneficiary_id, kind, amount_fen, order_id)
        raise FailedPrecondition("nobody earns from their own purchase", "self_purchase")
    earning = NewEarning(key, beneficiary_id, kind, amount_fen, order_id, source, note, basis)
    return ledger.post_earning(earning, _actor(who))


# ── reading ──────────────────────────────────────────────────────────────────────────────────


def _subject(user_id: str) -> str:
    """The user whose wallet is read: the caller, or anyone for an admin."""
    who = require_user()
    if user_id and user_id != who.user_id and not who.has_role(ADMIN):
        raise PermissionDenied("another user's wallet needs the admin role", "role_required")
    return user_id or who.user_id


def get_balance(user_id: str = "") -> Balance:
    return ledger.balance(_subject(user_id))


# ListEntries' state filter: the stored states behind each state of the contract
STATE_FILTERS = {
    EntryState.FROZEN: [EntryState.FROZEN],
    EntryState.AVAILABLE: [EntryState.AVAILABLE, EntryState.WITHDRAWING],
    EntryState.WITHDRAWN: [EntryState.WITHDRAWN],
}


def list_entries(
    user_id: str, state: str, kind: str, order_id: str, cursor: str, limit: int
) -> tuple[list[LedgerEntry], str]:
    """Newest first; filters by state (a contract state, see STATE_FILTERS), kind and order."""
    subject = _subject(user_id)
    page = paging.parse(cursor, limit)
    query = LedgerEntry.objects(beneficiary_id=subject)
    if state:
        if state not in STATE_FILTERS:
            raise InvalidArgument(
                "entries are filtered by frozen, available or withdrawn; reversals by kind=reversal",
                "unsupported_state_filter",
            )
        query = query.filter(state__in=STATE_FILTERS[EntryState(state)])
    if kind:
        query = query.filter(kind=kind)
    if order_id:
        query = query.filter(order_id=order_id)
    return paging.newest_first(query, page)


@dataclass(frozen=True)
class OrderPayoutsView:
    order_id: str
    paid_fen: int
    cap_fen: int
    booked_fen: int
    entries: list[LedgerEntry]


def get_order_payouts(order_id: str) -> OrderPayoutsView:
    """Who earned what from one order, and why.

    Admins and platform services see every entry; a beneficiary sees only their own entries (and
    `booked` is then their own gross earnings); anyone else gets NotFound (the order's existence
    is not revealed)."""
    who = context.caller()
    payouts = OrderPayouts.objects(id=order_id).first() if ids.is_valid(order_id) else None
    everything = bool(who.service) or who.has_role(ADMIN)
    if not everything:
        require_user()
    query = LedgerEntry.objects(order_id=order_id)
    if not everything:
        query = query.filter(beneficiary_id=who.user_id)
    entries = list(query.order_by("id")) if payouts is not None else []
    if payouts is None or (not everything and not entries):
        raise NotFound(f"no payouts for order {order_id!r}", "order_payouts_not_found")
    booked = payouts.booked_fen if everything else sum(e.amount_fen for e in entries if e.kind != Kind.REVERSAL)
    return OrderPayoutsView(order_id, payouts.paid_fen, payouts.cap_fen, booked, entries)


# ── payout policy ────────────────────────────────────────────────────────────────────────────


def get_payout_policy() -> Policy:
    return ledger.current_policy()


def update_payout_policy(policy: Policy) -> Policy:
    """Admin. A policy outside the compliance limits is refused (InvalidArgument with the rule's
    code), never stored; accepted and refused updates are both audited."""
    who = require_role(ADMIN)
    try:
        payout_policy.check_policy(policy)
    except DomainError as refused:
        ledger.audit("update_payout_policy", "refused", code=refused.code, actor=who.user_id, **vars_of(policy))
        raise
    PayoutPolicy.objects(id="default").update_one(
        upsert=True,
        set__paid_levels=policy.paid_levels,
        set__level1_rate_bp=policy.level1_rate_bp,
        set__level2_rate_bp=policy.level2_rate_bp,
        set__order_cap_bp=policy.order_cap_bp,
        set__updated_by=who.user_id,
        set__updated_at=now(),
    )
    ledger.audit("update_payout_policy", "accepted", actor=who.user_id, **vars_of(policy))
    return ledger.current_policy()


def vars_of(policy: Policy) -> dict[str, int]:
    return {
        "paid_levels": policy.paid_levels,
        "level1_rate_bp": policy.level1_rate_bp,
        "level2_rate_bp": policy.level2_rate_bp,
        "order_cap_bp": policy.order_cap_bp,
    }


# ── reactions to order events ────────────────────────────────────────────────────────────────


def _item_rates(items: list[dict[str, Any]]) -> list[ItemRates]:
    """Each line's paid amount with its product's rate overrides (read with getattr, so this works
    whether or not the catalog has the override fields)."""
    sku_ids = [i["sku_id"] for i in items if ids.is_valid(str(i.get("sku_id", "")))]
    product_of = {s.id: s.product_id for s in Sku.objects(id__in=sku_ids).only("id", "product_id")}
    products = {p.id: p for p in Product.objects(id__in=list(set(product_of.values())))}
    rates = []
    for item in items:
        product = products.get(product_of.get(item.get("sku_id", ""), ""))
        rates.append(
            ItemRates(
                int(item["amount_fen"]),
                str(item.get("sku_id", "")),
                getattr(product, "level1_rate_bp", None),
                getattr(product, "level2_rate_bp", None),
            )
        )
    return rates


def book_store_commissions(envelope: dict[str, Any]) -> list[Posted]:
    """On order_paid: level-1 and level-2 store commissions, frozen until the order completes.

    Keys `order:<id>:l1` / `order:<id>:l2`: a redelivered event books nothing more. An order
    without a store, with distribution off, or bought by the store's owner books nothing. A level
    refused by the cap is audited and skipped (the other level stays booked)."""
    data = envelope["data"]
    order_id = data["order_id"]
    store_id = (data.get("attribution") or {}).get("store_id") or ""
    if not store_id or not data.get("distribution_enabled", True):
        return []
    store = Store.objects(id=store_id).only("owner_id", "upline_owner_id").first()
    if store is None:
        log.warning("order %s names store %s, which does not exist: no commission", order_id, store_id)
        return []
    items = _item_rates(data["items"])
    policy = ledger.current_policy()
    plan = payout_policy.plan_store_commissions(
        data["buyer_id"], store.owner_id, store.upline_owner_id or "", items, policy
    )
    posted = []
    for earning in plan:
        kind = Kind.COMMISSION_L1 if earning.level == 1 else Kind.COMMISSION_L2
        try:
            posted.append(
                ledger.post_earning(
                    NewEarning(
                        rules.commission_key(order_id, earning.level),
                        earning.beneficiary_id,
                        kind,
                        earning.amount_fen,
                        order_id,
                        SERVICE,
                        earning.note,
                        earning.basis,
                    ),
                    actor=f"service:{SERVICE}",
                )
            )
        except FailedPrecondition as refused:
            if refused.code != "payout_cap_exceeded":
                raise
            log.warning("order %s: %s commission refused by the payout cap", order_id, kind)
    return posted


def reverse_for_refund(envelope: dict[str, Any]) -> int:
    """On order_refunded: every earning of the order (from any service) is reversed towards its
    target: item by item for store commissions (refunding an item takes back what it earned), in
    proportion of the order for the rest; returns the fen reversed now.

    Idempotent: a repeated or out-of-order refund event reverses nothing more, and a refund seen
    before the order's payouts were booked is applied when they are."""
    data = envelope["data"]
    order = ledger.paid_order(data["order_id"])
    by_sku = {str(sku): int(fen) for sku, fen in (data.get("refunded_by_sku_fen") or {}).items()}
    return ledger.record_refund(order, data["refund_id"], int(data["refunded_total_fen"]), by_sku)


def release_order(order_id: str) -> int:
    """On order_completed: the order's frozen payouts become available."""
    return ledger.release_order(order_id)


release_completed_orders = ledger.release_completed_orders
