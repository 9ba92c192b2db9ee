"""Transactional outbox on a single document.

An aggregate document carries the events its last state changes raised in `outbox`; the state
change and its events commit in one single-document write (no multi-document transaction).
`OutboxRelay` publishes them with publisher confirms and only then pulls them from the document.
Delivery is at-least-once; consumers are idempotent (see `mallkit.consumer`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import mongoengine as me
import pika
import pika.exceptions

from mallkit.events import exchange_name

log = logging.getLogger(__name__)

PENDING = {"outbox.type": {"$exists": True}}


def pending_except(held_types: list[str]) -> dict[str, Any]:
    """Documents holding an event of some type other than `held_types` (all pending ones if none)."""
    if not held_types:
        return PENDING
    return {"outbox": {"$elemMatch": {"type": {"$nin": held_types}}}}


class OutboxDocument(me.Document):
    """Base for aggregates that raise events: append to `outbox` in the same write as the change."""

    outbox = me.ListField(me.DictField(), default=list)
    meta: dict[str, Any] = {"abstract": True, "indexes": [{"fields": ["outbox.type"], "sparse": True}]}


def encode(event: dict[str, Any]) -> bytes:
    """The message body; TypeError or ValueError for an event that is not JSON."""
    return json.dumps(event, ensure_ascii=False).encode()


class Publisher:
    """One pika connection with publisher confirms, opened lazily and reopened after failures."""

    def __init__(self, amqp_uri: str, source: str) -> None:
        self.parameters = pika.URLParameters(amqp_uri)
        self.parameters.connection_attempts = 1
        self.parameters.socket_timeout = 3
        self.exchange = exchange_name(source)
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None

    def _ensure(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = pika.BlockingConnection(self.parameters)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self._channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        return self._channel

    def publish(self, event: dict[str, Any], body: bytes | None = None) -> None:
        """Returns once the broker confirmed; raises UnroutableError when no queue is bound.
        `body`: the event already encoded (`encode(event)`)."""
        self._ensure().basic_publish(
            exchange=self.exchange,
            routing_key=event["type"],
            body=encode(event) if body is None else body,
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=event["event_id"],
            ),
            mandatory=True,
        )

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
        self._connection = self._channel = None


class OutboxRelay:
    """Moves events from documents' outboxes to RabbitMQ; runs as a thread in the API process.

    Nameko binds one queue per (handler, event type), so "unroutable" is a property of an event
    type: when no queue is bound to a type yet (its consumer was never started), the type is held
    back with backoff, and documents holding only held-back events are not read until it is retried
    (otherwise a batch full of them would hide every other event behind it). An unroutable event is
    dropped with a warning once its type has had no queue for `unroutable_ttl` in a row (counted
    from the first refusal, not from when the event occurred: a backlog after an outage must not be
    dropped at its first try just because the consumers' queues are not bound yet).

    A nudge naming the documents just written asks for a pass over those alone; every outbox is
    swept every `poll_interval`, for events written elsewhere (the worker) or stranded by a crash,
    and at once after a bare nudge or a failed pass.
    """

    def __init__(
        self,
        publisher: Publisher,
        documents: list[type[OutboxDocument]],
        *,
        poll_interval: float = 0.5,
        batch_size: int = 100,
        unroutable_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self.publisher = publisher
        self.documents = documents
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.unroutable_ttl = unroutable_ttl
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._held: dict[str, tuple[int, float]] = {}  # event type -> (attempts, retry at)
        self._unroutable_since: dict[str, float] = {}  # event type -> first refusal (monotonic)
        self._asked = threading.Lock()
        self._written: dict[type[OutboxDocument], set[Any]] = {}
        self._sweep_asked = True
        self._next_sweep = 0.0

    def nudge(self, *written: OutboxDocument) -> None:
        """Ask for a pass now instead of at the next poll (call after a write that raised events);
        naming the documents written lets the pass read only them, and skip those whose events
        are all of held-back types."""
        held = set(self._held_types())
        with self._asked:
            for document in written:
                kinds = {event["type"] for event in document.outbox}
                if type(document) in self.documents and not (kinds and kinds <= held):
                    self._written.setdefault(type(document), set()).add(document.pk)
            self._sweep_asked = self._sweep_asked or not written
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.publisher.close()

    def _loop(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            try:
                published = self._pass()
                self.last_error = None
                backoff = self.poll_interval
                if published:
                    continue
                wait = max(0.0, self._next_sweep - time.monotonic())
            except (pika.exceptions.AMQPError, OSError, me.connection.ConnectionFailure) as exc:
                self._sweep_asked = True  # what the failed pass was asked to publish is still pending
                self.last_error = repr(exc)
                wait = backoff = min(backoff * 2, 10.0)
                log.warning("outbox relay cannot publish yet: %r (retrying in %.1fs)", exc, wait)
                self.publisher.close()
            except Exception:
                self._sweep_asked = True
                log.exception("outbox relay pass failed")
                wait = backoff = min(backoff * 2, 10.0)
            self._wake.wait(wait)
            self._wake.clear()

    def _pass(self) -> int:
        """A sweep when one is due or asked for, else a pass over the documents nudges named."""
        with self._asked:
            written, self._written = self._written, {}
            sweep, self._sweep_asked = self._sweep_asked, False
        if sweep or time.monotonic() >= self._next_sweep:
            return self.run_once()
        return sum(self._publish_named(document, ids) for document, ids in written.items())

    def _publish_named(self, document: type[OutboxDocument], ids: set[Any]) -> int:
        # by id alone: the dev server answers an id lookup from its index, but scans the whole
        # collection once another condition joins it
        collection = document._get_collection()
        return self._publish_from(collection, collection.find({"_id": {"$in": list(ids)}}, {"outbox": 1}))

    def run_once(self) -> int:
        """One pass over every document type; returns how many events were published."""
        self._next_sweep = time.monotonic() + self.poll_interval
        return sum(self._drain(document._get_collection()) for document in self.documents)

    def _drain(self, collection: Any) -> int:
        """Publish a collection's pending events batch by batch, until a batch brings nothing new."""
        published = 0
        while True:
            held_before = len(self._held)
            batch = collection.find(pending_except(self._held_types()), {"outbox": 1}).limit(self.batch_size)
            if not (published_here := self._publish_from(collection, batch)) and len(self._held) == held_before:
                return published
            published += published_here

    def _publish_from(self, collection: Any, documents: Any) -> int:
        holders: list[Any] = []
        done: list[str] = []
        held = set(self._held_types())
        try:
            for doc in documents:
                holders.append(doc["_id"])
                self._publish_all(doc["outbox"], held, done)
        finally:  # also when the broker fails mid-batch: what it confirmed is not published again
            if done:  # event ids are unique: one write clears the batch from every document holding it
                collection.update_many({"_id": {"$in": holders}}, {"$pull": {"outbox": {"event_id": {"$in": done}}}})
        return len(done)

    def _held_types(self) -> list[str]:
        now = time.monotonic()
        held = self._held.copy()  # request threads read it (nudge) while the relay thread writes it
        return sorted(kind for kind, (_, retry_at) in held.items() if retry_at > now)

    def _publish_all(self, events: list[dict[str, Any]], held: set[str], done: list[str]) -> None:
        """Publish what can be, skipping `held` types (a type found unroutable joins them); adds
        the ids to remove from the outbox to `done` as it goes."""
        for event in events:
            kind = event["type"]
            if kind in held:
                continue
            try:
                body = encode(event)
            except (TypeError, ValueError) as exc:  # not JSON (a datetime in its data...): it never will be
                log.error("dropping event %s (%s), it cannot be sent: %r; the event: %r", event["event_id"], kind,
                          exc, event)  # fmt: skip
                done.append(event["event_id"])
                continue
            try:
                self.publisher.publish(event, body)
            except pika.exceptions.UnroutableError:
                since = self._unroutable_since.setdefault(kind, time.monotonic())
                if time.monotonic() - since < self.unroutable_ttl.total_seconds():
                    attempts = self._held.get(kind, (0, 0.0))[0]
                    self._held[kind] = (attempts + 1, time.monotonic() + min(2.0**attempts, 60.0))
                    held.add(kind)
                    continue
                log.warning("dropping event %s (%s): no consumer bound", event["event_id"], kind)
            else:
                self._held.pop(kind, None)
                self._unroutable_since.pop(kind, None)
            done.append(event["event_id"])


def wait_until_drained(documents: list[type[OutboxDocument]], timeout: float = 10.0) -> bool:
    """True once no document has pending events (tests and graceful shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(d._get_collection().find_one(PENDING, {"_id": 1}) for d in documents):
            return True
        time.sleep(0.05)
    return False
