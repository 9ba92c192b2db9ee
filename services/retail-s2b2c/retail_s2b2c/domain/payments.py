"""The payment provider's notify callback: signature and content rules.

The simulated provider signs the raw JSON body with HMAC-SHA256 (hex), as WeChat Pay and
Alipay sign theirs; the callback is trusted only if the signature and the amount match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from mallkit.errors import InvalidArgument, Unauthenticated

SUCCESS_ACK = "SUCCESS"


@dataclass(frozen=True)
class PaymentNotice:
    order_id: str
    transaction_id: str
    amount_fen: int
    status: str


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str) -> PaymentNotice:
    if not hmac.compare_digest(sign(body, secret), signature.strip().lower()):
        raise Unauthenticated("payment callback signature does not match", "invalid_signature")
    try:
        raw = json.loads(body)
        notice = PaymentNotice(
            order_id=str(raw["out_trade_no"]),
            transaction_id=str(raw["transaction_id"]),
            amount_fen=int(raw["amount_fen"]),
            status=str(raw["status"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"payment callback body is malformed: {exc}", "malformed_callback") from exc
    if notice.status != "SUCCESS":
        raise InvalidArgument(f"unsupported payment status {notice.status!r}", "unsupported_payment_status")
    return notice


def check_amount(notice: PaymentNotice, order_total_fen: int) -> None:
    if notice.amount_fen != order_total_fen:
        raise InvalidArgument(
            f"paid amount {notice.amount_fen} fen does not match the order total {order_total_fen} fen",
            "amount_mismatch",
        )


def simulated_refund_id(key: str) -> str:
    """The simulated provider's refund id for a refund keyed by `key`: the same key, the same refund."""
    return "simrf_" + hashlib.sha256(key.encode()).hexdigest()[:24]
