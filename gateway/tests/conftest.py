"""Gateway test fixtures: fake gRPC services in this process and a TestClient per test.

The gateway's own stores are real: Redis (`redis_url`) and a fresh Mongo database per test
(`mongo_db`). Rate limits are off unless a test turns them on; each client has its own address, so
per-IP buckets never carry over between tests (or runs sharing one Redis).
"""

from __future__ import annotations

import socket
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

# Starlette nudges towards httpx2; the TestClient works with the pinned httpx.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient` is deprecated")

from fastapi.testclient import TestClient  # noqa: E402

from gateway.app import create_app  # noqa: E402
from gateway.auth import issue_token  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from gateway.tests.gateway_fakes import FakeService, Plan, start_fakes  # noqa: E402

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"
PAYMENT_SECRET = "test-payment-secret"
# generous: the fake services answer in process, and on a loaded 2-core runner a reply took 0.6 s
DEADLINE_SECONDS = 2.0
LIMITS_OFF = {f"RATE_LIMIT_{name}": "off" for name in ("IP", "USER", "AUTH_IP", "AUTH_PHONE", "CODE_IP", "CODE_PHONE")}


@pytest.fixture(scope="session")
def plan() -> Plan:
    return Plan()


@pytest.fixture(scope="session")
def fakes(plan: Plan) -> Iterator[dict[str, FakeService]]:
    services = start_fakes(plan)
    yield services
    plan.release.set()
    for service in services.values():
        service.server.stop(0)


@pytest.fixture(autouse=True)
def fresh_plan(plan: Plan, fakes: dict[str, FakeService]) -> Iterator[Plan]:
    plan.reset()
    for service in fakes.values():
        service.set_serving(True)
    yield plan
    plan.release.set()


@pytest.fixture
def base_env(fakes: dict[str, FakeService], mongo_uri: str, mongo_db: str, redis_url: str) -> dict[str, str]:
    env = {f"{name.upper()}_GRPC_TARGET": service.target for name, service in fakes.items()}
    return {
        **env,
        **LIMITS_OFF,
        "SOCIALMALL_ENV": "dev",
        "JWT_SECRET": JWT_SECRET,
        "PAYMENT_HMAC_SECRET": PAYMENT_SECRET,
        "GRPC_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
        "MONGO_URI": mongo_uri,
        "MONGO_DB": mongo_db,
        "REDIS_URL": redis_url,
        "BOOTSTRAP_ADMIN_PHONES": "",
    }


@pytest.fixture
def make_client(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """`make_client(env_overrides)` builds the app from the environment and runs its lifespan;
    `make_client(ip="...")` chooses the client's address (default: one of its own)."""
    opened: list[TestClient] = []

    def make(overrides: dict[str, str] | None = None, ip: str | None = None) -> TestClient:
        for key, value in {**base_env, **(overrides or {})}.items():
            monkeypatch.setenv(key, value)
        address = ip or f"test-{uuid.uuid4().hex[:12]}"
        client = TestClient(create_app(configure_logging=False), follow_redirects=False, client=(address, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def settings(client: TestClient) -> GatewaySettings:
    value: GatewaySettings = client.app.state.settings  # type: ignore[attr-defined]
    return value


@pytest.fixture
def auth(settings: GatewaySettings) -> Callable[..., dict[str, str]]:
    """`auth("u_1", "brand")`: the Authorization header of a valid token."""

    def headers(user_id: str = "u_1", *roles: str, issued: datetime | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, user_id, roles, issued)}"}

    return headers


def closed_port_target() -> str:
    """host:port where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def long_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def new_phone() -> str:
    """A phone no other test (or run sharing this Redis) uses: codes and limits are per phone."""
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def new_key() -> str:
    """An Idempotency-Key of its own: stored replies outlive the test run by a day."""
    return f"test-{uuid.uuid4().hex}"
