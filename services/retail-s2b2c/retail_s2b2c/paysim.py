"""The simulated payment provider, from a terminal: sends the signed asynchronous notify callback
for an order, as WeChat Pay / Alipay would after the buyer pays.

    python -m retail_s2b2c.paysim ORDER_ID AMOUNT_FEN [--notify-url URL] [--times N]

The signature is hex HMAC-SHA256 of the body with PAYMENT_HMAC_SECRET (dev default as the
services'); `--times` repeats the delivery, as providers do, to watch it stay idempotent.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime

import httpx

from retail_s2b2c.config import RetailSettings
from retail_s2b2c.domain.payments import sign


def callback(order_id: str, amount_fen: int, transaction_id: str) -> bytes:
    return json.dumps(
        {
            "out_trade_no": order_id,
            "transaction_id": transaction_id,
            "amount_fen": amount_fen,
            "status": "SUCCESS",
            "paid_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def main(argv: list[str]) -> int:
    settings = RetailSettings.from_env()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("order_id")
    parser.add_argument("amount_fen", type=int)
    parser.add_argument("--notify-url", default=settings.notify_url)
    parser.add_argument("--times", type=int, default=1)
    args = parser.parse_args(argv)
    body = callback(args.order_id, args.amount_fen, f"sim_{uuid.uuid4().hex}")
    headers = {"content-type": "application/json", "X-Pay-Signature": sign(body, settings.payment_secret)}
    ok = True
    for _ in range(args.times):
        reply = httpx.post(args.notify_url, content=body, headers=headers, timeout=10)
        print(reply.status_code, reply.text)
        ok &= reply.status_code == 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
