"""The gateway's own data (database MONGO_DB, default socialmall_gateway): accounts and sessions.

A session is a refresh-token family: each refresh marks its token used (a conditional update, so
one of two racing refreshes wins) and adds the next token to the family; revoking the family
(logout, password change, a rotated token presented again) ends every token in it at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import mongoengine as me


def now() -> datetime:
    """UTC, to the millisecond MongoDB keeps, so a saved time reads back equal."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class AccountStatus:
    ACTIVE = "active"
    DISABLED = "disabled"


class Account(me.Document):
    id = me.StringField(primary_key=True)  # u_<objectid>
    phone = me.StringField(required=True, unique=True)  # E.164
    password_hash = me.StringField()  # argon2id; None for accounts that sign in with codes only
    roles = me.ListField(me.StringField(), default=list)
    status = me.StringField(default=AccountStatus.ACTIVE, choices=(AccountStatus.ACTIVE, AccountStatus.DISABLED))
    created_at = me.DateTimeField(default=now)
    password_changed_at = me.DateTimeField()

    meta = {"collection": "accounts"}


class RefreshFamily(me.Document):
    """One sign-in (device); every refresh token descended from it shares its fate."""

    id = me.StringField(primary_key=True)  # fam_<objectid>
    user_id = me.StringField(required=True)
    # the account's password_changed_at when this sign-in read it: a sign-in that raced a password
    # change (read the old one, opened after the change revoked every family) is refused at refresh
    password_changed_at = me.DateTimeField()
    created_at = me.DateTimeField(default=now)
    revoked_at = me.DateTimeField()
    revoked_reason = me.StringField()

    meta = {"collection": "refresh_families", "indexes": ["user_id"]}


class RefreshToken(me.Document):
    id = me.StringField(primary_key=True)  # sha256 of the token: the token itself is never stored
    family_id = me.StringField(required=True)
    user_id = me.StringField(required=True)
    expires_at = me.DateTimeField(required=True)
    used_at = me.DateTimeField()  # set once, by the refresh that rotated it
    created_at = me.DateTimeField(default=now)

    # expired tokens are removed by MongoDB itself (TTL index)
    meta = {
        "collection": "refresh_tokens",
        "indexes": ["family_id", {"fields": ["expires_at"], "expireAfterSeconds": 0}],
    }


class ApplicationStatus:
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RoleApplication(me.Document):
    """A request for a role that carries money or trust; an admin approves or rejects it."""

    id = me.StringField(primary_key=True)  # app_<objectid>
    user_id = me.StringField(required=True)
    role = me.StringField(required=True)
    note = me.StringField(default="")
    status = me.StringField(
        default=ApplicationStatus.PENDING,
        choices=(ApplicationStatus.PENDING, ApplicationStatus.APPROVED, ApplicationStatus.REJECTED),
    )
    # "<user_id>:<role>" while pending, unset once decided: one open application per user and role.
    pending_key = me.StringField(unique=True, sparse=True)
    reason = me.StringField()  # the admin's reason (required to reject)
    decided_by = me.StringField()
    created_at = me.DateTimeField(default=now)
    decided_at = me.DateTimeField()

    meta = {"collection": "role_applications", "indexes": ["user_id", "status"]}


DOCUMENTS: tuple[type[me.Document], ...] = (Account, RefreshFamily, RefreshToken, RoleApplication)
