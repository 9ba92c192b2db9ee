"""Local MongoDB wire-protocol dev server (mongoeco over SQLite). Needs Python >= 3.13.

Not for production: it is a single process doing hundreds to ~1k ops/s. The runner
(`scripts/devstack.py`) starts it when MONGO_URI is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sqlite3
from dataclasses import replace
from pathlib import Path

from mongo_type_brackets import bracketed_command
from mongoeco.core.operation_limits import enforce_deadline
from mongoeco.core.query_plan import AndCondition, ElemMatchCondition, ExistsCondition, QueryNode
from mongoeco.engines.semantic_core import FiniteDocumentScan
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.engines.sqlite_query import json_path_for_field
from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire.executor import WireCommandExecutor


class DevEngine(SQLiteEngine):
    """mongoeco 4.11 with three per-write full scans, the per-write change delivery and the
    outbox sweeps' full scans taken out.
    The scans grew every write linearly with its collection (measured: 10 → 49 ms per seat over
    1,500 seats; 5 → 13 ms with the first fix).

    1. Each insert re-reads and decodes every document to compare `_id`s by BSON equality
       (`scan_payload_id`). Only numeric ids need that (1 == 1.0), and mongoeco still scans for
       those; string and ObjectId ids are matched exactly by their storage key, checked first.
    2. Each unique index asks whether any document holds an array at its field (a SQL scan with
       `json_type`, its cached answer dropped on every write). The same query is kept, and an
       expression index per field answers it from an index instead of a scan.
    3. A compound unique index (orders' and payments' `(buyer_id, idempotency_key)`, every consumer's
       `(consumer, event_id)`, ...) has no physical index in mongoeco: each insert or update
       decoded every document of its collection to look for a duplicate. When every key value of
       the written document is a plain string, the same question is asked of an expression index
       over those fields instead (a partial index on `documents` for that collection); any other
       key (numbers, dates, arrays, dotted paths, a partial filter) still takes mongoeco's scan.
    4. After every committed write the engine delivers its changes to the collection's change
       stream hub: it takes a lease (a SQLite write), starts and joins a heartbeat thread, and
       commits a checkpoint per change. The platform opens no change streams, so this dev server
       serves none and skips the delivery (measured: 2.75 → 1.96 ms per insert). The engine still
       records and compacts its change log inside each write, as before.
    5. Every outbox relay sweeps each of its collections twice a second for documents with
       pending events; mongoeco decoded the whole collection for that filter, so the dev server's
       load grew with the data (760 ms per sweep of 20,000 orders). Such finds now read only the
       documents holding elements, from an expression index (2-3 ms, flat).
    6. SQLite runs with `synchronous=OFF` (mongoeco sets NORMAL): WAL checkpoints no longer wait
       for fsync, which on a slow virtual disk held up every write behind them (measured:
       groupbuy_flash sold its 2,000 seats after 24.5-29.9 s instead of 35.9-41.9 s, ratio
       0.21-0.23 instead of 0.16-0.19). A killed dev server still loses nothing; a power loss or
       kernel crash may corrupt its file, which only ever holds development data.

    The engine runs on one executor thread (mongoeco's default is six): its engine lock serializes
    writes anyway, and six threads queueing on that lock under a flash crowd spent CPU handing the
    GIL around (measured: 3.55 → 3.05 ms of server CPU per seat, +5-13 % seats per second). For the
    same reason a find reads on the engine's connection instead of opening a SQLite connection of
    its own (a new connection parses the schema again: every index, ours included): mongoeco then
    captures the matching rows under its lock, as it does inside a transaction, so a cursor still
    sees one snapshot (measured: retail's GetProduct, two finds, 168-190 → 329-355 calls/s).
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._dev_indexes: set[str] = set()

    def _create_sqlite_connection(self) -> sqlite3.Connection:
        connection = super()._create_sqlite_connection()
        connection.execute("PRAGMA synchronous=OFF")  # 6.
        return connection

    def _validate_document_against_unique_indexes(self, *args, scan_payload_id: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        return super()._validate_document_against_unique_indexes(*args, scan_payload_id=False, **kwargs)

    def _field_is_top_level_array_in_collection(self, db_name: str, coll_name: str, field: str) -> bool:
        path = json_path_for_field(field)
        name = "dev_array_" + hashlib.sha1(path.encode()).hexdigest()[:16]
        columns = f"db_name, coll_name, json_type(document, {_sql_text(path)})"
        self._create_index_once(self._require_connection(), name, columns)
        return super()._field_is_top_level_array_in_collection(db_name, coll_name, field)

    def _create_index_once(self, connection: sqlite3.Connection, name: str, columns: str) -> None:
        """An expression index on `documents` that the query after this call can use; remembered once
        made. While another connection is writing, creating it fails: that query scans this once,
        and the next call tries again."""
        if name in self._dev_indexes:
            return
        try:
            connection.execute(f"CREATE INDEX IF NOT EXISTS {name} ON documents ({columns})")
            self._dev_indexes.add(name)
        except sqlite3.OperationalError:
            pass

    def _unique_index_conflict_via_scalar_entries(  # type: ignore[no-untyped-def]
        self, conn: sqlite3.Connection, collection_id: int | None, index, document, *, exclude_storage_key: str | None
    ) -> bool | None:
        answer = super()._unique_index_conflict_via_scalar_entries(
            conn, collection_id, index, document, exclude_storage_key=exclude_storage_key
        )
        if answer is not None or collection_id is None:
            return answer
        return self._string_key_conflict(conn, collection_id, index, document, exclude_storage_key)

    def _string_key_conflict(  # type: ignore[no-untyped-def]
        self, conn: sqlite3.Connection, collection_id: int, index, document, exclude_storage_key: str | None
    ) -> bool | None:
        """Whether another document holds the same string key in a compound unique index; None
        when the key is not all plain strings on top-level fields (mongoeco scans then)."""
        fields = list(index["fields"])
        if len(fields) < 2 or index.get("partial_filter_expression") or any("." in field for field in fields):
            return None
        key = [document.get(field) for field in fields]
        if not all(type(value) is str for value in key):
            return None
        db_name, coll_name = conn.execute(
            "SELECT db_name, coll_name FROM collections WHERE collection_id = ?", (collection_id,)
        ).fetchone()
        paths = [_sql_text(json_path_for_field(field)) for field in fields]
        extracts = [f"json_extract(document, {path})" for path in paths]
        in_collection = f"coll_name = {_sql_text(coll_name)}"
        name = "dev_unique_" + hashlib.sha1(f"{coll_name}:{fields}".encode()).hexdigest()[:16]
        # looked up each time, not remembered: created inside this write, it goes if the write rolls back
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone() is None:
            conn.execute(f"CREATE INDEX {name} ON documents (db_name, {', '.join(extracts)}) WHERE {in_collection}")
        texts = [f"json_type(document, {path}) = 'text'" for path in paths]
        sql = f"SELECT 1 FROM documents INDEXED BY {name} WHERE db_name = ? AND {in_collection} AND " + " AND ".join(
            [f"{extract} = ?" for extract in extracts] + texts
        )
        params: list[str] = [db_name, *key]
        if exclude_storage_key is not None:
            sql += " AND storage_key != ?"
            params.append(exclude_storage_key)
        return conn.execute(sql + " LIMIT 1", params).fetchone() is not None

    def _can_use_dedicated_reader(self, context) -> bool:  # type: ignore[no-untyped-def]
        super()._can_use_dedicated_reader(context)  # keeps its check that the session may use the engine
        return False

    def dispatch_committed_changes(self, consumer_id: str, consumer: object) -> None:
        return None

    def _open_scan_documents_sync(self, reader):  # type: ignore[no-untyped-def]
        """A find that can only match documents whose field holds an element (an outbox relay's
        sweep: `outbox.type` exists, or `outbox` has an `$elemMatch`) reads only the documents
        whose field is an object or a non-empty array, from an expression index; mongoeco's own
        matcher then applies the whole filter to those. mongoeco decodes every document of the
        collection for such a filter (measured: 760 ms per sweep of 20,000 orders)."""
        semantics = reader.semantics
        field = _field_needing_elements(semantics.query_plan)
        if field is None or semantics.sort is not None or semantics.text_query is not None or semantics.hint:
            return super()._open_scan_documents_sync(reader)
        enforce_deadline(semantics.deadline)
        has_elements = _has_elements_sql(field)
        name = "dev_elements_" + hashlib.sha1(has_elements.encode()).hexdigest()[:16]
        connection = self._require_connection(reader.context)
        self._create_index_once(connection, name, f"db_name, coll_name, {has_elements}")
        sql = f"SELECT document FROM documents WHERE db_name = ? AND coll_name = ? AND {has_elements} = 1"
        rows = connection.execute(sql, (reader.db_name, reader.coll_name))
        reader.own(rows)
        if not reader.owns_connection:
            rows = self._capture_shared_read_source(rows, reader, payloads=True)
        documents = (self._deserialize_document(payload) for (payload,) in rows)
        return FiniteDocumentScan(documents, replace(semantics, compiled_query=None))


def _field_needing_elements(plan: QueryNode) -> str | None:
    """The top-level field that must be an object or a non-empty array for `plan` to match:
    `a.b` existing needs `a` to hold something, and `$elemMatch` needs an element."""
    match plan:
        case ExistsCondition(field=field, value=True) if "." in field:
            return field.split(".", 1)[0]
        case ElemMatchCondition(field=field):
            return field.split(".", 1)[0]
        case AndCondition(clauses=clauses):
            return next((f for clause in clauses if (f := _field_needing_elements(clause))), None)
    return None


def _has_elements_sql(field: str) -> str:
    path = _sql_text(json_path_for_field(field))
    return (
        f"(CASE json_type(document, {path}) WHEN 'object' THEN 1"
        f" WHEN 'array' THEN json_array_length(document, {path}) > 0 ELSE 0 END)"
    )


class DevCommandExecutor(WireCommandExecutor):
    """Every command's query filters get MongoDB's type bracketing first (mongo_type_brackets)."""

    def _build_request_context(self, body, **kwargs):  # type: ignore[no-untyped-def]
        return super()._build_request_context(bracketed_command(body), **kwargs)


class DevServer(AsyncMongoEcoProxyServer):
    """mongoeco's wire server with DevCommandExecutor in place of its own executor."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._executor = DevCommandExecutor(
            self._client, self._cursor_store, self._session_store, surface=self._surface, auth=self._auth
        )


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def serve(host: str, port: int, data_file: Path) -> None:
    data_file.parent.mkdir(parents=True, exist_ok=True)
    server = DevServer(engine=DevEngine(str(data_file), executor_workers=1), host=host, port=port)
    address = await server.start()
    print(f"mongo dev server ready on {address.uri} (data: {data_file})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--data", type=Path, default=Path(".data/mongo/socialmall.sqlite3"))
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.data))


if __name__ == "__main__":
    main()
