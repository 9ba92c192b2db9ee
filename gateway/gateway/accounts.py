"""Accounts, sessions and roles: the gateway's use cases (synchronous mongoengine; routes run them in
the threadpool). One-time codes are checked by the caller (`gateway.codes`) before these run.

Roles: everyone is a consumer; store_owner and creator are self-assigned (opening a store is free);
brand, kol, agent and admin are granted only by an admin approving an application. Phones listed
in BOOTSTRAP_ADMIN_PHONES get admin when they sign in, which is how the first admin appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import mongoengine as me

from gateway import security
from gateway.documents import (
    Account,
    AccountStatus,
    ApplicationStatus,
    RefreshFamily,
    RefreshToken,
    RoleApplication,
    now,
)
from gateway.roles import ADMIN, CONSUMER, GRANTED_ROLES, SELF_ASSIGNED_ROLES
from gateway.settings import GatewaySettings
from mallkit import ids
from mallkit.context import Caller
from mallkit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)


@dataclass(frozen=True)
class Session:
    """A signed-in account and the refresh token that keeps it signed in (shown once)."""

    account: Account
    refresh_token: str
    created: bool = False


# ── signing in ──────────────────────────────────────────────────────────────────────────────


def register(phone: str, password: str | None, settings: GatewaySettings) -> Session:
    """A new account for a phone whose code the caller verified; 409 if the phone has one."""
    account = _new_account(phone, password, settings)
    try:
        account.save(force_insert=True)
    except me.NotUniqueError as exc:
        raise AlreadyExists("this phone already has an account; log in instead", "phone_taken") from exc
    return _open_session(account, settings, created=True)


def sign_in_with_code(phone: str, settings: GatewaySettings) -> Session:
    """The phone's account, created on first use (the code proved the phone)."""
    account = Account.objects(phone=phone).first()
    if account is not None:
        return _open_session(_usable(account), settings)
    try:
        account = _new_account(phone, None, settings)
        account.save(force_insert=True)
        return _open_session(account, settings, created=True)
    except me.NotUniqueError:  # a concurrent first sign-in created it
        return _open_session(_usable(Account.objects.get(phone=phone)), settings)


def sign_in_with_password(phone: str, password: str, settings: GatewaySettings) -> Session:
    account = Account.objects(phone=phone).first()
    # verified even when there is no account, so timing does not reveal which phones have one
    if not security.verify_password(account.password_hash if account else None, password) or account is None:
        raise Unauthenticated("wrong phone or password", "invalid_credentials")
    if security.needs_rehash(account.password_hash):
        Account.objects(id=account.id).update_one(set__password_hash=security.hash_password(password))
    return _open_session(_usable(account), settings)


def refresh(token: str, settings: GatewaySettings) -> Session:
    """Rotate a refresh token: it is spent and the next one of its family is returned.

    A spent token presented again means it was copied (or two refreshes raced): the whole family is
    revoked, so neither the thief nor the owner can use it; the owner signs in again."""
    found = RefreshToken.objects(id=security.token_digest(token)).first() if _looks_like_token(token) else None
    if found is None:
        raise Unauthenticated("the refresh token is not valid", "invalid_refresh_token")
    family = RefreshFamily.objects(id=found.family_id).first()
    if family is None or family.revoked_at is not None:
        raise Unauthenticated("the session has ended; log in again", "refresh_token_revoked")
    if found.expires_at <= now():
        raise Unauthenticated("the refresh token has expired; log in again", "refresh_token_expired")
    if not RefreshToken.objects(id=found.id, used_at=None).update_one(set__used_at=now()):
        _revoke_family(found.family_id, "reuse")
        raise Unauthenticated("the refresh token was already used; log in again", "refresh_token_reused")
    account = Account.objects(id=found.user_id).first()
    if account is None or account.status != AccountStatus.ACTIVE:
        _revoke_family(found.family_id, "account_disabled")
        raise Unauthenticated("the account cannot sign in", "account_disabled")
    if _outdated(account, family):
        _revoke_family(found.family_id, "password_changed")
        raise Unauthenticated("the session has ended; log in again", "refresh_token_revoked")
    return Session(_with_bootstrap_roles(account, settings), _issue_refresh_token(account.id, family.id, settings))


def logout(token: str) -> None:
    """End the token's session (its family); unknown tokens are ignored."""
    found = RefreshToken.objects(id=security.token_digest(token)).first() if _looks_like_token(token) else None
    if found is not None:
        _revoke_family(found.family_id, "logout")


def change_password(user_id: str, current: str, new: str, settings: GatewaySettings) -> Session:
    """Every session of the account ends; the caller gets a fresh one."""
    account = get_account(user_id)
    if not security.verify_password(account.password_hash, current):
        raise PermissionDenied("the current password is wrong", "invalid_credentials")
    _set_password(account, new)
    return _open_session(account, settings)


def reset_password(phone: str, new: str) -> None:
    """Set a password by proving the phone (the caller verified a code); every session ends."""
    account = Account.objects(phone=phone).first()
    if account is None:
        raise NotFound("no account has this phone", "account_not_found")
    _set_password(account, new)


def get_account(user_id: str) -> Account:
    account = Account.objects(id=user_id).first() if ids.is_valid(user_id) else None
    if account is None:
        raise NotFound("no such account", "account_not_found")
    return account


# ── roles ───────────────────────────────────────────────────────────────────────────────────


def add_self_role(user_id: str, role: str) -> Account:
    if role not in SELF_ASSIGNED_ROLES:
        raise PermissionDenied(f"the role {role} is granted by an admin; apply for it", "role_needs_approval")
    get_account(user_id)
    Account.objects(id=user_id).update_one(add_to_set__roles=role)
    return get_account(user_id)


