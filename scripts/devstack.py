"""The local runner behind `make run`, `make test` and `make seed`.

    python scripts/devstack.py run            # infra + Mongo dev server + 11 processes, until Ctrl-C
    python scripts/devstack.py pytest [ARGS]  # infra + a throwaway Mongo dev server, then pytest ARGS
    python scripts/devstack.py bench [NAMES]  # the same, then the benchmarks under bench/
    python scripts/devstack.py infra          # only make sure Redis and RabbitMQ answer

Redis and RabbitMQ are started if installed and down. MongoDB comes from MONGO_URI, else the
mongoeco wire server under a Python >= 3.13 found on this machine (installed into .venv-mongo).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MONGO_VENV = ROOT / ".venv-mongo"
MONGOECO = "mongoeco[wire]==4.11.0"
SERVICES = [  # (name, package, gRPC port, worker health port)
    ("retail", "retail_s2b2c", 50051, 8101),
    ("groupbuy", "groupbuy", 50052, 8102),
    ("content", "content", 50053, 8103),
    ("agent", "agent", 50054, 8104),
    ("guide", "guide", 50055, 8105),
]
GATEWAY_PORT = 8000
COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def busy_ports(offset: int) -> list[int]:
    """The platform's ports that cannot be bound now. Its gRPC ports lie in Linux's ephemeral
    range (32768-60999), where any outgoing connection may hold one for a while."""
    ports = [GATEWAY_PORT + offset] + [port + offset for _, _, grpc, health in SERVICES for port in (grpc, health)]
    busy = []
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                busy.append(port)
    return busy


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# ── infrastructure ──────────────────────────────────────────────────────────────────────────


def ensure_redis() -> None:
    if port_open(6379):
        return
    if not shutil.which("redis-server"):
        sys.exit("Redis is not running and not installed: `apt-get install redis-server` (or set REDIS_URL).")
    say("starting redis-server")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    if not wait_for(lambda: port_open(6379), 15):
        sys.exit("redis-server did not come up on 127.0.0.1:6379")


def ensure_rabbitmq() -> None:
    if port_open(5672):
        return
    if not shutil.which("rabbitmq-server"):
        sys.exit("RabbitMQ is not running and not installed: `apt-get install rabbitmq-server` (or set AMQP_URI).")
    say("starting rabbitmq-server (takes ~10 s)")
    subprocess.run(["rabbitmq-server", "-detached"], check=True)
    if not wait_for(lambda: port_open(5672), 90, 0.5):
        sys.exit("rabbitmq-server did not come up on 127.0.0.1:5672")


def ensure_infra() -> None:
    if not os.environ.get("REDIS_URL"):
        ensure_redis()
    if not os.environ.get("AMQP_URI"):
        ensure_rabbitmq()


def find_python313() -> str | None:
    names = ["python3.14", "python3.13"]
    candidates = [shutil.which(n) for n in names]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for pattern in ("3.14*", "3.13*"):
        candidates += sorted(glob.glob(f"{pyenv_root}/versions/{pattern}/bin/python3"), reverse=True)
    candidates += sorted(glob.glob("/usr/bin/python3.1[3-9]")) + sorted(glob.glob("/usr/local/bin/python3.1[3-9]"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 13))"], capture_output=True, text=True
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


NO_MONGO = """No MongoDB for the platform. Pick one:
  1. set MONGO_URI to a MongoDB you run (a replica set for production-like behaviour);
  2. install a Python >= 3.13 (e.g. `uv python install 3.13` or pyenv) so the runner can start
     the local mongoeco wire server;
  3. with Docker: `docker compose -f deploy/compose.yaml up`.
