"""Local MongoDB wire-protocol dev server (mongoeco over SQLite). Needs Python >= 3.13.

Not for production: it is a single process doing hundreds to ~1k ops/s. The runner
(`scripts/platform.py`) starts it when MONGO_URI is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sqlite3
from pathlib import Path

from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.engines.sqlite_query import json_path_for_field
from mongoeco.wire import AsyncMongoEcoProxyServer


class DevEngine(SQLiteEngine):
    """mongoeco 4.11 with two per-insert full scans and the per-write change delivery taken out.
    Both scans grew every insert linearly with its collection (measured: 10 → 49 ms per seat over
    1,500 seats; 5 → 13 ms with the first fix).

    1. Each insert re-reads and decodes every document to compare `_id`s by BSON equality
       (`scan_payload_id`). Only numeric ids need that (1 == 1.0), and mongoeco still scans for
       those; string and ObjectId ids are matched exactly by their storage key, checked first.
    2. Each unique index asks whether any document holds an array at its field (a SQL scan with
       `json_type`, its cached answer dropped on every write). The same query is kept, and an
       expression index per field answers it from an index instead of a scan.
    3. After every committed write the engine delivers its changes to the collection's change
       stream hub: it takes a lease (a SQLite write), starts and joins a heartbeat thread, and
       commits a checkpoint per change. The platform opens no change streams, so this dev server
       serves none and skips the delivery (measured: 2.75 → 1.96 ms per insert). The engine still
       records and compacts its change log inside each write, as before.

    The engine runs on one executor thread (mongoeco's default is six): its engine lock serializes
    writes anyway, and six threads queueing on that lock under a flash crowd spent CPU handing the
    GIL around (measured: 3.55 → 3.05 ms of server CPU per seat, +5-13 % seats per second).
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._dev_array_indexes: set[str] = set()

    def _validate_document_against_unique_indexes(self, *args, scan_payload_id: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        return super()._validate_document_against_unique_indexes(*args, scan_payload_id=False, **kwargs)

    def _field_is_top_level_array_in_collection(self, db_name: str, coll_name: str, field: str) -> bool:
        path = json_path_for_field(field).replace("'", "''")
        name = "dev_array_" + hashlib.sha1(path.encode()).hexdigest()[:16]
        if name not in self._dev_array_indexes:
            try:
                columns = f"db_name, coll_name, json_type(document, '{path}')"
                self._require_connection().execute(f"CREATE INDEX IF NOT EXISTS {name} ON documents ({columns})")
                self._dev_array_indexes.add(name)
            except sqlite3.OperationalError:
                pass  # another connection is writing: this once the query below scans; try again next time
        return super()._field_is_top_level_array_in_collection(db_name, coll_name, field)

    def dispatch_committed_changes(self, consumer_id: str, consumer: object) -> None:
        return None


async def serve(host: str, port: int, data_file: Path) -> None:
    data_file.parent.mkdir(parents=True, exist_ok=True)
    server = AsyncMongoEcoProxyServer(engine=DevEngine(str(data_file), executor_workers=1), host=host, port=port)
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