def apply_for_role(user_id: str, role: str, note: str) -> RoleApplication:
    if role not in GRANTED_ROLES:
        raise InvalidArgument(f"the role {role} needs no application", "role_not_applicable")
    if role in get_account(user_id).roles:
        raise AlreadyExists(f"you already have the role {role}", "role_already_held")
    application = RoleApplication(
        id=ids.new_id("app"), user_id=user_id, role=role, note=note, pending_key=f"{user_id}:{role}"
    )
    try:
        application.save(force_insert=True)
    except me.NotUniqueError as exc:
        raise AlreadyExists(f"you already applied for {role}; wait for the decision", "application_pending") from exc
    return application


def get_application(application_id: str, who: Caller) -> RoleApplication:
    """The applicant's own application, or any for an admin; to anyone else it does not exist."""
    found = RoleApplication.objects(id=application_id).first() if ids.is_valid(application_id) else None
    if found is None or (found.user_id != who.user_id and not who.has_role(ADMIN)):
        raise NotFound(f"application {application_id!r} not found", "application_not_found")
    return found


def list_applications(user_id: str | None, status: str | None, after: str | None, limit: int) -> list[RoleApplication]:
    """Oldest first (the review queue's order), by id."""
    query: dict[str, object] = {}
    if user_id is not None:
        query["user_id"] = user_id
    if status is not None:
        query["status"] = status
    if after is not None:
        query["id__gt"] = after
    return list(RoleApplication.objects(**query).order_by("id").limit(limit))


def approve(application_id: str, admin: Caller, reason: str) -> RoleApplication:
    """Idempotent: approving an approved application again re-grants its role (repairs a crash
    between the two writes); approving a rejected one is a 409."""
    application = get_application(application_id, admin)
    RoleApplication.objects(id=application.id, status=ApplicationStatus.PENDING).update_one(
        set__status=ApplicationStatus.APPROVED,
        set__reason=reason,
        set__decided_by=admin.user_id,
        set__decided_at=now(),
        unset__pending_key=True,
    )
    application.reload()
    if application.status != ApplicationStatus.APPROVED:
        raise FailedPrecondition(f"application {application.id} was {application.status}", "application_decided")
    Account.objects(id=application.user_id).update_one(add_to_set__roles=application.role)
    return application


def reject(application_id: str, admin: Caller, reason: str) -> RoleApplication:
    application = get_application(application_id, admin)
    decided = RoleApplication.objects(id=application.id, status=ApplicationStatus.PENDING).update_one(
        set__status=ApplicationStatus.REJECTED,
        set__reason=reason,
        set__decided_by=admin.user_id,
        set__decided_at=now(),
        unset__pending_key=True,
    )
    application.reload()
    if not decided and application.status != ApplicationStatus.REJECTED:
        raise FailedPrecondition(f"application {application.id} was {application.status}", "application_decided")
    return application


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def _new_account(phone: str, password: str | None, settings: GatewaySettings) -> Account:
    roles = [CONSUMER, ADMIN] if phone in settings.bootstrap_admin_phones else [CONSUMER]
    return Account(
        id=ids.new_id("u"),
        phone=phone,
        password_hash=security.hash_password(password) if password else None,
        roles=roles,
        password_changed_at=now() if password else None,
    )


def _usable(account: Account) -> Account:
    if account.status != AccountStatus.ACTIVE:
        raise PermissionDenied("this account is disabled", "account_disabled")
    return account


def _with_bootstrap_roles(account: Account, settings: GatewaySettings) -> Account:
    if account.phone in settings.bootstrap_admin_phones and ADMIN not in account.roles:
        Account.objects(id=account.id).update_one(add_to_set__roles=ADMIN)
        account.reload()
    return account


def _open_session(account: Account, settings: GatewaySettings, created: bool = False) -> Session:
    family = RefreshFamily(id=ids.new_id("fam"), user_id=account.id, password_changed_at=account.password_changed_at)
    family.save(force_insert=True)
    token = _issue_refresh_token(account.id, family.id, settings)
    return Session(_with_bootstrap_roles(account, settings), token, created)


def _issue_refresh_token(user_id: str, family_id: str, settings: GatewaySettings) -> str:
    token = security.new_refresh_token()
    RefreshToken(
        id=security.token_digest(token),
        family_id=family_id,
        user_id=user_id,
        expires_at=now() + timedelta(seconds=settings.refresh_token_ttl),
    ).save(force_insert=True)
    return token


def _revoke_family(family_id: str, reason: str) -> None:
    RefreshFamily.objects(id=family_id, revoked_at=None).update_one(set__revoked_at=now(), set__revoked_reason=reason)


def _set_password(account: Account, password: str) -> None:
    """Set it and end every session; `account` then holds the change's time as written (not as a
    concurrent change may have left it), so a session opened from it carries this one's version."""
    changed_at = now()
    Account.objects(id=account.id).update_one(
        set__password_hash=security.hash_password(password), set__password_changed_at=changed_at
    )
    RefreshFamily.objects(user_id=account.id, revoked_at=None).update(
        set__revoked_at=now(), set__revoked_reason="password_changed"
    )
    account.reload()
    account.password_changed_at = changed_at


def _outdated(account: Account, family: RefreshFamily) -> bool:
    """Whether the session signed in under a password that has changed since (a sign-in racing the
    change opened it after the change revoked every session). A session from before sessions
    recorded the version is judged by when it began."""
    if family.password_changed_at is None:
        return account.password_changed_at is not None and account.password_changed_at > family.created_at
    return account.password_changed_at != family.password_changed_at


def _looks_like_token(token: str) -> bool:
    return token.startswith(security.REFRESH_TOKEN_PREFIX) and len(token) <= 128
