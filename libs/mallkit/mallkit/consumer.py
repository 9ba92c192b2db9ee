"""Idempotent event consumers for nameko handlers.

Delivery is at-least-once, so every consumer runs each event's effect at most once per
(consumer, event_id), recorded in `processed_events` under a unique index. The effect runs
first and the record is written after it, so a crash in between repeats the effect rather than
losing it: effects must themselves be keyed (a unique index or a conditional update), which
also makes two concurrent deliveries of one event safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from mallkit import context, events

log = logging.getLogger(__name__)


class ProcessedEvent(me.Document):
    consumer = me.StringField(required=True)
    event_id = me.StringField(required=True)
    event_type = me.StringField(required=True)
    processed_at = me.DateTimeField(required=True)
    meta = {
        "collection": "processed_events",
        "indexes": [{"fields": ["consumer", "event_id"], "unique": True}],
    }


def handle_once(consumer: str, envelope: dict[str, Any], effect: Callable[[dict[str, Any]], None]) -> bool:
    """Run `effect(envelope)` unless `consumer` already processed this event; True if it ran.

    A malformed envelope is logged and dropped (False): no redelivery can fix it, and handlers
    requeue what raises (a broken database is retried, a broken message would loop forever)."""
    try:
        events.validate(envelope)
    except ValueError as exc:
        log.error("dropping a malformed event for %s: %s; the message: %r", consumer, exc, envelope)
        return False
    event_id = envelope["event_id"]
    if ProcessedEvent.objects(consumer=consumer, event_id=event_id).only("id").first():
        log.info("skipping duplicate event %s for %s", event_id, consumer)
        return False
    cause = envelope.get("trace") or {}
    rid = cause.get("request_id") or context.new_request_id()
    trace = context.Trace.parse(str(cause.get(context.TRACEPARENT, "")), str(cause.get(context.TRACESTATE, "")))
    with context.bound(rid, trace=trace):  # what the handler calls and raises carries the request's trace on
        effect(envelope)
    # a concurrent delivery of the same event may have finished first; its effect was keyed
    with suppress(me.NotUniqueError, DuplicateKeyError):
        ProcessedEvent(
            consumer=consumer, event_id=event_id, event_type=envelope["type"], processed_at=datetime.now(UTC)
        ).save(force_insert=True)
    return True


def idempotent(consumer: str) -> Callable:
    """Decorator for a nameko `@event_handler` method taking the envelope."""

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def handler(self: Any, envelope: dict[str, Any]) -> None:
            handle_once(consumer, envelope, lambda event: method(self, event))

        return handler

    return decorate
