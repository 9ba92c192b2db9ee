"""groupbuy nameko worker: reacts to retail's events. Run: python -m mallkit.worker groupbuy.worker"""

from __future__ import annotations

from typing import Any

from nameko.events import event_handler

from groupbuy import service
from groupbuy.config import GroupbuySettings
from groupbuy.documents import PaidOrder
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent


def setup() -> None:
    """Connect and build the unique indexes the handlers' keys rely on, before any delivery.

    mongoengine builds indexes lazily on a document's first use and lets other green threads use
    the collection while the build runs: a backlog delivered to a fresh database could insert
    duplicates first, and the unique index could then never be built.
    """
    mongo.connect(GroupbuySettings.from_env().db_name)
    for document in (PaidOrder, ProcessedEvent):
        document.ensure_indexes()


class Worker:
    name = "groupbuy_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("groupbuy.order_paid")
    def record_paid_order(self, envelope: dict[str, Any]) -> None:
        service.record_paid_order(envelope)
