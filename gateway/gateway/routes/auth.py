"""Sign up and sign in: one-time codes, register, log in (code or password), refresh, log out, reset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from gateway import accounts, errors
from gateway.auth import client_ip, issue_token, public
from gateway.clients import Rpc
from gateway.codes import Codes
from gateway.documents import Account as AccountDocument
from gateway.ratelimit import RateLimiter, subject
from gateway.schemas import RequestBody
from gateway.settings import PHONE_REGEX, GatewaySettings, normalize_phone

router = APIRouter(prefix="/auth", tags=["auth"], responses=errors.COMMON)
Public = Annotated[Rpc, Depends(public)]

PHONE_EXAMPLE = "+8613912345678"
Phone = Annotated[
    str,
    StringConstraints(pattern=PHONE_REGEX),
    AfterValidator(normalize_phone),
    Field(
        description="E.164 (`+8613912345678`); an 11-digit mainland mobile number is read as +86.",
        examples=[PHONE_EXAMPLE],
    ),
]
Code = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{6}$"), Field(description="The 6-digit one-time code.", examples=["492817"])
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    Field(description="8 to 128 characters.", examples=["correct horse battery"]),
]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=128), Field(examples=["correct horse battery"])]
RefreshTokenValue = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    Field(description="The refresh token of the last sign-in or refresh.", examples=["rt_Jx3...Q"]),
]


class Account(BaseModel):
    id: str = Field(..., examples=["u_6650a1f2c3d4e5f6a7b8c9e0"])
    phone: str = Field(..., examples=[PHONE_EXAMPLE])
    roles: list[str] = Field(..., examples=[["consumer"]])
    has_password: bool = Field(..., examples=[True])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])

    @classmethod
    def of(cls, account: AccountDocument) -> Account:
        return cls(
            id=account.id,
            phone=account.phone,
            roles=sorted(account.roles),
            has_password=bool(account.password_hash),
            created_at=account.created_at,
        )


class Tokens(BaseModel):
    access_token: str = Field(..., examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"])
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(..., description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(
        ..., description="Single use: `POST /auth/refresh` spends it for the next pair.", examples=["rt_Jx3...Q"]
    )
    refresh_expires_in: int = Field(..., description="Seconds until the refresh token expires.", examples=[2592000])
    new_account: bool = Field(..., description="True when this sign-in created the account.", examples=[False])
    account: Account


class CodeRequest(RequestBody):
    phone: Phone


class CodeSent(BaseModel):
    phone: str = Field(..., examples=[PHONE_EXAMPLE])
    expires_in: int = Field(..., description="Seconds the code stays valid.", examples=[300])


class Registration(RequestBody):
    phone: Phone
    code: Code
    password: NewPassword | None = Field(None, description="Optional: also allow logging in with a password.")


class CodeLogin(RequestBody):
    phone: Phone
    code: Code


class PasswordLogin(RequestBody):
    phone: Phone
    password: AnyPassword


class RefreshRequest(RequestBody):
    refresh_token: RefreshTokenValue


class PasswordReset(RequestBody):
    phone: Phone
    code: Code
    new_password: NewPassword


def tokens(request: Request, session: accounts.Session) -> Tokens:
    settings: GatewaySettings = request.app.state.settings
    return Tokens(
        access_token=issue_token(settings, session.account.id, session.account.roles),
        expires_in=settings.access_token_ttl,
        refresh_token=session.refresh_token,
        refresh_expires_in=settings.refresh_token_ttl,
        new_account=session.created,
        account=Account.of(session.account),
    )


async def limit_sign_in(request: Request, phone: str = "", user_id: str = "") -> None:
    """A password or code guess, charged to the client's IP and to the account guessed at: by
    phone when signing in, by user id when a signed-in user confirms their password."""
    settings: GatewaySettings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    account = subject("auth-phone", phone) if phone else subject("auth-user", user_id)
    await limiter.hit(
        (settings.rate_limits.auth_ip, subject("auth-ip", client_ip(request))),
        (settings.rate_limits.auth_phone, account),
    )


def codes_of(request: Request) -> Codes:
    codes: Codes = request.app.state.codes
    return codes


DISABLED = {
    **errors.responses(401),
    **errors.answers(403, "Forbidden: the account is disabled.", "account_disabled", "this account is disabled"),
}
SIGN_IN = {**DISABLED, **errors.WRITE}


@router.post(
    "/codes",
    status_code=202,
    responses=errors.WRITE,
    summary="Send a one-time code to a phone (public)",
    description=(
        "The code (6 digits) is valid for 5 minutes and for 5 guesses; a new code replaces the previous one. "
        "One code per phone per minute. The answer is the same whether or not the phone has an account. "
        "In development the code is written to the gateway's log and readable at `GET /dev/codes/{phone}`."
    ),
)
async def send_code(body: CodeRequest, request: Request, _: Public) -> CodeSent:
    settings: GatewaySettings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        (settings.rate_limits.code_ip, subject("code-ip", client_ip(request))),
        (settings.rate_limits.code_phone, subject("code-phone", body.phone)),
    )
    await codes_of(request).send(body.phone)
    return CodeSent(phone=body.phone, expires_in=settings.code_ttl)


@router.post(
    "/register",
    status_code=201,
    responses=SIGN_IN,
    summary="Create an account with a phone code and an optional password (public)",
    description="409 `phone_taken` if the phone already has an account (log in instead). New accounts are consumers.",
)
async def register(body: Registration, request: Request, _: Public) -> Tokens:
    await limit_sign_in(request, body.phone)
    await codes_of(request).verify(body.phone, body.code)
    session = await run_in_threadpool(accounts.register, body.phone, body.password, request.app.state.settings)
    return tokens(request, session)


@router.post(
    "/login/code",
    responses=SIGN_IN,
    summary="Log in with a phone code; the first login creates the account (public)",
)
async def login_with_code(body: CodeLogin, request: Request, _: Public) -> Tokens:
    await limit_sign_in(request, body.phone)
    await codes_of(request).verify(body.phone, body.code)
    session = await run_in_threadpool(accounts.sign_in_with_code, body.phone, request.app.state.settings)
    return tokens(request, session)


@router.post(
    "/login/password",
    responses=SIGN_IN,
    summary="Log in with phone and password (public)",
    description="401 `invalid_credentials` for a wrong password, an unknown phone or an account without password.",
)
async def login_with_password(body: PasswordLogin, request: Request, _: Public) -> Tokens:
    await limit_sign_in(request, body.phone)
    session = await run_in_threadpool(
        accounts.sign_in_with_password, body.phone, body.password, request.app.state.settings
    )
    return tokens(request, session)


@router.post(
    "/refresh",
    responses=DISABLED,
    summary="Spend a refresh token for a new access and refresh token (public)",
    description=(
        "Refresh tokens are single use. Presenting one that was already spent revokes its whole session "
        "(401 `refresh_token_reused`): a copy is in someone else's hands, so every device of that sign-in "
        "must log in again. The new access token carries the account's current roles."
    ),
)
async def refresh(body: RefreshRequest, request: Request, _: Public) -> Tokens:
    session = await run_in_threadpool(accounts.refresh, body.refresh_token, request.app.state.settings)
    return tokens(request, session)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="End the session of a refresh token (public)",
    description="Its refresh tokens stop working at once; access tokens already issued expire on their own.",
)
async def logout(body: RefreshRequest, _: Public) -> Response:
    await run_in_threadpool(accounts.logout, body.refresh_token)
    return Response(status_code=204)


@router.post(
    "/password/reset",
    status_code=204,
    response_class=Response,
    responses=DISABLED,
    summary="Set a new password with a phone code; every session ends (public)",
)
async def reset_password(body: PasswordReset, request: Request, _: Public) -> Response:
    await limit_sign_in(request, body.phone)
    await codes_of(request).verify(body.phone, body.code)
    await run_in_threadpool(accounts.reset_password, body.phone, body.new_password)
    return Response(status_code=204)
