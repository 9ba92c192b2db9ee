"""gRPC server bootstrap: servicer + grpc.health.v1 + reflection + the kit's interceptor.

Health reports SERVING only while every readiness check (Mongo, Redis, RabbitMQ) passes.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mallkit import context
from mallkit.errors import ERROR_CODE_TRAILER, ERROR_DETAILS_TRAILER, STORE_UNREACHABLE, DomainError, Internal

log = logging.getLogger(__name__)

Check = Callable[[], None]


class KitInterceptor(grpc.ServerInterceptor):
    """Binds request id and caller from metadata, logs each call, maps DomainError to a status and an
    unreachable store (STORE_UNREACHABLE) to UNAVAILABLE `dependency_unavailable`."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        quiet = method.startswith("/grpc.")
        inner = handler.unary_unary

        def call(request, ctx: grpc.ServicerContext):
            rid, who, trace = context.from_metadata(ctx.invocation_metadata())
            remaining = ctx.time_remaining()  # calls this one makes need not outlive it
            until = time.monotonic() + remaining if remaining is not None else None
            with context.bound(rid, who, until, trace):
                started = time.perf_counter()
                outcome = "OK"
                try:
                    return inner(request, ctx)
                except Internal as exc:  # an upstream failure: the caller learns only the request id
                    outcome = "INTERNAL"
                    log.error("%s failed: %s", method, exc.message)
                    _abort_internal(ctx, rid)
                except DomainError as exc:
                    outcome = exc.status.name
                    _abort(ctx, rid, exc.status, exc.code, exc.message, exc.details)
                except STORE_UNREACHABLE as exc:
                    outcome = "UNAVAILABLE"
                    log.warning("%s: a store is unreachable: %r", method, exc)
                    _abort(ctx, rid, grpc.StatusCode.UNAVAILABLE, "dependency_unavailable", STORE_MESSAGE)
                except Exception:
                    if ctx.code() is not None:  # the servicer aborted on purpose
                        raise
                    outcome = "INTERNAL"
                    log.exception("unhandled error in %s", method)
                    _abort_internal(ctx, rid)
                finally:
                    if not quiet:
                        log.info(
                            "rpc %s %s",
                            method,
                            outcome,
                            extra={
                                "method": method,
                                "code": outcome,
                                "user_id": who.user_id,
                                "ms": round((time.perf_counter() - started) * 1000, 2),
                            },
                        )

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


STORE_MESSAGE = "a data store of the service is unavailable; retry shortly"
# gRPC clients refuse metadata past 8 KiB (some calls) and 16 KiB (all) as RESOURCE_EXHAUSTED, which would
# turn a refusal into "too many requests": details are a few ids, never that much.
MAX_DETAILS_CHARS = 1024


def _abort(
    ctx: grpc.ServicerContext, rid: str, status: grpc.StatusCode, code: str, message: str, details: dict | None = None
) -> None:
    trailers = [(ERROR_CODE_TRAILER, code), (context.REQUEST_ID, rid)]
    if details:  # ASCII JSON: metadata values must be printable ASCII
        encoded = json.dumps(details, separators=(",", ":"))
        if len(encoded) <= MAX_DETAILS_CHARS:
            trailers.append((ERROR_DETAILS_TRAILER, encoded))
        else:
            log.warning("details of %s left out: %d characters", code, len(encoded))
    ctx.set_trailing_metadata(tuple(trailers))
    ctx.abort(status, message)


def _abort_internal(ctx: grpc.ServicerContext, rid: str) -> None:
    _abort(ctx, rid, grpc.StatusCode.INTERNAL, "internal", f"internal error (request id {rid})")


def tcp_check(uri: str, default_port: int) -> Check:
    """Readiness check that the host:port in `uri` accepts TCP connections."""
    parsed = urlparse(uri)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port

    def check() -> None:
        with socket.create_connection((host, port), timeout=1):
            pass

    return check


def readiness_checks(amqp_uri: str, redis_ping: Check | None = None) -> dict[str, Check]:
    """What an API process needs to serve: Mongo, RabbitMQ (its outbox and its worker's events)
    and, where the service uses it, Redis."""
    from mallkit import mongo

    checks = {"mongo": mongo.ping, "rabbitmq": tcp_check(amqp_uri, 5672)}
    if redis_ping is not None:
        checks["redis"] = redis_ping
    return checks


@dataclass
class GrpcApp:
    """A configured server; `start()` for tests, `serve_forever()` for the process entrypoint."""

    name: str
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: list[str]
    checks: dict[str, Check]
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    check_interval: float = 2.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> GrpcApp:
        self.server.start()
        self.refresh_health()
        threading.Thread(target=self._watch_health, name="health", daemon=True).start()
        log.info("%s gRPC listening on :%d", self.name, self.port)
        return self

    def refresh_health(self) -> bool:
        failing = {}
        for check_name, check in self.checks.items():
            try:
                check()
            except Exception as exc:
                failing[check_name] = repr(exc)
        status = health_pb2.HealthCheckResponse.NOT_SERVING if failing else health_pb2.HealthCheckResponse.SERVING
        for service in ["", *self.service_names]:
            self.health.set(service, status)
        if failing:
            log.warning("not ready: %s", failing)
        return not failing

    def _watch_health(self) -> None:
        while not self._stop.wait(self.check_interval):
            self.refresh_health()

    def stop(self, grace: float = 5.0) -> None:
        self._stop.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for hook in self.on_stop:
            hook()

    def serve_forever(self) -> None:
        self.start()
        stopped = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %d: shutting down", signum)
            stopped.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stopped.wait()
        self.stop()


def build(
    *,
    name: str,
    port: int,
    register: Callable[[grpc.Server], None],
    service_names: list[str],
    checks: dict[str, Check],
    max_workers: int = 32,
    host: str = "0.0.0.0",
) -> GrpcApp:
    """`register(server)` adds the service's servicers; `service_names` are their full names."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name),
        interceptors=[KitInterceptor()],
        options=[("grpc.so_reuseport", 0)],
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot bind gRPC port {port}")
    return GrpcApp(name, server, bound, health_servicer, service_names, checks)
