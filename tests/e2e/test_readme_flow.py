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
