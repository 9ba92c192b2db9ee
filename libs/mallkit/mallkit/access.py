"""Who may do what: the caller checks every use case starts with (identity comes from the
gateway as gRPC metadata; ownership is each service's own rule)."""

from __future__ import annotations

import mongoengine as me

from mallkit import context, ids
from mallkit.errors import NotFound, PermissionDenied

ADMIN = "admin"
BRAND = "brand"


def require_user() -> context.Caller:
    who = context.caller()
    if not who.authenticated:
        raise PermissionDenied("sign in first", "unauthenticated")
    return who


def require_role(*roles: str) -> context.Caller:
    who = require_user()
    if not any(who.has_role(r) for r in roles):
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}", "role_required")
    return who


def get_or_404(document: type[me.Document], object_id: str, what: str) -> me.Document:
    found = document.objects(id=object_id).first() if ids.is_valid(object_id) else None
    if found is None:
        raise NotFound(f"{what} {object_id!r} not found", f"{what}_not_found")
    return found
