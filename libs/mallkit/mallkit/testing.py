"""pytest fixtures for real infrastructure and real service processes, and a cuttable TCP proxy.

Each server comes from the environment (REDIS_URL, AMQP_URI, MONGO_URI); else from
testcontainers when a Docker engine runs; else the test fails with a message saying what to
start (it is skipped instead only outside CI, i.e. when CI is unset). Enable with
`pytest_plugins = ["mallkit.testing"]` in a conftest.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import mongoengine
import pika
import pika.exceptions
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mallkit import events, grpc_server, mongo
from mallkit.grpc_server import tcp_check
from mallkit.outbox import Publisher
from socialmall.common.v1 import attribution_pb2

HINT = "`make test` starts every server it needs; or set {var}."


def _unavailable(what: str, var: str) -> None:
    message = f"no {what} for the tests: {HINT.format(var=var)}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _from_container(factory: Callable[[], object], url_of: Callable[[object], str]) -> Iterator[str] | None:
    try:
        container = factory()
        container.start()
    except Exception:  # testcontainers raises in the constructor when no Docker engine runs
        return None

    def run() -> Iterator[str]:
        try:
            yield url_of(container)
        finally:
            container.stop()

    return run()


def _provide(var: str, what: str, probe: Callable[[str], bool], container: Callable[[], Iterator[str] | None]):
    url = os.environ.get(var)
    if url:
        if not probe(url):
            _unavailable(f"{what} answering at {var}={url}", var)
        yield url
        return
    started = container()
    if started is None:
        _unavailable(what, var)
    yield from started


def _redis_ok(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _tcp_ok(url: str) -> bool:
    try:
        tcp_check(url, 5672)()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    def container():
        from testcontainers.redis import RedisContainer

        return _from_container(
            lambda: RedisContainer("redis:7"),
            lambda c: f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(6379)}/0",
        )

    yield from _provide("REDIS_URL", "Redis", _redis_ok, container)


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    def container():
        from testcontainers.rabbitmq import RabbitMqContainer

        return _from_container(
            lambda: RabbitMqContainer("rabbitmq:3.13"),
            lambda c: f"amqp://guest:guest@{c.get_container_host_ip()}:{c.get_exposed_port(5672)}/",
        )

    yield from _provide("AMQP_URI", "RabbitMQ", _tcp_ok, container)


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    def container():
        from testcontainers.mongodb import MongoDbContainer

        return _from_container(lambda: MongoDbContainer("mongo:7"), lambda c: c.get_connection_url())

    yield from _provide("MONGO_URI", "MongoDB wire server", mongo.reachable, container)


@pytest.fixture
def mongo_db(mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """mongoengine's default connection on a fresh database, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    mongo.connect(name)
    yield name
    with contextlib.suppress(Exception):
        mongoengine.get_connection().drop_database(name)
    mongoengine.disconnect()


@pytest.fixture
def infra_env(mongo_uri: str, redis_url: str, amqp_uri: str) -> dict[str, str]:
    """Environment for child processes, pointing at the same servers as the test."""
    return {"MONGO_URI": mongo_uri, "REDIS_URL": redis_url, "AMQP_URI": amqp_uri, "SOCIALMALL_ENV": "dev"}


ATTRIBUTION_FIELDS = tuple(f.name for f in attribution_pb2.Attribution.DESCRIPTOR.fields)


def order_paid_event(
    order_id: str,
    *,
    total_fen: int = 1990,
    buyer_id: str = "u_buyer",
    sku_id: str = "sku_1",
    idempotency_key: str = "",
    **attribution: str,
) -> dict:
    """retail's order_paid envelope as its consumers receive it, one line of one unit (what retail
    really raises is pinned against every consumer by tests/contract/test_order_paid_contract.py)."""
    unknown = set(attribution) - set(ATTRIBUTION_FIELDS)
    if unknown:
        raise TypeError(f"not attribution fields: {sorted(unknown)}")
    return events.new_event(
        "retail",
        "order_paid",
        {
            "order_id": order_id,
            "buyer_id": buyer_id,
            "total_fen": total_fen,
            "items": [{"sku_id": sku_id, "quantity": 1, "unit_price_fen": total_fen, "amount_fen": total_fen}],
            "attribution": {field: attribution.get(field, "") for field in ATTRIBUTION_FIELDS},
            "idempotency_key": idempotency_key or order_id,  # retail stores the order id for no key
            "transaction_id": f"tx_{order_id}",
            "paid_at": datetime.now(UTC).isoformat(),
        },
    )


class NoRelay:
    """An outbox relay for servicers under test: the events stay in the documents' outboxes."""

    def nudge(self, *written: object) -> None:
        pass


@contextlib.contextmanager
def grpc_test_server(register: Callable[[grpc.Server], None]) -> Iterator[str]:
    """An in-process gRPC server with the kit's bootstrap (so errors map as in production) on a
    free port; yields its target."""
    app = grpc_server.build(name="test", port=0, host="127.0.0.1", register=register, service_names=[], checks={})
    app.start()
    try:
        yield f"127.0.0.1:{app.port}"
    finally:
        app.stop(grace=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_serving(target: str, timeout: float = 30.0, service: str = "") -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{target} did not report SERVING within {timeout}s")


def wait_http_ok(url: str, timeout: float = 30.0, process: ServiceProcess | None = None) -> None:
    """Wait for `url` to answer 200 (a worker's /healthz); fail early if `process` died."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.process.returncode}:\n{process.log()}")
        try:
            with opener.open(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


def publish_events(amqp_uri: str, source: str, envelopes: list[dict], timeout: float = 10.0) -> None:
    """Publish as the outbox relay does (the same Publisher: confirmed, mandatory, persistent),
    retrying while no queue is bound yet, since the broker would otherwise drop the message."""
    publisher = Publisher(amqp_uri, source)
    deadline = time.monotonic() + timeout
    try:
        for envelope in envelopes:
            while True:
                try:
                    publisher.publish(envelope)
                    break
                except pika.exceptions.UnroutableError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
    finally:
        publisher.close()


@dataclass
class ServiceProcess:
    """A real OS process of the platform (an API, a worker, the gateway) started by a test."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """`spawn(name, [args...], env)` starts `python args...` and stops it after the test."""
    started: list[ServiceProcess] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> ServiceProcess:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        proc = ServiceProcess(name, process, log_path)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def start_worker(spawn: Callable[..., ServiceProcess], infra_env: dict[str, str]) -> Callable[..., ServiceProcess]:
    """`start_worker("groupbuy", {"MONGO_DB": db})` runs `python -m mallkit.worker groupbuy.worker`
    against the test's servers and returns once its /healthz answers."""

    def start(package: str, env: dict[str, str]) -> ServiceProcess:
        port = free_port()
        worker = spawn(
            f"{package}-worker",
            ["-m", "mallkit.worker", f"{package}.worker"],
            {**infra_env, "HEALTH_PORT": str(port), **env},
        )
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process=worker)
        return worker

    return start


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()

    def start(self) -> TcpProxy:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and drop the open ones (a stall ends: its pipes see them closed)."""
        self._flowing.set()
        with self._lock:
            if self._listener:
                # shutdown wakes the accept() blocked in another thread; close alone does not
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    restore = start

    def stall(self) -> None:
        """Hold every byte from now on, connections left open: a server that stops answering."""
        self._flowing.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self._flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()
