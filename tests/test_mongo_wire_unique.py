"""Compound unique indexes on the Mongo wire server the tests run against (MONGO_URI, else the dev
server): every idempotency key and consumer record relies on them, and the dev server answers string
keys from its own expression index (scripts/mongo_devserver.py), so both paths are held to MongoDB's
behaviour here."""

from __future__ import annotations

import pytest
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


@pytest.fixture
def keyed(wire_db: Database) -> Collection:
    collection = wire_db["keyed"]
    collection.create_index([("owner", 1), ("key", 1)], unique=True)
    return collection


def test_a_string_key_is_refused_twice_and_free_under_another_owner(keyed: Collection) -> None:
    keyed.insert_one({"_id": "a", "owner": "u1", "key": "k1"})
    with pytest.raises(DuplicateKeyError):
        keyed.insert_one({"_id": "b", "owner": "u1", "key": "k1"})
    keyed.insert_one({"_id": "c", "owner": "u2", "key": "k1"})
    keyed.insert_one({"_id": "d", "owner": "u1", "key": "k2"})
    assert sorted(d["_id"] for d in keyed.find()) == ["a", "c", "d"]


def test_an_update_onto_a_held_key_is_refused_and_a_document_keeps_its_own(keyed: Collection) -> None:
    keyed.insert_many([{"_id": "a", "owner": "u1", "key": "k1"}, {"_id": "b", "owner": "u1", "key": "k2"}])
    with pytest.raises(DuplicateKeyError):
        keyed.update_one({"_id": "b"}, {"$set": {"key": "k1"}})
    keyed.update_one({"_id": "a"}, {"$set": {"note": "same key, other field"}})
    keyed.update_one({"_id": "a"}, {"$set": {"key": "k1"}})
    assert keyed.find_one({"_id": "b"})["key"] == "k2"
    assert keyed.find_one({"_id": "a"})["note"] == "same key, other field"


def test_a_released_key_can_be_taken_again(keyed: Collection) -> None:
    keyed.insert_one({"_id": "a", "owner": "u1", "key": "k1"})
    keyed.update_one({"_id": "a"}, {"$set": {"key": "x:a"}})
    keyed.insert_one({"_id": "b", "owner": "u1", "key": "k1"})
    keyed.delete_one({"_id": "b"})
    keyed.insert_one({"_id": "c", "owner": "u1", "key": "k1"})
    assert keyed.count_documents({"owner": "u1", "key": "k1"}) == 1


def test_types_tell_keys_apart_and_non_string_keys_are_still_unique(keyed: Collection) -> None:
    keyed.insert_one({"_id": "a", "owner": "u1", "key": 1})
    keyed.insert_one({"_id": "b", "owner": "u1", "key": "1"})
    with pytest.raises(DuplicateKeyError):
        keyed.insert_one({"_id": "c", "owner": "u1", "key": 1})
    with pytest.raises(DuplicateKeyError):
        keyed.insert_one({"_id": "d", "owner": "u1", "key": "1"})


def test_a_key_inside_an_array_conflicts_with_the_same_string(keyed: Collection) -> None:
    keyed.insert_one({"_id": "a", "owner": "u1", "key": ["k1", "k2"]})
    with pytest.raises(DuplicateKeyError):
        keyed.insert_one({"_id": "b", "owner": "u1", "key": "k2"})
    keyed.insert_one({"_id": "c", "owner": "u1", "key": "k3"})
