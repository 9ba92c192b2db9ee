"""Shared measuring helpers: closed-loop load from client threads, with latency percentiles."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


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

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    flat = sorted(x for per in latencies for x in per)
    if not flat:
        return Load(0, sum(errors), seconds, 0.0, 0.0)
    p99 = flat[min(len(flat) - 1, int(len(flat) * 0.99))]
    return Load(len(flat), sum(errors), seconds, statistics.median(flat) * 1000, p99 * 1000)
