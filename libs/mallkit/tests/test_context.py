"""The per-call context: what a request carries through gRPC metadata, events and log lines."""

from __future__ import annotations

import json
import logging

import pytest

from mallkit import context, events, logs

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # the W3C recommendation's example


def test_a_well_formed_traceparent_is_kept_with_its_tracestate():
    trace = context.Trace.parse(PARENT, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    assert trace == context.Trace(PARENT, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    assert trace.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.Trace.parse(PARENT, "x" * 513) == context.Trace(PARENT)  # too long to pass on
    assert context.Trace.parse(PARENT, "k=v\n") == context.Trace(PARENT)


@pytest.mark.parametrize(
    "parent",
    [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
        f"{PARENT}\r\nx-user-id: u_admin",
        f"{PARENT}\n",
    ],
)
def test_anything_else_is_no_trace(parent):
    assert context.Trace.parse(parent, "rojo=1") == context.NO_TRACE


def test_metadata_carries_the_trace_there_and_back():
    who = context.Caller("u_1", frozenset({"brand"}))
    trace = context.Trace(PARENT, "rojo=1")
    metadata = context.to_metadata("req-1", who, trace)
    assert ("traceparent", PARENT) in metadata and ("tracestate", "rojo=1") in metadata
    assert context.from_metadata(metadata) == ("req-1", who, trace)
    assert context.from_metadata(context.to_metadata("req-2", who))[2] == context.NO_TRACE


def test_events_and_log_lines_name_the_trace_of_the_request_that_caused_them():
    formatter = logs.JsonFormatter("test")
    record = logging.makeLogRecord({"msg": "hello"})
    with context.bound("req-1", trace=context.Trace(PARENT)):
        event = events.new_event("retail", "order_paid", {})
        line = json.loads(formatter.format(record))
    assert event["trace"] == {"request_id": "req-1", "traceparent": PARENT}
    assert (line["request_id"], line["trace_id"]) == ("req-1", "4bf92f3577b34da6a3ce929d0e0e4736")
    with context.bound("req-2"):
        assert events.new_event("retail", "order_paid", {})["trace"] == {"request_id": "req-2"}
        assert "trace_id" not in json.loads(formatter.format(record))
