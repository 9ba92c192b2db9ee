import pytest

from mallkit import context
from mallkit.consumer import ProcessedEvent, handle_once
from mallkit.events import new_event

pytestmark = pytest.mark.integration


def test_each_event_runs_once_per_consumer(mongo_db):
    effects = []
    event = new_event("retail", "order_paid", {"order_id": "ord_1"})
    assert handle_once("a", event, effects.append) is True
    assert handle_once("a", event, effects.append) is False
    assert handle_once("b", event, effects.append) is True  # another consumer has its own record
    other = new_event("retail", "order_paid", {"order_id": "ord_1"})
    assert handle_once("a", other, effects.append) is True
    assert [e["event_id"] for e in effects] == [event["event_id"], event["event_id"], other["event_id"]]
    assert ProcessedEvent.objects.count() == 3


def test_a_failed_effect_is_not_recorded_so_redelivery_retries(mongo_db):
    event = new_event("retail", "order_paid", {})

    def boom(_):
        raise RuntimeError("transient")

    with pytest.raises(RuntimeError):
        handle_once("a", event, boom)
    ran = []
    assert handle_once("a", event, ran.append) is True and len(ran) == 1


def test_malformed_envelopes_are_dropped_not_run(mongo_db, caplog):
    ran: list = []
    assert handle_once("a", {"type": "x", "occurred_at": "", "source": "s", "data": {}}, ran.append) is False
    assert ran == [] and "event_id" in caplog.text


def test_a_handler_runs_in_the_request_and_trace_that_caused_the_event(mongo_db):
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with context.bound("req-9", trace=context.Trace(parent)):
        event = new_event("retail", "order_paid", {"order_id": "o1"})
    seen = []
    handle_once("test.trace", event, lambda _: seen.append((context.request_id(), context.trace().parent)))
    assert seen == [("req-9", parent)]
