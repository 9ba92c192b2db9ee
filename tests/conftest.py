"""Cross-service fixtures: the whole platform started by the same runner as `make run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pymongo
import pytest
from pymongo.database import Database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from devstack import GATEWAY_PORT, busy_ports  # noqa: E402

# beside a developer's own `make run` (offset 0), at the first offset whose ports are all free
PORT_OFFSETS = range(300, 2000, 100)
# per-call access lines; what is left (workers, relays, domain logs, warnings) says what happened
ACCESS_LOGGERS = ('"logger": "gateway.access"', '"logger": "mallkit.grpc_server"')


@dataclass(frozen=True)
class Platform:
    gateway: str
    offset: int
    log: Path

    def token(self, user_id: str, *roles: str) -> dict[str, str]:
        reply = httpx.post(f"{self.gateway}/api/v1/dev/tokens", json={"user_id": user_id, "roles": list(roles)})
        reply.raise_for_status()
        return {"authorization": f"Bearer {reply.json()['access_token']}"}

    def approved_sku(self, title: str, price_fen: int, stock: int, brand_user: str = "") -> dict:
        """A new brand (owned by `brand_user`, else a new user) with one product of one SKU,
        approved by an admin so it sells; returns the SKU."""
        api = f"{self.gateway}/api/v1"
        tag = uuid.uuid4().hex[:8]
        brand_auth = self.token(brand_user or f"u_brand_{tag}", "brand")
        brand = httpx.post(f"{api}/brands", json={"name": f"{title} {tag}"}, headers=brand_auth)
        assert brand.status_code == 201, brand.text
        sku = {"spec": "standard", "price_fen": price_fen, "supply_price_fen": price_fen * 6 // 10, "stock": stock}
        body = {"brand_id": brand.json()["id"], "title": title, "category": "tea", "skus": [sku]}
        product = httpx.post(f"{api}/products", json=body, headers=brand_auth)
        assert product.status_code == 201, product.text
        review = httpx.post(
            f"{api}/admin/products/{product.json()['id']}/review",
            json={"approve": True},
            headers=self.token(f"u_admin_{tag}", "admin"),
        )
        assert review.status_code == 200, review.text
        return review.json()["skus"][0]

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the platform logged, access lines left out, each cut to 400 characters."""
        kept = [
            line[:400]
            for line in self.log.read_text(errors="replace").splitlines()
            if not any(logger in line for logger in ACCESS_LOGGERS)
        ]
        return "\n".join(kept[-lines:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that ran against the platform reports what the platform logged last: its
    workers act on events asynchronously, so the cause of a wrong state is often only there."""
    report = yield
    platform = getattr(item, "funcargs", {}).get("platform")
    if report.when == "call" and report.failed and isinstance(platform, Platform):
        report.sections.append(("platform log (last lines, access lines left out)", platform.log_tail()))
    return report


@pytest.fixture
def wire_db(mongo_db: str, mongo_uri: str) -> Iterator[Database]:
    """The test's database through a plain pymongo client, for tests of the wire server itself."""
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri)
    yield client[mongo_db]
    client.close()


PLATFORM_START_ATTEMPTS = 3


def _start_platform(offset: int, env: dict[str, str], log: Path) -> subprocess.Popen | None:
    """`devstack run` on `offset`, once every process is healthy; None (stopped) if it did not come up."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "scripts/devstack.py", "run", "--port-offset", str(offset), "--timeout", "90"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 100
    while "processes healthy" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return None
        time.sleep(0.5)
    return proc


@pytest.fixture(scope="session")
def platform(mongo_uri: str, redis_url: str, amqp_uri: str, tmp_path_factory) -> Iterator[Platform]:
    log = tmp_path_factory.mktemp("platform") / "platform.log"
    env = {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "REDIS_URL": redis_url,
        "AMQP_URI": amqp_uri,
        "SOCIALMALL_ENV": "dev",
        "LOG_LEVEL": "INFO",
    }
    tried: list[int] = []
    while True:
        offset = next(offset for offset in PORT_OFFSETS if offset not in tried and not busy_ports(offset))
        tried.append(offset)
        proc = _start_platform(offset, env, log)
        if proc is not None:
            break
        started = log.read_text(errors="replace")
        # its gRPC ports lie in the ephemeral range: a connection may take one between the check and
        # the bind (seen in CI); another offset is tried then, and nothing else is retried
        if "Failed to bind" not in started or len(tried) == PLATFORM_START_ATTEMPTS:
            pytest.fail(f"the platform did not come up:\n{started[-6000:]}", pytrace=False)
    yield Platform(f"http://127.0.0.1:{GATEWAY_PORT + offset}", offset, log)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
