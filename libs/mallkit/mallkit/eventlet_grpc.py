"""The eventlet-safe way for nameko code to call gRPC.

Measured on this stack (grpcio 1.85, eventlet 0.41, Python 3.11), in a monkey-patched process:
- a blocking stub call freezes the whole hub for the call's duration (grpc's C core blocks the
  only OS thread);
- `stub.Method.future(req)` blocks just the same: the future's completion-queue polling runs on
  a (patched, so green) thread that blocks in C;
- blocking calls from several real OS threads crash ("Cannot switch to a different thread"):
  grpc's internal locks are eventlet semaphores after patching and must not be contended
  across OS threads.
What works: one real OS thread per client makes the client's calls one at a time, while the
calling green thread waits with eventlet.sleep. Calls to one target are thus serialized within
a worker process; every call still has its deadline, counted from when it was asked for (the wait
for the thread included), so a slow peer delays callers, never beyond their deadlines.
Tests: libs/mallkit/tests/test_eventlet_grpc.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import eventlet
from eventlet import patcher

from mallkit import errors
from mallkit.grpc_client import ServiceClient

_threading = patcher.original("threading")
_queue = patcher.original("queue")

POLL_SECONDS = 0.002


class _Job:
    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class CallThread:
    """A real OS thread that runs submitted calls one at a time for green callers."""

    def __init__(self, name: str) -> None:
        self._jobs: Any = _queue.Queue()
        _threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.result = job.fn()
            except BaseException as exc:
                job.error = exc
            job.done = True

    def submit(self, fn: Callable[[], Any]) -> Any:
        job = _Job(fn)
        self._jobs.put(job)
        while not job.done:
            eventlet.sleep(POLL_SECONDS)
        if job.error is not None:
            raise job.error
        return job.result


def eventlet_client(
    stub_class: type,
    target: str,
    *,
    deadline: float | None = None,
    idempotent: Iterable[str] = (),
    caller_service: str = "",
) -> ServiceClient:
    """A ServiceClient for nameko code: same deadlines, metadata, retries and error mapping."""
    thread = CallThread(f"grpc-{target}")

    def invoke(multicallable: Any, request: Any, timeout: float, metadata: list[tuple[str, str]]) -> Any:
        ends = time.monotonic() + timeout

        def call() -> Any:
            if (left := ends - time.monotonic()) <= 0:  # it waited its whole deadline for the thread
                raise errors.Unavailable(
                    f"{target} is busy; the call's deadline passed in the queue", "deadline_exceeded"
                )
            return multicallable(request, timeout=left, metadata=metadata)

        return thread.submit(call)

    return ServiceClient(
        stub_class, target, deadline=deadline, idempotent=idempotent, invoker=invoke, caller_service=caller_service
    )
