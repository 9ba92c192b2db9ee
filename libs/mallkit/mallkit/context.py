"""Per-call context: request id, trace and the verified caller forwarded by the gateway."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# gRPC metadata keys (lower case, as gRPC requires).
REQUEST_ID = "x-request-id"
USER_ID = "x-user-id"
USER_ROLES = "x-user-roles"
# Set by service-to-service clients (ServiceClient's `caller_service`), never by the gateway:
# in the cluster only services reach each other's gRPC ports (NetworkPolicy).
CALLER_SERVICE = "x-caller-service"


# W3C Trace Context (https://www.w3.org/TR/trace-context/): a caller's traceparent and tracestate,
# accepted by the gateway, go unchanged through every gRPC call, event and log line of the request.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
MAX_TRACESTATE = 512  # what the recommendation asks every hop to pass on


@dataclass(frozen=True)
class Trace:
    parent: str = ""  # traceparent: version-trace id-parent id-flags
    state: str = ""  # tracestate: vendor entries, passed on as they came

    @classmethod
    def parse(cls, parent: str, state: str = "") -> Trace:
        """The trace a caller sent, if its traceparent is well formed (else none); a tracestate
        that is not short printable ASCII is dropped, as the recommendation allows."""
        if not _TRACEPARENT.fullmatch(parent):
            return NO_TRACE
        keep = len(state) <= MAX_TRACESTATE and state.isascii() and state.isprintable()
        return cls(parent, state if keep else "")

    @property
    def trace_id(self) -> str:
        return self.parent.split("-")[1] if self.parent else ""

    def pairs(self) -> list[tuple[str, str]]:
        """As headers or metadata: only what is set."""
        return [(name, value) for name, value in ((TRACEPARENT, self.parent), (TRACESTATE, self.state)) if value]


NO_TRACE = Trace()


@dataclass(frozen=True)
class Caller:
    user_id: str = ""
    roles: frozenset[str] = frozenset()
    # the platform service making the call on the user's behalf; empty from the gateway
    service: str = ""

    @property
    def authenticated(self) -> bool:
        return bool(self.user_id)

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = Caller()

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller", default=ANONYMOUS)
# when (time.monotonic()) the call being served stops being waited for; None: no deadline
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)
_trace: contextvars.ContextVar[Trace] = contextvars.ContextVar("trace", default=NO_TRACE)


def request_id() -> str:
    return _request_id.get()


def caller() -> Caller:
    return _caller.get()


def trace() -> Trace:
    return _trace.get()


def deadline() -> float | None:
    """When the caller of the call being served stops waiting (time.monotonic()), if it said."""
    return _deadline.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bound(
    request_id: str, who: Caller = ANONYMOUS, until: float | None = None, trace: Trace = NO_TRACE
) -> Iterator[None]:
    rid_token = _request_id.set(request_id)
    caller_token = _caller.set(who)
    deadline_token = _deadline.set(until)
    trace_token = _trace.set(trace)
    try:
        yield
    finally:
        _request_id.reset(rid_token)
        _caller.reset(caller_token)
        _deadline.reset(deadline_token)
        _trace.reset(trace_token)


def from_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> tuple[str, Caller, Trace]:
    values = {key: value for key, value in metadata if isinstance(value, str)}
    roles = frozenset(r for r in values.get(USER_ROLES, "").split(",") if r)
    who = Caller(values.get(USER_ID, ""), roles, values.get(CALLER_SERVICE, ""))
    trace = Trace.parse(values.get(TRACEPARENT, ""), values.get(TRACESTATE, ""))
    return values.get(REQUEST_ID) or new_request_id(), who, trace


def to_metadata(request_id: str, who: Caller, trace: Trace = NO_TRACE) -> list[tuple[str, str]]:
    metadata = [(REQUEST_ID, request_id or new_request_id()), *trace.pairs()]
    if who.user_id:
        metadata += [(USER_ID, who.user_id), (USER_ROLES, ",".join(sorted(who.roles)))]
    if who.service:
        metadata.append((CALLER_SERVICE, who.service))
    return metadata
