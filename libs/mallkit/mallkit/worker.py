"""Run a service's nameko worker: `python -m mallkit.worker <package>.worker`.

The module names a nameko service class `Worker` and a `setup()` that connects its stores.
eventlet is monkey-patched here, before anything else is imported, so service code never
touches eventlet itself. The process serves `GET /healthz` on HEALTH_PORT for probes.
"""

import eventlet

eventlet.monkey_patch()

import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import eventlet.wsgi  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from mallkit import logs  # noqa: E402
from mallkit.config import KitSettings, env_int  # noqa: E402

log = logging.getLogger("mallkit.worker")


def nameko_config(settings: KitSettings) -> dict[str, object]:
    return {"AMQP_URI": settings.amqp_uri, "serializer": "json", "max_workers": env_int("WORKER_CONCURRENCY", 10)}


def health_app(runner: ServiceRunner):
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/healthz":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"status": "not_found"}']
        running = all(container.started for container in runner.containers)
        start_response("200 OK" if running else "503 Service Unavailable", [("Content-Type", "application/json")])
        return [json.dumps({"status": "ok" if running else "starting"}).encode()]

    return app


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m mallkit.worker <package>.worker")
    module = importlib.import_module(argv[0])
    settings = KitSettings.from_env()
    logs.configure(module.Worker.name, settings.log_level)
    module.setup()
    runner = ServiceRunner(nameko_config(settings))
    runner.add_service(module.Worker)
    runner.start()
    port = env_int("HEALTH_PORT", 8100)
    listener = eventlet.listen(("0.0.0.0", port))
    eventlet.spawn(eventlet.wsgi.server, listener, health_app(runner), log_output=False)
    log.info("worker %s running; health on :%d", module.Worker.name, port)

    stop = eventlet.event.Event()

    def on_signal(signum, _frame):
        if not stop.ready():
            stop.send(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    log.info("stopping worker %s", module.Worker.name)
    runner.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
