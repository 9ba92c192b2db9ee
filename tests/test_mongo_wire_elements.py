"""Queries that need a field to hold elements (`a.b` exists, `$elemMatch` on `a`), as every outbox
relay's sweep is, on the Mongo wire server the tests run against (MONGO_URI, else the dev server,
which reads them from an expression index before applying the whole filter): they select the same
documents MongoDB does, whatever the field holds."""

from __future__ import annotations

import pymongo
import pytest
from pymongo.collection import Collection
from pymongo.database import Database

from mallkit.outbox import PENDING, pending_except

pytestmark = pytest.mark.integration

DOCUMENTS = [
    {"_id": "missing", "status": "paid"},
    {"_id": "empty", "status": "paid", "outbox": []},
    {"_id": "paid_event", "status": "paid", "outbox": [{"type": "order_paid"}]},
    {"_id": "two_events", "status": "shipped", "outbox": [{"type": "order_paid"}, {"type": "order_shipped"}]},
    {"_id": "untyped", "status": "paid", "outbox": [{"note": "no type"}]},
    {"_id": "object", "status": "paid", "outbox": {"type": "order_paid"}},
    {"_id": "text", "status": "paid", "outbox": "order_paid"},
]


@pytest.fixture
def docs(wire_db: Database) -> Collection:
    collection = wire_db["orders"]
    collection.create_index([("outbox.type", 1)], sparse=True)
    collection.insert_many(DOCUMENTS)
    return collection


def ids(cursor) -> list[str]:
    return sorted(d["_id"] for d in cursor)


def test_a_dotted_field_exists_in_objects_and_in_elements_of_arrays(docs: Collection) -> None:
    assert ids(docs.find(PENDING)) == ["object", "paid_event", "two_events"]
    assert ids(docs.find({"outbox.note": {"$exists": True}})) == ["untyped"]
    assert ids(docs.find({**PENDING, "status": "shipped"})) == ["two_events"]


def test_an_element_match_needs_an_element_that_matches(docs: Collection) -> None:
    assert ids(docs.find(pending_except(["order_paid"]))) == ["two_events", "untyped"]
    assert ids(docs.find(pending_except(["order_paid", "order_shipped"]))) == ["untyped"]
    assert ids(docs.find({"outbox": {"$elemMatch": {"type": "order_shipped"}}})) == ["two_events"]


def test_limit_projection_and_sort_still_apply(docs: Collection) -> None:
    [first] = docs.find(PENDING, {"outbox": 1}).limit(1)
    assert set(first) == {"_id", "outbox"}
    ordered = [d["_id"] for d in docs.find(PENDING).sort("_id", pymongo.DESCENDING)]
    assert ordered == ["two_events", "paid_event", "object"]


def test_what_was_pulled_is_no_longer_pending(docs: Collection) -> None:
    docs.update_one({"_id": "paid_event"}, {"$pull": {"outbox": {"type": "order_paid"}}})
    docs.update_one({"_id": "empty"}, {"$push": {"outbox": {"type": "order_cancelled"}}})
    assert ids(docs.find(PENDING)) == ["empty", "object", "two_events"]
