"""JSON structured logs, one object a line, carrying the current request id and trace id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from mallkit import context

_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if rid := context.request_id():
            line["request_id"] = rid
        if trace_id := context.trace().trace_id:
            line["trace_id"] = trace_id
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pika", "kombu", "amqp", "nameko", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pika warns on every returned (unroutable) message; the outbox relay reports those itself
    logging.getLogger("pika.adapters.blocking_connection").setLevel(logging.ERROR)
