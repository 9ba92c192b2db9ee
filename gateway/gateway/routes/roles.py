"""The caller's account and roles; role applications and their approval by an admin."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway import accounts, errors
from gateway.auth import authenticated, role
from gateway.clients import Rpc
from gateway.documents import ApplicationStatus, RoleApplication
from gateway.roles import Role
from gateway.routes.auth import Account, AnyPassword, NewPassword, Tokens, limit_sign_in, tokens
from gateway.schemas import Cursor, Limit, Page, RequestBody, path_id
from mallkit import paging

router = APIRouter(tags=["accounts"], responses=errors.COMMON)
Authenticated = Annotated[Rpc, Depends(authenticated)]
Admin = Annotated[Rpc, Depends(role(Role.ADMIN))]
ApplicationId = Annotated[str, path_id("app")]


class SelfRole(StrEnum):
    STORE_OWNER = Role.STORE_OWNER.value
    CREATOR = Role.CREATOR.value


class ApprovedRole(StrEnum):
    BRAND = Role.BRAND.value
    KOL = Role.KOL.value
    AGENT = Role.AGENT.value
    ADMIN = Role.ADMIN.value


class Status(StrEnum):
    PENDING = ApplicationStatus.PENDING
    APPROVED = ApplicationStatus.APPROVED
    REJECTED = ApplicationStatus.REJECTED


class PasswordChange(RequestBody):
    current_password: AnyPassword
    new_password: NewPassword


class NewSelfRole(RequestBody):
    # strict=False: in strict mode an enum accepts only enum instances, and JSON brings strings.
    role: SelfRole = Field(..., strict=False, examples=["store_owner"])


class NewApplication(RequestBody):
    role: ApprovedRole = Field(..., strict=False, examples=["brand"])
    note: str = Field("", max_length=500, description="What the admin should know.", examples=["We make Longjing tea."])


class Approval(RequestBody):
    reason: str = Field("", max_length=500, examples=["business licence checked"])


class Rejection(RequestBody):
    reason: str = Field(..., min_length=1, max_length=500, examples=["no business licence attached"])


class Application(BaseModel):
    id: str = Field(..., examples=["app_6650a1f2c3d4e5f6a7b8c9e1"])
    user_id: str = Field(..., examples=["u_6650a1f2c3d4e5f6a7b8c9e0"])
    role: str = Field(..., examples=["brand"])
    note: str = Field(..., examples=["We make Longjing tea."])
    status: str = Field(..., description="pending, approved or rejected.", examples=["pending"])
    reason: str | None = Field(..., description="The admin's reason, once decided.", examples=[None])
    decided_by: str | None = Field(..., examples=[None])
    created_at: datetime | None = Field(..., examples=["2025-01-31T08:00:00Z"])
    decided_at: datetime | None = Field(..., examples=[None])

    @classmethod
    def of(cls, application: RoleApplication) -> Application:
        return cls(
            id=application.id,
            user_id=application.user_id,
            role=application.role,
            note=application.note or "",
            status=application.status,
            reason=application.reason,
            decided_by=application.decided_by,
            created_at=application.created_at,
            decided_at=application.decided_at,
        )


StatusFilter = Annotated[Status | None, Query(description="Only applications in this state.", examples=["pending"])]


def page_of(found: list[RoleApplication], limit: int) -> Page[Application]:
    return Page[Application](
        items=[Application.of(a) for a in found], next_cursor=paging.next_cursor([a.id for a in found], limit) or None
    )


@router.get("/me", responses=errors.NEEDS_TOKEN, summary="The caller's account (authenticated)")
async def me(rpc: Authenticated) -> Account:
    return Account.of(await run_in_threadpool(accounts.get_account, rpc.caller.user_id))


@router.post(
    "/me/password",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Change the password; every other session ends (authenticated)",
    description=(
        "403 `invalid_credentials` if the current password is wrong. Answers a fresh token pair. "
        "Guesses count against the same limits as signing in (429)."
    ),
)
async def change_password(body: PasswordChange, request: Request, rpc: Authenticated) -> Tokens:
    await limit_sign_in(request, user_id=rpc.caller.user_id)  # a stolen access token must not guess freely
    session = await run_in_threadpool(
        accounts.change_password,
        rpc.caller.user_id,
        body.current_password,
        body.new_password,
        request.app.state.settings,
    )
    return tokens(request, session)


@router.post(
    "/me/roles",
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Take a free role: store_owner or creator (authenticated)",
    description="Tokens issued from now on carry it: `POST /auth/refresh` for one at once.",
)
async def add_role(body: NewSelfRole, rpc: Authenticated) -> Account:
    return Account.of(await run_in_threadpool(accounts.add_self_role, rpc.caller.user_id, body.role.value))


@router.post(
    "/role-applications",
    status_code=201,
    responses={**errors.NEEDS_TOKEN, **errors.WRITE},
    summary="Apply for brand, kol, agent or admin; an admin decides (authenticated)",
    description="409 `application_pending` while an application for the role waits; 409 `role_already_held`.",
)
async def apply(body: NewApplication, rpc: Authenticated) -> Application:
    found = await run_in_threadpool(accounts.apply_for_role, rpc.caller.user_id, body.role.value, body.note)
    return Application.of(found)


@router.get(
    "/me/role-applications",
    responses=errors.NEEDS_TOKEN,
    summary="The caller's role applications, oldest first (authenticated)",
)
async def my_applications(
    rpc: Authenticated, status: StatusFilter = None, cursor: Cursor = None, limit: Limit = 20
) -> Page[Application]:
    page = paging.parse(cursor or "", limit)
    found = await run_in_threadpool(
        accounts.list_applications, rpc.caller.user_id, status.value if status else None, page.after_id, page.limit
    )
    return page_of(found, page.limit)


@router.get(
    "/role-applications/{application_id}",
    responses=errors.NEEDS_TOKEN,
    summary="One role application: the applicant's own, or any for an admin (authenticated)",
)
async def get_application(application_id: ApplicationId, rpc: Authenticated) -> Application:
    return Application.of(await run_in_threadpool(accounts.get_application, application_id, rpc.caller))


@router.get(
    "/admin/role-applications",
    responses=errors.NEEDS_ROLE,
    summary="Every role application, oldest first; the review queue is ?status=pending (role admin)",
)
async def all_applications(
    rpc: Admin, status: StatusFilter = None, cursor: Cursor = None, limit: Limit = 20
) -> Page[Application]:
    page = paging.parse(cursor or "", limit)
    found = await run_in_threadpool(
        accounts.list_applications, None, status.value if status else None, page.after_id, page.limit
    )
    return page_of(found, page.limit)


@router.post(
    "/admin/role-applications/{application_id}/approve",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Approve: the applicant gets the role at their next refresh or login (role admin)",
    description="Approving again is harmless; approving a rejected application is a 409 `application_decided`.",
)
async def approve(application_id: ApplicationId, rpc: Admin, body: Approval | None = None) -> Application:
    reason = body.reason if body else ""
    return Application.of(await run_in_threadpool(accounts.approve, application_id, rpc.caller, reason))


@router.post(
    "/admin/role-applications/{application_id}/reject",
    responses={**errors.NEEDS_ROLE, **errors.WRITE},
    summary="Reject with a reason the applicant can read (role admin)",
    description="Rejecting again is harmless; rejecting an approved application is a 409 `application_decided`.",
)
async def reject(application_id: ApplicationId, body: Rejection, rpc: Admin) -> Application:
    return Application.of(await run_in_threadpool(accounts.reject, application_id, rpc.caller, body.reason))
