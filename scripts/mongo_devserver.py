"""Local MongoDB wire-protocol dev server (mongoeco over SQLite). Needs Python >= 3.13.

Not for production: it is a single process doing hundreds to ~1k ops/s. The runner
(`scripts/platform.py`) starts it when MONGO_URI is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer


async def serve(host: str, port: int, data_file: Path) -> None:
    data_file.parent.mkdir(parents=True, exist_ok=True)
    server = AsyncMongoEcoProxyServer(engine=SQLiteEngine(str(data_file)), host=host, port=port)
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
