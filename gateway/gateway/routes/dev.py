"""Development-only helpers. `create_app` registers this router only when SOCIALMALL_ENV is not prod."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway import errors
from gateway.auth import Role, authenticated, issue_token, public
from gateway.clients import Rpc
from gateway.codes import Codes
from gateway.idempotency import IdempotencyKey, IdempotentRoute
from gateway.money import Money
from gateway.routes.payments import SIGNATURE_HEADER
from gateway.schemas import Id, RequestBody, path_id
from gateway.settings import PHONE_REGEX, GatewaySettings, normalize_phone
from mallkit.config import secret
from mallkit.errors import NotFound, Unavailable
from socialmall.retail.v1 import retail_pb2 as pb

router = APIRouter(prefix="/dev", tags=["dev"], responses=errors.COMMON, route_class=IdempotentRoute)

OrderId = Annotated[str, path_id("ord")]

NOTIFY_PATH = "/api/v1/payments/notify"


class TokenRequest(RequestBody):
    user_id: Id = Field(..., examples=["u_42"])
    # strict=False: in strict mode an enum accepts only enum instances, and JSON brings strings.
    roles: list[Annotated[Role, Field(strict=False)]] = Field(
        default_factory=list, max_length=len(Role), examples=[["consumer", "brand"]]
    )


class Token(BaseModel):
    access_token: str = Field(..., examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"])
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(..., description="Seconds until the token expires.", examples=[900])


class NotifyAnswer(BaseModel):
    status_code: int = Field(..., examples=[200])
    body: dict[str, Any] = Field(..., examples=[{"code": "SUCCESS"}])


class SimulatedPayment(BaseModel):
    order_id: str = Field(..., examples=["ord_6650a1f2c3d4e5f6a7b8c9d4"])
    payment_id: str = Field(..., examples=["pay_6650a1f2c3d4e5f6a7b8c9d5"])
    transaction_id: str = Field(..., examples=["sim_0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
    amount: Money
    notify: NotifyAnswer = Field(..., description="What the notify endpoint answered the simulated provider.")


class DevCode(BaseModel):
    phone: str = Field(..., examples=["+8613912345678"])
    code: str = Field(..., examples=["492817"])
    expires_in: int = Field(..., description="Seconds the code stays valid.", examples=[287])


def provider_http(request: Request) -> httpx.AsyncClient:
    """The simulated provider's HTTP client (base URL GATEWAY_PUBLIC_URL); tests override this."""
    client: httpx.AsyncClient = request.app.state.provider_http
    return client


@router.post(
    "/tokens",
    summary="Issue an access token for any user and roles (dev only)",
    dependencies=[Depends(public)],
)
async def issue_dev_token(body: TokenRequest, request: Request) -> Token:
    settings: GatewaySettings = request.app.state.settings
    token = issue_token(settings, body.user_id, body.roles)
    return Token(access_token=token, expires_in=settings.access_token_ttl)


@router.get(
    "/codes/{phone}",
    summary="The phone's current one-time code, as the SMS would bring it (dev only)",
    description="404 `code_not_found` when no code is waiting (never sent, used, expired or burnt).",
    responses=errors.responses(404),
)
async def read_code(
    phone: Annotated[str, Path(pattern=PHONE_REGEX, examples=["+8613912345678"])],
    request: Request,
    _: Annotated[Rpc, Depends(public)],
) -> DevCode:
    normalized = normalize_phone(phone)
    codes: Codes = request.app.state.codes
    found = await codes.peek(normalized)
    if found is None:
        raise NotFound(f"no code is waiting for {normalized}", "code_not_found")
    return DevCode(phone=normalized, code=found[0], expires_in=found[1])


@router.post(
    "/payments/{order_id}/simulate",
    summary="Pay an order through the simulated provider (dev only, authenticated)",
    description=(
        "Starts the payment (CreatePayment) to learn the amount, then plays the provider: signs a SUCCESS "
        "callback and POSTs it to this gateway's public notify endpoint over HTTP. A refused callback's error "
        "is returned as is."
    ),
    response_model=SimulatedPayment,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE, **errors.COMMON, **errors.forbidden("not_buyer")},
)
async def simulate_payment(
    order_id: OrderId,
    rpc: Annotated[Rpc, Depends(authenticated)],
    provider: Annotated[httpx.AsyncClient, Depends(provider_http)],
    _key: IdempotencyKey,
) -> SimulatedPayment | JSONResponse:
    payment = await rpc.retail("CreatePayment", pb.CreatePaymentRequest(order_id=order_id))
    transaction_id = f"sim_{uuid.uuid4().hex}"
    callback = {
        "out_trade_no": order_id,
        "transaction_id": transaction_id,
        "amount_fen": payment.amount.fen,
        "status": "SUCCESS",
        "paid_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    body = json.dumps(callback, separators=(",", ":")).encode()
    key = secret("PAYMENT_HMAC_SECRET", "dev-only-payment-secret").encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Request-ID": rpc.request_id,
    }
    try:
        answer = await provider.post(NOTIFY_PATH, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unavailable(f"the notify endpoint could not be reached: {exc!r}", "notify_unreachable") from exc
    try:
        answer_body = answer.json()
    except ValueError:
        answer_body = {"text": answer.text[:1000]}
    if not isinstance(answer_body, dict):
        answer_body = {"value": answer_body}
    if not answer.is_success:
        return JSONResponse(answer_body, status_code=answer.status_code, headers=_error_headers(answer))
    return SimulatedPayment(
        order_id=order_id,
        payment_id=payment.payment_id,
        transaction_id=transaction_id,
        amount=Money.from_pb(payment.amount),
        notify=NotifyAnswer(status_code=answer.status_code, body=answer_body),
    )


def _error_headers(answer: httpx.Response) -> dict[str, str]:
    return {name: answer.headers[name] for name in ("Retry-After", "WWW-Authenticate") if name in answer.headers}