(In-process mongomock cannot serve the platform: the API and worker processes share a database.)"""


def mongo_server_python() -> Path:
    python = MONGO_VENV / "bin" / "python"
    stamp = MONGO_VENV / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text() == MONGOECO:
        return python
    base = find_python313()
    if base is None:
        sys.exit(NO_MONGO)
    say(f"creating {MONGO_VENV.name} with {MONGOECO} (Python {base})")
    subprocess.run([base, "-m", "venv", "--clear", str(MONGO_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", MONGOECO], check=True)
    stamp.write_text(MONGOECO)
    return python


def start_mongo(port: int, data_file: Path, log_file) -> subprocess.Popen:
    python = mongo_server_python()
    proc = subprocess.Popen(
        [str(python), str(ROOT / "scripts" / "mongo_devserver.py"), "--port", str(port), "--data", str(data_file)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if not wait_for(lambda: port_open(port) or proc.poll() is not None, 30) or proc.poll() is not None:
        sys.exit(f"the Mongo dev server did not start on port {port}")
    return proc


def mongo_uri(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


# ── platform processes ──────────────────────────────────────────────────────────────────────


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    ready_url: str
    ready: Callable[[], bool]
    popen: subprocess.Popen | None = None
    color: int = 0
    reported: bool = field(default=False)


def grpc_serving(port: int) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def platform_processes(offset: int, base_env: dict[str, str]) -> list[Proc]:
    procs: list[Proc] = []
    targets = {f"{name.upper()}_GRPC_TARGET": f"127.0.0.1:{grpc + offset}" for name, _, grpc, _ in SERVICES}
    gateway_port = GATEWAY_PORT + offset
    common = {
        **base_env,
        **targets,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "PAYMENT_NOTIFY_URL": f"http://127.0.0.1:{gateway_port}/api/v1/payments/notify",
    }
    for name, package, grpc_port, health_port in SERVICES:
        api_env = {**common, "GRPC_PORT": str(grpc_port + offset)}
        procs.append(
            Proc(
                f"{name}-api",
                ["-m", f"{package}.api"],
                api_env,
                f"grpc://127.0.0.1:{grpc_port + offset}",
                lambda p=grpc_port + offset: grpc_serving(p),
            )
        )
        worker_env = {**common, "HEALTH_PORT": str(health_port + offset)}
        url = f"http://127.0.0.1:{health_port + offset}/healthz"
        procs.append(
            Proc(
                f"{name}-worker",
                ["-m", "mallkit.worker", f"{package}.worker"],
                worker_env,
                url,
                lambda u=url: http_ok(u),
            )
        )
    url = f"http://127.0.0.1:{gateway_port}"
    procs.append(
        Proc(
            "gateway",
            ["-m", "gateway"],
            {**common, "GATEWAY_PORT": str(gateway_port)},
            url,
            lambda u=f"{url}/readyz": http_ok(u),
        )
    )
    for i, proc in enumerate(procs):
        proc.color = COLORS[i % len(COLORS)]
    return procs


def pump(proc: Proc, width: int) -> None:
    prefix = f"\033[{proc.color}m{proc.name:<{width}}\033[0m | " if sys.stdout.isatty() else f"{proc.name:<{width}} | "
    for raw in proc.popen.stdout:
        sys.stdout.write(prefix + raw.decode(errors="replace"))
        sys.stdout.flush()


def start(proc: Proc, width: int) -> None:
    proc.popen = subprocess.Popen(
        [PYTHON, *proc.args],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **proc.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    threading.Thread(target=pump, args=(proc, width), daemon=True).start()


def stop_all(procs: list[Proc], mongo: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc.popen and proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc.popen:
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
    if mongo and mongo.poll() is None:
        os.killpg(mongo.pid, signal.SIGTERM)
        mongo.wait(timeout=10)


def table(procs: list[Proc], mongo: str, offset: int) -> str:
    rows = [("process", "pid", "address")] + [(p.name, str(p.popen.pid), p.ready_url) for p in procs]
    rows += [
        ("mongo", "-", mongo),
        ("gateway API docs", "-", f"http://127.0.0.1:{GATEWAY_PORT + offset}/docs"),
        ("OpenAPI", "-", f"http://127.0.0.1:{GATEWAY_PORT + offset}/openapi.json"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {a:<{width}}  {b:>7}  {c}" for a, b, c in rows)


def run(offset: int, timeout: float) -> int:
    if busy := busy_ports(offset):
        say(f"ports {busy} are in use (another stack, or client sockets); choose another --port-offset")
        return 1
    ensure_infra()
    mongo_proc = None
    env = {"SOCIALMALL_ENV": os.environ.get("SOCIALMALL_ENV", "dev")}
    uri = os.environ.get("MONGO_URI")
    if not uri:
        port = 27017 + offset
        if port_open(port):
            say(f"a MongoDB already answers on {port}; using it")
        else:
            (ROOT / ".data").mkdir(exist_ok=True)
            log = (ROOT / ".data" / "mongo.log").open("ab")
            mongo_proc = start_mongo(port, ROOT / ".data" / "mongo" / "socialmall.sqlite3", log)
        uri = mongo_uri(port)
    env["MONGO_URI"] = uri
    procs = platform_processes(offset, env)
    width = max(len(p.name) for p in procs)
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    started = time.monotonic()
    for proc in procs:
        start(proc, width)
    pending = list(procs)
    while pending and not stopping.is_set() and time.monotonic() - started < timeout:
        pending = [p for p in pending if p.popen.poll() is None and not p.ready()]
        if any(p.popen.poll() is not None for p in procs):
            break
        time.sleep(0.3)
    crashed = [p for p in procs if p.popen.poll() is not None]
    if crashed or pending:
        for p in crashed:
            say(f"{p.name} exited with code {p.popen.returncode} during start-up (its log is above)")
        for p in pending:
            say(f"{p.name} was not healthy after {timeout:.0f}s ({p.ready_url})")
        stop_all(procs, mongo_proc)
        return 1
    if not stopping.is_set():
        say(f"all {len(procs)} processes healthy in {time.monotonic() - started:.1f}s\n{table(procs, uri, offset)}")
        say("Ctrl-C stops everything")
    code = 0
    while not stopping.is_set():
        for p in procs:
            if p.popen.poll() is not None and not p.reported:
                p.reported = True
                code = 1
                say(f"{p.name} CRASHED with exit code {p.popen.returncode}; not restarting it (see its log above)")
        stopping.wait(0.5)
    say("stopping")
    stop_all(procs, mongo_proc)
    return code


def rabbitmqctl(*args: str) -> bool:
    try:
        return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def throwaway_vhost() -> str | None:
    """A fresh RabbitMQ vhost, so this run's queues never meet a running `make run`'s (nameko's
    queue names are fixed per service) nor another test run's; None where rabbitmqctl cannot."""
    vhost = f"socialmall-test-{os.getpid()}"
    if rabbitmqctl("add_vhost", vhost) and rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        return vhost
    say("cannot create a RabbitMQ vhost with rabbitmqctl; tests share the default vhost")
    return None


