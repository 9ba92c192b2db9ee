"""retail-s2b2c nameko worker: timers that sweep orders. Run: python -m mallkit.worker retail_s2b2c.worker"""

from __future__ import annotations

import logging

from nameko.timer import timer

from mallkit import mongo
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents import DOCUMENTS
from retail_s2b2c.service import orders

log = logging.getLogger(__name__)


def setup() -> None:
    mongo.connect(RetailSettings.from_env().db_name)
    mongo.ensure_indexes(DOCUMENTS)


class Worker:
    name = "retail_worker"

    @timer(interval=30)
    def cancel_unpaid_orders(self) -> None:
        if cancelled := orders.cancel_expired_orders(RetailSettings.from_env()):
            log.info("cancelled %d unpaid orders", cancelled)
