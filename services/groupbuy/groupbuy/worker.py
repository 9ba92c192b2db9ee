"""groupbuy nameko worker: reacts to retail's events. Run: python -m mallkit.worker groupbuy.worker"""

from __future__ import annotations

from typing import Any

from nameko.events import event_handler

from groupbuy import service
from groupbuy.config import GroupbuySettings
from groupbuy.documents import DOCUMENTS
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent


def setup() -> None:
    mongo.connect(GroupbuySettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])


class Worker:
    name = "groupbuy_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("groupbuy.order_paid")
    def record_paid_order(self, envelope: dict[str, Any]) -> None:
        service.record_paid_order(envelope)
