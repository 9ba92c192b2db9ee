import logging
import sys
from concurrent.futures import ThreadPoolExecutor

import mongoengine

from mallkit import mongo
from mallkit.config import KitSettings

UNREACHABLE = "mongodb://127.0.0.1:1/?directConnection=true"


def settings(monkeypatch, **env) -> KitSettings:
    monkeypatch.delenv("MONGO_URI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return KitSettings.from_env()


def test_mongo_uri_wins(monkeypatch):
    assert mongo.resolve_uri(settings(monkeypatch, MONGO_URI="mongodb://db:27017/")) == "mongodb://db:27017/"


def test_without_any_server_it_falls_back_to_mongomock_loudly(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        uri = mongo.resolve_uri(settings(monkeypatch, MONGO_DEV_URI=UNREACHABLE))
    assert uri == mongo.MONGOMOCK_URI
    assert "IN-PROCESS MONGOMOCK" in caplog.text


def test_mongomock_writes_are_serialized_so_conditional_updates_stay_atomic(monkeypatch):
    # switch threads often, so an unserialized read-modify-write inside mongomock interleaves
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    mongo.connect("mock_atomicity", settings(monkeypatch, MONGO_DEV_URI=UNREACHABLE))
    try:
        counters = mongoengine.get_db()["counters"]

        def take(_: int) -> bool:
            taken = counters.update_one({"_id": "seats", "taken": {"$lt": 20}}, {"$inc": {"taken": 1}})
            return taken.modified_count == 1

        with ThreadPoolExecutor(16) as pool:
            for _ in range(30):  # many short races right at the cap, where an oversell happens
                counters.replace_one({"_id": "seats"}, {"_id": "seats", "taken": 0}, upsert=True)
                assert sum(pool.map(take, range(64))) == 20
                assert counters.find_one({"_id": "seats"})["taken"] == 20
    finally:
        sys.setswitchinterval(previous)
        mongoengine.disconnect()


def test_an_unreachable_server_fails_after_a_few_seconds_unless_the_uri_says_otherwise(monkeypatch):
    try:
        mongo.connect("timeouts", settings(monkeypatch, MONGO_URI=UNREACHABLE))
        assert mongoengine.get_connection().options.server_selection_timeout == 5
        mongo.connect("timeouts", settings(monkeypatch, MONGO_URI=f"{UNREACHABLE}&serverSelectionTimeoutMS=1500"))
        assert mongoengine.get_connection().options.server_selection_timeout == 1.5
    finally:
        mongoengine.disconnect()
