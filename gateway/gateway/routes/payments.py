"""Retail payments: start a payment, and the payment provider's notify callback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import authenticated, public_provider_callback
from gateway.clients import Rpc
from gateway.idempotency import IdempotencyKey, IdempotentRoute
from gateway.money import Money
from gateway.schemas import path_id
from mallkit.errors import Unauthenticated
from socialmall.retail.v1 import retail_pb2 as pb

router = APIRouter(tags=["payments"], responses=errors.COMMON, route_class=IdempotentRoute)

OrderId = Annotated[str, path_id("ord")]

MAX_NOTIFY_BYTES = 64 * 1024
SIGNATURE_HEADER = "X-Pay-Signature"


class Payment(BaseModel):
    payment_id: str = Field(..., examples=["pay_6650a1f2c3d4e5f6a7b8c9d5"])
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    amount: Money
    provider_params: dict[str, str] = Field(
        ...,
        description="What the client hands to the payment provider's SDK.",
        examples=[{"provider": "simulated", "prepay_id": "pay_6650a1f2c3d4e5f6a7b8c9d5", "nonce": "9f8e7d6c5b4a3f2e"}],
    )

    @classmethod
    def from_pb(cls, reply: pb.CreatePaymentResponse) -> Payment:
        return cls(
            payment_id=reply.payment_id,
            order_id=reply.order_id,
            amount=Money.from_pb(reply.amount),
            provider_params=dict(reply.provider_params),
        )


class NotifyAck(BaseModel):
    code: str = Field(..., description="The acknowledgement the provider expects.", examples=["SUCCESS"])


@router.post(
    "/orders/{order_id}/payments",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.forbidden("not_buyer")},
    summary="Start paying an order (authenticated)",
)
async def create_payment(
    order_id: OrderId, rpc: Annotated[Rpc, Depends(authenticated)], _key: IdempotencyKey
) -> Payment:
    reply = await rpc.retail("CreatePayment", pb.CreatePaymentRequest(order_id=order_id))
    return Payment.from_pb(reply)


@router.post(
    "/payments/notify",
    summary="The payment provider's callback (public; trusted only by its signature)",
    description=(
        "The raw body and the `X-Pay-Signature` header (hex HMAC-SHA256 of the body) go to retail verbatim; "
        'retail verifies them. Answers `{"code": "SUCCESS"}` once the payment is recorded, also for repeats.'
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "out_trade_no": "ord_6650a1f2c3d4e5f6a7b8c9d4",
                        "transaction_id": "sim_0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                        "amount_fen": 3980,
                        "status": "SUCCESS",
                        "paid_at": "2025-01-31T08:05:00Z",
                    },
                }
            },
        }
    },
    responses=errors.responses(400, 401, 409, 413),
)
async def payment_notify(
    request: Request,
    rpc: Annotated[Rpc, Depends(public_provider_callback)],
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            max_length=256,
            examples=["5d41402abc4b2a76b9719d911017c592ae3d8c1f0e2b7a6d9c8e7f6a5b4c3d2e"],
        ),
    ] = None,
) -> NotifyAck:
    if int(request.headers.get("content-length") or 0) > MAX_NOTIFY_BYTES:
        raise HTTPException(413, "the callback body is too large")
    body = await request.body()
    if len(body) > MAX_NOTIFY_BYTES:
        raise HTTPException(413, "the callback body is too large")
    if not signature:
        raise Unauthenticated(f"the {SIGNATURE_HEADER} header is required", "missing_signature")
    reply = await rpc.retail("HandlePaymentNotify", pb.HandlePaymentNotifyRequest(body=body, signature=signature))
    return NotifyAck(code=reply.ack or "SUCCESS")
