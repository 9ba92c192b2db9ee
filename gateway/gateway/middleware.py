"""Request id, trace and access log, as plain ASGI middleware (no body buffering, works for every response)."""

from __future__ import annotations

import logging
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mallkit import context

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is reused only if it is harmless in logs and headers; anything else gets a fresh one.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("gateway.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if VALID_REQUEST_ID.match(incoming) else context.new_request_id()
        # a W3C trace the caller started goes on to every service; one that is not well formed is dropped
        trace = context.Trace.parse(headers.get(context.TRACEPARENT, ""), headers.get(context.TRACESTATE, ""))
        state = scope.setdefault("state", {})
        state["request_id"] = rid  # read by the auth dependencies and the error handlers
        state["trace"] = trace
        status = 500  # if the app raises before answering, the outer error handler answers 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                echoed = MutableHeaders(scope=message)
                echoed[REQUEST_ID_HEADER] = rid
                for name, value in trace.pairs():
                    echoed[name] = value
            await send(message)

        with context.bound(rid, trace=trace):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                access_log.info(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "request_id": rid,
                        "http_method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "user_id": state.get("user_id", ""),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
