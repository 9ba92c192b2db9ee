"""guide nameko worker: records KOL-attributed orders. Run: python -m mallkit.worker guide.worker"""

from __future__ import annotations

import logging
from typing import Any

from nameko.events import event_handler

from guide import service
from guide.config import GuideSettings
from guide.documents import DOCUMENTS
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent

log = logging.getLogger(__name__)


def setup() -> None:
    mongo.connect(GuideSettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])


class Worker:
    name = "guide_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("guide.order_paid")
    def on_order_paid(self, envelope: dict[str, Any]) -> None:
        if service.record_attributed_order(envelope["data"]):
            log.info("recorded KOL-attributed order %s", envelope["data"]["order_id"])
