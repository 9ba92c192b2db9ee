"""content nameko worker: reacts to retail's events. Run: python -m mallkit.worker content.worker"""

from __future__ import annotations

from typing import Any

from nameko.events import event_handler

from content import service
from content.config import ContentSettings
from content.documents import DOCUMENTS
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent


def setup() -> None:
    mongo.connect(ContentSettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])


class Worker:
    name = "content_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("content.order_paid")
    def count_post_purchase(self, envelope: dict[str, Any]) -> None:
        service.count_post_purchase(envelope)
