"""The event envelope every service publishes: {event_id, type, occurred_at, source, data, trace}.
`trace` holds the request id of the request that caused the event, and its W3C traceparent and
tracestate when the caller sent them.

Published to the topic exchange `<source>.events` with routing key `<type>`, as nameko's
`@event_handler("<source>", "<type>")` expects.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from mallkit import context


def exchange_name(source: str) -> str:
    return f"{source}.events"


def new_event(source: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": type_,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "data": data,
        "trace": {"request_id": context.request_id(), **dict(context.trace().pairs())},
    }


REQUIRED_FIELDS = ("event_id", "type", "occurred_at", "source", "data")


def validate(envelope: dict[str, Any]) -> dict[str, Any]:
    missing = [f for f in REQUIRED_FIELDS if f not in envelope]
    if missing:
        raise ValueError(f"event envelope lacks {', '.join(missing)}")
    return envelope
