"""content nameko worker: reacts to retail's events. Run: python -m mallkit.worker content.worker"""

from __future__ import annotations

from typing import Any

from nameko.events import event_handler

from content import service
from content.config import ContentSettings
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent


def setup() -> None:
    """Connect and build the processed-event unique index before any delivery.

    mongoengine builds indexes lazily on a document's first use and lets other green threads use
    the collection while the build runs: a backlog delivered to a fresh database could record an
    event twice first, and the unique index could then never be built.
    """
    mongo.connect(ContentSettings.from_env().db_name)
    ProcessedEvent.ensure_indexes()


class Worker:
    name = "content_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("content.order_paid")
    def count_post_purchase(self, envelope: dict[str, Any]) -> None:
        service.count_post_purchase(envelope)
