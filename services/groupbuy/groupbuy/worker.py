"""groupbuy nameko worker: retail's order events move seats and teams; timers run the clocks.

Run: python -m mallkit.worker groupbuy.worker
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.events import event_handler
from nameko.timer import timer

from groupbuy.config import GroupbuySettings
from groupbuy.documents import DOCUMENTS, Campaign
from groupbuy.domain.campaigns import Stage
from groupbuy.service import bargains, gate_sync, paid_orders, team_life
from groupbuy.service.seat_gate import SeatGate
from mallkit import mongo, sweeps
from mallkit.clock import now
from mallkit.consumer import ProcessedEvent, idempotent
from mallkit.redis_conn import connect as connect_redis

log = logging.getLogger(__name__)

_gate: SeatGate | None = None


def setup() -> None:
    global _gate
    mongo.connect(GroupbuySettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])
    _gate = SeatGate(connect_redis())


def gate() -> SeatGate:
    if _gate is None:
        raise RuntimeError("groupbuy.worker.setup() has not run")
    return _gate


class Worker:
    name = "groupbuy_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("groupbuy.order_paid")
    def record_paid_order(self, envelope: dict[str, Any]) -> None:
        paid_orders.order_paid(gate(), envelope)

    @event_handler("retail", "order_cancelled", requeue_on_error=True)
    @idempotent("groupbuy.order_cancelled")
    def release_cancelled_seat(self, envelope: dict[str, Any]) -> None:
        """A team's unpaid order frees its seat; a bargain's loses the bargain (the name keeps its queue)."""
        paid_orders.order_cancelled(gate(), envelope)

    @event_handler("retail", "order_refunded", requeue_on_error=True)
    @idempotent("groupbuy.order_refunded")
    def release_refunded_seat(self, envelope: dict[str, Any]) -> None:
        paid_orders.order_refunded(gate(), envelope)

    @timer(interval=10)
    def close_expired_teams(self) -> None:
        if closed := team_life.close_expired_teams(gate()):
            log.info("closed %d expired teams", closed)

    @timer(interval=30)
    def release_expired_holds(self) -> None:
        if released := team_life.release_expired_holds(gate()):
            log.info("released %d unpaid seats past their hold", released)

    @timer(interval=30)
    def expire_bargains(self) -> None:
        if expired := bargains.expire_due(limit=500):
            log.info("expired %d bargains past their time", expired)

    @timer(interval=60)
    def repair(self) -> None:
        """Stragglers of crashes: half-settled teams, leaders never named, gate claims that never
        reached MongoDB, gate places MongoDB gave back."""
        team_life.settle_stragglers(gate())
        team_life.name_missing_leaders(gate())
        live = Campaign.objects(stage=Stage.PUBLISHED, end_time__gt=now()).only("id")
        sweeps.each(live, lambda campaign: gate_sync.repair(gate(), campaign.id), what="gate repair of campaign")
