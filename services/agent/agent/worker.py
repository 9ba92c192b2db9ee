"""agent nameko worker: records agent-attributed sales. Run: python -m mallkit.worker agent.worker"""

from __future__ import annotations

import logging
from typing import Any

from nameko.events import event_handler

from agent import service
from agent.config import AgentSettings
from agent.documents import DOCUMENTS
from mallkit import mongo
from mallkit.consumer import ProcessedEvent, idempotent

log = logging.getLogger(__name__)


def setup() -> None:
    mongo.connect(AgentSettings.from_env().db_name)
    mongo.ensure_indexes([*DOCUMENTS, ProcessedEvent])


class Worker:
    name = "agent_worker"

    @event_handler("retail", "order_paid", requeue_on_error=True)
    @idempotent("agent.order_paid")
    def on_order_paid(self, envelope: dict[str, Any]) -> None:
        if service.record_agent_sale(envelope["data"]):
            log.info("recorded agent sale of order %s", envelope["data"]["order_id"])