def with_infra(command: list[str]) -> int:
    """Run `command` with Redis, RabbitMQ and a throwaway Mongo dev server (unless MONGO_URI is set).

    Without AMQP_URI, the run also gets a throwaway RabbitMQ vhost on the local broker."""
    ensure_infra()
    env = dict(os.environ)
    mongo_proc = None
    data = None
    vhost = None if env.get("AMQP_URI") else throwaway_vhost()
    if not env.get("MONGO_URI"):
        data = Path(tempfile.mkdtemp(prefix="socialmall-mongo-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        mongo_proc = start_mongo(port, data / "db.sqlite3", (data / "server.log").open("ab"))
        env["MONGO_URI"] = mongo_uri(port)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("AMQP_URI", f"amqp://guest:guest@127.0.0.1:5672/{vhost or ''}")
    try:
        return subprocess.call(command, env=env, cwd=ROOT)
    finally:
        if vhost:
            rabbitmqctl("delete_vhost", vhost)
        if mongo_proc:
            os.killpg(mongo_proc.pid, signal.SIGTERM)
            mongo_proc.wait(timeout=10)
        if data:
            shutil.rmtree(data, ignore_errors=True)


def run_pytest(args: list[str]) -> int:
    code = with_infra([PYTHON, "-m", "pytest", *args])
    (ROOT / ".data").mkdir(exist_ok=True)
    (ROOT / ".data" / "pytest-exit-code").write_text(str(code))
    if code == 5:
        say("pytest collected no tests (exit code 5): check the paths and markers you passed")
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="start the whole platform")
    run_cmd.add_argument("--port-offset", type=int, default=0, help="add this to every port (run two stacks)")
    run_cmd.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for every process to be healthy")
    sub.add_parser("infra", help="make sure Redis and RabbitMQ answer")
    sub.add_parser("mongo-python", help="print the Python that runs the Mongo dev server (installs it if needed)")
    test_cmd = sub.add_parser("pytest", help="run pytest with the infrastructure it needs")
    test_cmd.add_argument("args", nargs=argparse.REMAINDER)
    bench_cmd = sub.add_parser("bench", help="run benchmarks (all, or the names given) with the infrastructure")
    bench_cmd.add_argument("names", nargs="*")
    if sys.argv[1:2] == ["pytest"]:  # everything after it belongs to pytest, options included
        sys.exit(run_pytest(sys.argv[2:]))
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run(args.port_offset, args.timeout))
    if args.command == "infra":
        ensure_infra()
    elif args.command == "mongo-python":
        print(mongo_server_python())
    elif args.command == "bench":
        sys.exit(with_infra([PYTHON, str(ROOT / "bench" / "run.py"), *args.names]))


if __name__ == "__main__":
    main()
