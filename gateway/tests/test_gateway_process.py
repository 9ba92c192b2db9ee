"""`python -m gateway` as a real process: serves HTTP, logs JSON, and the simulated provider goes over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.tests.conftest import PAYMENT_SECRET
from gateway.tests.gateway_fakes import PAYMENT_AMOUNT_FEN, Plan


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gateway_process(base_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gateway.log"
    env = {**os.environ, **base_env, "GATEWAY_PORT": str(port), "GATEWAY_PUBLIC_URL": url, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gateway did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_python_m_gateway_serves_and_pays_over_http(gateway_process: tuple[str, Path], plan: Plan) -> None:
    url, log_path = gateway_process
    with httpx.Client(base_url=url, trust_env=False, timeout=5) as http:
        assert http.get("/readyz").json()["status"] == "ready"
        token = http.post("/api/v1/dev/tokens", json={"user_id": "u_buyer", "roles": ["consumer"]}).json()
        paid = http.post(
            "/api/v1/dev/payments/ord_1/simulate",
            headers={"Authorization": f"Bearer {token['access_token']}", "X-Request-ID": "proc-sim-1"},
        )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notify"]["body"] == {"code": "SUCCESS"}
    (notify,) = plan.calls_to("HandlePaymentNotify")
    assert json.loads(notify.request.body)["amount_fen"] == PAYMENT_AMOUNT_FEN
    assert (
        notify.request.signature == hmac.new(PAYMENT_SECRET.encode(), notify.request.body, hashlib.sha256).hexdigest()
    )

    time.sleep(0.2)  # let the process flush its last access lines
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "gateway.access" and line["request_id"] == "proc-sim-1"]
    assert sorted(line["path"] for line in access) == ["/api/v1/dev/payments/ord_1/simulate", "/api/v1/payments/notify"]
    assert all(line["service"] == "gateway" for line in lines)
