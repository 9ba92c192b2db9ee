import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import mongoengine as me
import pika
import pytest

from mallkit.events import new_event
from mallkit.outbox import OutboxDocument, OutboxRelay, Publisher, wait_until_drained

pytestmark = pytest.mark.integration


class Widget(OutboxDocument):
    name = me.StringField()
    meta = {"collection": "widgets"}


@pytest.fixture
def source():
    return f"test{uuid.uuid4().hex[:8]}"


@pytest.fixture
def listen(amqp_uri, source):
    """Bind a private queue to `<source>.events` for the given routing keys; returns a reader."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.exchange_declare(f"{source}.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue

    def bind(*keys):
        for key in keys:
            channel.queue_bind(queue, f"{source}.events", routing_key=key)

    def read(wait=1.0):
        got = []
        for _m, props, body in channel.consume(queue, inactivity_timeout=wait):
            if body is None:
                break
            got.append((props, json.loads(body)))
        channel.cancel()
        return got

    yield bind, read
    channel.exchange_delete(f"{source}.events")
    connection.close()


def test_relay_publishes_confirmed_persistent_json_then_clears_the_outbox(mongo_db, amqp_uri, source, listen):
    bind, read = listen
    bind("thing_made")
    event = new_event(source, "thing_made", {"n": 1})
    Widget(name="w", outbox=[event]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget])
    assert relay.run_once() == 1
    assert Widget.objects.get(name="w").outbox == []
    [(props, body)] = read()
    assert body == event
    assert props.content_type == "application/json" and props.delivery_mode == 2
    assert relay.run_once() == 0
    relay.stop()


def test_an_unroutable_event_waits_without_blocking_the_next(mongo_db, amqp_uri, source, listen):
    bind, read = listen
    bind("wanted")
    Widget(name="w", outbox=[new_event(source, "unwanted", {}), new_event(source, "wanted", {})]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget])
    assert relay.run_once() == 1
    assert [e["type"] for e in Widget.objects.get(name="w").outbox] == ["unwanted"]
    assert [body["type"] for _, body in read()] == ["wanted"]
    relay.stop()


def test_one_pass_clears_what_it_published_from_every_document_and_keeps_the_rest(mongo_db, amqp_uri, source, listen):
    bind, read = listen
    bind("wanted")
    for n in range(3):
        Widget(name=f"w{n}", outbox=[new_event(source, "wanted", {"n": n}), new_event(source, "unwanted", {})]).save()
    Widget(name="quiet").save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget])
    assert relay.run_once() == 3
    assert {w.name: [e["type"] for e in w.outbox] for w in Widget.objects} == {
        "w0": ["unwanted"],
        "w1": ["unwanted"],
        "w2": ["unwanted"],
        "quiet": [],
    }
    assert sorted(body["data"]["n"] for _, body in read()) == [0, 1, 2]
    relay.stop()


def test_documents_holding_only_held_back_events_do_not_hide_the_others(mongo_db, amqp_uri, source, listen):
    """More documents with an unroutable type than one batch holds: the routable event behind them
    is still published in the same pass, and the held-back type is tried again after its backoff."""
    bind, read = listen
    bind("wanted")
    for n in range(5):
        Widget(name=f"u{n}", outbox=[new_event(source, "unwanted", {"n": n})]).save()
    Widget(name="last", outbox=[new_event(source, "wanted", {})]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget], batch_size=2)
    assert relay.run_once() == 1
    assert relay.run_once() == 0  # held back for a second: not read, not tried
    bind("unwanted")
    assert [body["type"] for _, body in read(wait=1.2)] == ["wanted"]  # outlasts the first backoff
    assert relay.run_once() == 5
    assert sorted(body["data"]["n"] for _, body in read()) == [0, 1, 2, 3, 4]
    assert all(w.outbox == [] for w in Widget.objects)
    relay.stop()


def test_a_nudge_naming_documents_publishes_those_and_a_bare_nudge_sweeps_the_rest(mongo_db, amqp_uri, source, listen):
    bind, read = listen
    bind("wanted")
    Widget(name="before", outbox=[new_event(source, "wanted", {"n": 0})]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget], poll_interval=60)
    relay.start()
    assert [body["data"]["n"] for _, body in read()] == [0]  # the first pass sweeps; then none for a minute
    named = Widget(name="named", outbox=[new_event(source, "wanted", {"n": 1})]).save()
    Widget(name="unnamed", outbox=[new_event(source, "wanted", {"n": 2})]).save()
    relay.nudge(named)
    assert [body["data"]["n"] for _, body in read()] == [1]
    assert len(Widget.objects.get(name="unnamed").outbox) == 1
    relay.nudge()
    assert [body["data"]["n"] for _, body in read()] == [2]
    relay.stop()


def test_an_event_that_cannot_be_sent_is_dropped_and_stops_nothing(mongo_db, amqp_uri, source, listen, caplog):
    bind, read = listen
    bind("wanted")
    broken = new_event(source, "wanted", {"at": datetime.now(UTC)})  # not JSON
    Widget(name="a", outbox=[new_event(source, "wanted", {"n": 1}), broken]).save()
    Widget(name="b", outbox=[new_event(source, "wanted", {"n": 2})]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget])
    assert relay.run_once() == 3
    assert [w.outbox for w in Widget.objects] == [[], []]
    assert sorted(body["data"]["n"] for _, body in read()) == [1, 2]
    assert broken["event_id"] in caplog.text
    relay.stop()


def test_an_unroutable_event_is_dropped_once_its_type_has_had_no_queue_for_the_ttl(mongo_db, amqp_uri, source):
    backlog = new_event(source, "nobody_listens", {})
    backlog["occurred_at"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # waited out an outage
    Widget(name="w", outbox=[backlog]).save()
    relay = OutboxRelay(Publisher(amqp_uri, source), [Widget], unroutable_ttl=timedelta(seconds=0.5))
    assert relay.run_once() == 0  # its consumers' queues may just not be bound yet: held, not dropped
    assert len(Widget.objects.get(name="w").outbox) == 1
    time.sleep(1.1)  # past the TTL and the first retry (1 s)
    assert relay.run_once() == 1
    assert Widget.objects.get(name="w").outbox == []
    relay.stop()


def test_relay_thread_survives_a_broker_it_cannot_reach_and_keeps_events(mongo_db, source):
    Widget(name="w", outbox=[new_event(source, "x", {})]).save()
    relay = OutboxRelay(Publisher("amqp://guest:guest@127.0.0.1:1/", source), [Widget], poll_interval=0.05)
    relay.start()
    assert not wait_until_drained([Widget], timeout=0.5)
    assert relay.last_error is not None
    relay.stop()
    assert len(Widget.objects.get(name="w").outbox) == 1
