"""Range queries on the Mongo wire server the tests run against (MONGO_URI, else the dev server)
follow MongoDB's type bracketing: `$lt`/`$lte`/`$gt`/`$gte` only match values of the operand's type,
so a null or missing date is never "due". Every timer sweep (team expiry, seat holds, unpaid
orders, payouts) relies on it; the dev server adds it to mongoeco (scripts/mongo_type_brackets.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.collection import Collection
from pymongo.database import Database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DOCUMENTS = [
    {"_id": "past", "at": NOW - timedelta(hours=1), "n": 3},
    {"_id": "future", "at": NOW + timedelta(hours=24), "n": 7.5},
    {"_id": "null", "at": None, "n": None},
    {"_id": "missing"},
    {"_id": "text", "at": "2026-01-01", "n": "1"},
]


@pytest.fixture
def docs(wire_db: Database) -> Collection:
    collection = wire_db["ranges"]
    collection.insert_many(DOCUMENTS)
    return collection


def ids(cursor) -> list[str]:
    return sorted(d["_id"] for d in cursor)


def test_a_date_range_matches_dates_only(docs: Collection) -> None:
    assert ids(docs.find({"at": {"$lte": NOW}})) == ["past"]
    assert ids(docs.find({"at": {"$lt": NOW}})) == ["past"]
    assert ids(docs.find({"at": {"$gt": NOW}})) == ["future"]
    assert ids(docs.find({"at": {"$gte": NOW - timedelta(days=1)}})) == ["future", "past"]


def test_a_number_range_matches_numbers_only(docs: Collection) -> None:
    assert ids(docs.find({"n": {"$lt": 5}})) == ["past"]
    assert ids(docs.find({"n": {"$gte": 0, "$lte": 10}})) == ["future", "past"]


def test_not_and_or_keep_the_brackets(docs: Collection) -> None:
    assert ids(docs.find({"at": {"$not": {"$lte": NOW}}})) == ["future", "missing", "null", "text"]
    assert ids(docs.find({"$or": [{"at": {"$lte": NOW}}, {"n": {"$gt": 5}}]})) == ["future", "past"]


def test_an_element_match_brackets_its_fields(docs: Collection) -> None:
    docs.insert_one({"_id": "holds", "items": [{"until": None}, {"until": NOW + timedelta(hours=1)}]})
    assert ids(docs.find({"items": {"$elemMatch": {"until": {"$lte": NOW}}}})) == []
    assert ids(docs.find({"items": {"$elemMatch": {"until": {"$gt": NOW}}}})) == ["holds"]


def test_writes_counts_and_aggregations_select_the_same_documents(docs: Collection) -> None:
    due = {"at": {"$lte": NOW}}
    assert docs.count_documents(due) == 1
    assert [d["_id"] for d in docs.aggregate([{"$match": due}, {"$project": {"_id": 1}}])] == ["past"]
    assert docs.find_one_and_update(due, {"$set": {"seen": True}})["_id"] == "past"
    assert docs.update_many(due, {"$set": {"swept": True}}).modified_count == 1
    assert docs.delete_many(due).deleted_count == 1
    assert ids(docs.find()) == ["future", "missing", "null", "text"]
