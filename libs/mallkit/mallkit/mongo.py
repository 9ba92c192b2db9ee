"""MongoDB through mongoengine: MONGO_URI, else the local dev wire server, else mongomock.

mongomock is the last resort for single-process use: it is not atomic across threads, so
its write operations are serialized here, and a loud warning says what is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import wraps
from urllib.parse import parse_qs, urlsplit

import mongoengine
import pymongo

from mallkit.config import KitSettings

log = logging.getLogger(__name__)

MONGOMOCK_URI = "mongomock://localhost"  # a marker for the fallback, never handed to a driver
# How long an operation waits for a usable server before failing (pymongo's default is 30 s, which
# made every request hang that long while MongoDB was down). A URI's serverSelectionTimeoutMS wins.
SERVER_SELECTION_TIMEOUT_MS = 5000


def reachable(uri: str, timeout_ms: int = 500) -> bool:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def resolve_uri(settings: KitSettings) -> str:
    if settings.mongo_uri:
        return settings.mongo_uri
    if reachable(settings.mongo_dev_uri):
        return settings.mongo_dev_uri
    log.warning(
        "MONGO_URI is unset and no dev server answers at %s: falling back to IN-PROCESS MONGOMOCK. "
        "Data is lost on exit and other processes cannot see it; operations are serialized. "
        "Run `make run` (starts the dev server), set MONGO_URI, or use deploy/compose.yaml.",
        settings.mongo_dev_uri,
    )
    return MONGOMOCK_URI


def connect(db_name: str, settings: KitSettings | None = None, alias: str = "default") -> str:
    """Connect mongoengine's `alias` to `db_name`; returns the URI actually used."""
    uri = resolve_uri(settings or KitSettings.from_env())
    mongoengine.disconnect(alias)
    if uri == MONGOMOCK_URI:
        import mongomock

        _serialize_mongomock_writes()
        mongoengine.connect(
            db=db_name,
            alias=alias,
            host="mongodb://localhost",
            mongo_client_class=mongomock.MongoClient,
            uuidRepresentation="standard",
        )
    else:
        mongoengine.connect(
            db=db_name, alias=alias, host=uri, tz_aware=True, uuidRepresentation="standard", **_timeouts(uri)
        )
    return uri


def _timeouts(uri: str) -> dict[str, int]:
    """The default server selection timeout, unless the URI sets one (a keyword would override it)."""
    options = {name.lower() for name in parse_qs(urlsplit(uri).query)}
    return {} if "serverselectiontimeoutms" in options else {"serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS}


def ensure_indexes(documents: Iterable[type[mongoengine.Document]]) -> None:
    """Build every index before serving. mongoengine otherwise builds a collection's indexes on
    its first use, and concurrent writers on a fresh database can slip a duplicate in before a
    unique index exists (seen: 8 racing registrations, 2 agents for one user)."""
    for document in documents:
        document.ensure_indexes()


def insert_once(document: mongoengine.Document) -> bool:
    """Insert `document` unless one with the same unique key exists; True if this call inserted it.

    The way to key an effect (see mallkit.consumer): redelivered or concurrent events insert once."""
    try:
        document.save(force_insert=True)
    except mongoengine.NotUniqueError:
        return False
    return True


def ping(alias: str = "default") -> None:
    mongoengine.get_connection(alias).admin.command("ping")


_MOCK_LOCK = threading.RLock()
_WRITES = (
    "insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one", "delete_many",
    "find_one_and_update", "find_one_and_replace", "find_one_and_delete", "bulk_write", "find_one",
    "count_documents", "create_index",
)  # fmt: skip


def _serialize_mongomock_writes() -> None:
    from mongomock.collection import Collection

    if getattr(Collection, "_mallkit_serialized", False):
        return
    for name in _WRITES:
        original = getattr(Collection, name)

        def locked(*args, __original=original, **kwargs):
            with _MOCK_LOCK:
                return __original(*args, **kwargs)

        setattr(Collection, name, wraps(original)(locked))
    Collection._mallkit_serialized = True
