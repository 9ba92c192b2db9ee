"""The eventlet-safe way for nameko code to call gRPC.

Inside an eventlet process a blocking grpcio call freezes the whole hub (grpc's C core blocks
the only OS thread), grpc.aio hangs and eventlet.tpool crashes. So the call is started as a
future and polled with eventlet.sleep, which lets other green threads run meanwhile.
Use `eventlet_client(...)`: a ServiceClient whose calls go through `eventlet_invoke`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import eventlet

from mallkit.grpc_client import ServiceClient

POLL_SECONDS = 0.002


def eventlet_invoke(multicallable: Any, request: Any, timeout: float, metadata: list[tuple[str, str]]) -> Any:
    future = multicallable.future(request, timeout=timeout, metadata=metadata)
    while not future.done():
        eventlet.sleep(POLL_SECONDS)
    return future.result()  # raises the grpc.RpcError of a failed call


def eventlet_client(
    stub_class: type, target: str, *, deadline: float | None = None, idempotent: Iterable[str] = ()
) -> ServiceClient:
    return ServiceClient(stub_class, target, deadline=deadline, idempotent=idempotent, invoker=eventlet_invoke)
