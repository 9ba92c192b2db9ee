"""Shared measuring helpers: closed-loop load from client threads, latency percentiles, the echo
ceiling, and a real service API process to measure."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from mallkit.testing import ServiceProcess, free_port, wait_serving

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Load:
    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    def summary(self) -> dict[str, float]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
        }


def closed_loop(call: Callable[[], object], threads: int, seconds: float, warmup: float = 0.5) -> Load:
    """Each thread calls `call()` back to back for `seconds` (after a warm-up)."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds

    def worker(i: int) -> None:
        while (now := time.perf_counter()) < stop_at:
            try:
                call()
            except Exception:
                errors[i] += 1
                continue
            if now >= start_at:
                latencies[i].append(time.perf_counter() - now)

    _run_threads(worker, threads)
    return _load(latencies, errors, seconds)


def fixed_work(calls: list[Callable[[], object]], threads: int) -> Load:
    """Run every call once, spread over `threads` client threads taking the next call as they free up."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    queue = iter(calls)
    lock = threading.Lock()

    def worker(i: int) -> None:
        while True:
            with lock:
                call = next(queue, None)
            if call is None:
                return
            began = time.perf_counter()
            try:
                call()
            except Exception:
                errors[i] += 1
                continue
            latencies[i].append(time.perf_counter() - began)

    began = time.perf_counter()
    _run_threads(worker, threads)
    return _load(latencies, errors, time.perf_counter() - began)


def _run_threads(worker: Callable[[int], None], threads: int) -> None:
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def _load(latencies: list[list[float]], errors: list[int], seconds: float) -> Load:
    """Calls per second, p50 and p99 from each thread's latencies (seconds)."""
    flat = sorted(x for per in latencies for x in per)
    if not flat:
        return Load(0, sum(errors), seconds, 0.0, 0.0)
    p99 = flat[min(len(flat) - 1, int(len(flat) * 0.99))]
    return Load(len(flat), sum(errors), seconds, statistics.median(flat) * 1000, p99 * 1000)


def echo_ceiling(threads: int, seconds: float) -> Load:
    """A bare grpcio echo server (bench/_echo_server.py) in its own process, same client load.

    Its own process, as every API measured against it: served from the client's process, server and
    client threads share one GIL and the echo reads ~20 % lower (2,550-2,700 vs 3,070-3,470 calls/s,
    four pairs on one machine), which would flatter every ratio."""
    port = free_port()
    with process([str(HERE / "_echo_server.py"), str(port)], {}):
        wait_serving(f"127.0.0.1:{port}", timeout=30)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo = channel.unary_unary("/bench.Echo/Echo")
            return closed_loop(lambda: echo(b"x" * 64, timeout=2), threads, seconds)


@contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[None]:
    """`python ARGS` (from the repository root, output discarded) until the block ends."""
    child = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        yield
    finally:
        ServiceProcess(" ".join(args), child, Path(os.devnull)).stop()


@contextmanager
def api_process(module: str, env: dict[str, str]) -> Iterator[str]:
    """Run `python -m <module>` (a service's gRPC API) until the block ends; yields its target."""
    port = free_port()
    with process(["-m", module], {"GRPC_PORT": str(port), "LOG_LEVEL": "WARNING", **env}):
        wait_serving(f"127.0.0.1:{port}", timeout=30)
        yield f"127.0.0.1:{port}"
