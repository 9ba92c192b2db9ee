"""retail-s2b2c nameko worker: order clocks, group orders and wallet reactions.

Run: python -m mallkit.worker retail_s2b2c.worker
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.events import event_handler
from nameko.timer import timer

from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents import DOCUMENTS
from retail_s2b2c.service import group_orders, ledger, orders, stock_holds, stock_returns, wallet, withdrawals

log = logging.getLogger(__name__)


def setup() -> None:
    mongo.connect(RetailSettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])


class Worker:
    name = "retail_worker"

    @timer(interval=30)
    def cancel_unpaid_orders(self) -> None:
        if cancelled := orders.cancel_expired_orders(RetailSettings.from_env()):
            log.info("cancelled %d unpaid orders", cancelled)

    @timer(interval=60)
    def repair_stock(self) -> None:
        """Holds and returns a stopped process left unfinished (each counted once)."""
        stock_holds.settle_stale()
        stock_returns.finish_stale()

    @timer(interval=60)
    def receive_and_complete_orders(self) -> None:
        windows = RetailSettings.from_env().windows
        if received := orders.auto_receive_due(windows):
            log.info("auto-received %d orders", received)
        if completed := orders.complete_due(windows):
            log.info("completed %d orders", completed)

    # ── group orders (groupbuy's teams) ─────────────────────────────────────────────────────────

    @event_handler("groupbuy", "team_formed", requeue_on_error=True)
    @idempotent("retail.groupbuy.team_formed")
    def lift_ship_hold(self, envelope: dict[str, Any]) -> None:
        if lifted := group_orders.on_team_formed(envelope):
            log.info("team %s formed: %d orders may ship", envelope["data"]["team_id"], lifted)

    @event_handler("groupbuy", "team_failed", requeue_on_error=True)
    @idempotent("retail.groupbuy.team_failed")
    def void_failed_team(self, envelope: dict[str, Any]) -> None:
        for order in group_orders.on_team_failed(envelope):
            log.info("failed team: order %s is %s", order.id, order.status)

    @event_handler("groupbuy", "seat_released", requeue_on_error=True)
    @idempotent("retail.groupbuy.seat_released")
    def void_released_seat(self, envelope: dict[str, Any]) -> None:
        for order in group_orders.on_seat_released(envelope):
            log.info("released seat: order %s is %s", order.id, order.status)

    # ── wallet ──────────────────────────────────────────────────────────────────────────────

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("retail.wallet.order_paid")
    def book_store_commissions(self, envelope: dict[str, Any]) -> None:
        if posted := wallet.book_store_commissions(envelope):
            log.info("order %s: %d store commissions booked", envelope["data"]["order_id"], len(posted))

    @event_handler("retail", "order_refunded", requeue_on_error=True)
    @idempotent("retail.wallet.order_refunded")
    def reverse_payouts(self, envelope: dict[str, Any]) -> None:
        if reversed_fen := wallet.reverse_for_refund(envelope):
            log.info("order %s: %d fen of payouts reversed", envelope["data"]["order_id"], reversed_fen)

    @event_handler("retail", "order_completed", requeue_on_error=True)
    @idempotent("retail.wallet.order_completed")
    def release_payouts(self, envelope: dict[str, Any]) -> None:
        wallet.release_order(envelope["data"]["order_id"])

    @timer(interval=60)
    def settle_and_repair_wallet(self) -> None:
        """Stragglers: orders completed while their payouts were still being booked, entries left
        pending by a crash, withdrawals whose document or state lags their entry."""
        if released := wallet.release_completed_orders():
            log.info("released %d frozen entries", released)
        ledger.repair_pending()
        withdrawals.repair(RetailSettings.from_env().withdrawal_rules)
