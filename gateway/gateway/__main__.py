"""`python -m gateway`: serve the gateway with uvicorn on GATEWAY_PORT (default 8000)."""

from __future__ import annotations

import uvicorn

from gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings.from_env()
    # log_config=None keeps the kit's JSON logging; the gateway writes its own access log.
    uvicorn.run("gateway.app:app", host="0.0.0.0", port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
