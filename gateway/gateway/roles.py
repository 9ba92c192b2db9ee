"""The roles a token can carry, and how each is obtained."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CONSUMER = "consumer"
    STORE_OWNER = "store_owner"
    BRAND = "brand"
    AGENT = "agent"
    KOL = "kol"
    CREATOR = "creator"
    ADMIN = "admin"


ROLES = frozenset(Role)
CONSUMER = Role.CONSUMER
ADMIN = Role.ADMIN
# Free to take: opening a store or posting costs nothing and pays nobody upstream (anti-pyramid rule).
SELF_ASSIGNED_ROLES = frozenset({Role.STORE_OWNER, Role.CREATOR})
# They carry money or trust: an admin approves an application first.
GRANTED_ROLES = frozenset({Role.BRAND, Role.KOL, Role.AGENT, Role.ADMIN})
