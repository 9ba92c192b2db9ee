"""The README's curl flow (sign up, log in, open a store, buy in it, pay, see the order) runs as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from gateway.ratelimit import PREFIX, subject
from gateway.settings import DEV_BOOTSTRAP_ADMIN

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
FLOW = re.compile(r"<!-- curl-flow:start -->\s*```bash\n(.*?)```\s*<!-- curl-flow:end -->", re.S)


def readme_script() -> str:
    found = FLOW.search(README.read_text())
    assert found, "README.md lost its curl-flow block"
    return found.group(1)


def test_the_readme_curl_flow_runs_as_written(platform: Any, redis_url: str) -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        message = f"the README flow needs {', '.join(missing)} (apt-get install {' '.join(missing)})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Every run of the suite signs up from 127.0.0.1, and signs the admin phone up again (each run
    # has a fresh database), on the same Redis: start from empty sign-in and code buckets for both,
    # so back-to-back runs do not meet the previous run's limits.
    buckets = [subject(kind, "127.0.0.1") for kind in ("auth-ip", "code-ip")]
    buckets += [subject(kind, DEV_BOOTSTRAP_ADMIN) for kind in ("auth-phone", "code-phone")]
    redis.Redis.from_url(redis_url).delete(*(PREFIX + bucket for bucket in buckets))
    script = readme_script()
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "API": f"{platform.gateway}/api/v1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {"role": "brand", "status": "approved"}
    assert lines[1] == {"status": "approved"}  # the admin approved the product
    assert lines[2]["roles"] == ["consumer"]
    # the friend's store lists the tea at its own price, inside the brand's band
    assert lines[3] == {"title": "West Lake Longjing", "price": {"fen": 13800, "display": "¥138.00"}}
    assert lines[4]["price"] == {"fen": 12800, "display": "¥128.00"}  # the platform's suggested price
    assert lines[-2]["notify"] == {"status_code": 200, "body": {"code": "SUCCESS"}}
    order = lines[-1]
    assert order["status"] == "paid" and order["total"] == {"fen": 27600, "display": "¥276.00"}  # the store's price
    assert order["store_id"].startswith("sto_")
    assert order["paid_at"].endswith("Z")


# Answers like the gateway's while the code limit is spent: /auth/codes 429, the previous code still
# readable, sign-in refused; every URL asked for is logged.
RATE_LIMITED_CURL = """#!/usr/bin/env bash
for arg; do case $arg in http*) url=$arg ;; esac; done
echo "$url" >> "$CALLS"
case $url in
  */auth/codes) echo '{"code": "rate_limited"}'; echo 'curl: (22) The requested URL returned error: 429' >&2; exit 22 ;;
  */dev/codes/*) echo '{"code": "123456"}' ;;
  *) echo '{"code": "refused"}'; echo 'curl: (22) The requested URL returned error: 422' >&2; exit 22 ;;
esac
"""


def test_the_readme_curl_flow_stops_at_a_refused_code_request(tmp_path: Path) -> None:
    if shutil.which("bash") is None or shutil.which("jq") is None:
        pytest.skip("the README flow needs bash and jq")
    (tmp_path / "curl").write_text(RATE_LIMITED_CURL)
    (tmp_path / "curl").chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CALLS": str(calls), "API": "http://api"}
    done = subprocess.run(["bash", "-c", readme_script()], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "error: 429" in done.stderr and "error: 422" not in done.stderr, done.stderr
    asked = calls.read_text().split()
    assert asked[-1].endswith("/auth/codes") and not [url for url in asked if "/auth/register" in url], asked
