"""The agent network: who may join, where they sit in the upline tree, and its compliance alarms.

Joining is free (禁止传销条例 Art. 7 compliance): registering as an agent takes no fee and no
purchase of goods, with or without an invite code; nothing here ever asks for money. An invite
code only places the new agent under an upline (depth = upline depth + 1, a root agent is depth 1).

A network nearing the legal danger zone (≥ 3 levels or ≥ 30 people) raises a warning alarm that is
recorded for audit; registration still succeeds. The hard rule (at most 2 *paid* levels) applies
to rebates, not to joining.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from mallkit.errors import InvalidArgument

MAX_DISPLAY_NAME = 40

# Crockford base32 (no I, L, O, U): 8 characters = 40 random bits, read aloud without confusion
INVITE_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVITE_CODE_LENGTH = 8
_INVITE_CODE = re.compile(f"^[{INVITE_CODE_ALPHABET}]{{{INVITE_CODE_LENGTH}}}$")

ALARM_DEPTH = 3
ALARM_HEADCOUNT = 30


def check_display_name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= MAX_DISPLAY_NAME:
        raise InvalidArgument(f"display name must be 1..{MAX_DISPLAY_NAME} characters", "invalid_display_name")
    return value


def new_invite_code() -> str:
    """A fresh, unguessable invite code (uniqueness is the database's unique index)."""
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def normalize_invite_code(raw: str) -> str:
    """Codes are typed by people: surrounding spaces and lower case are accepted."""
    code = raw.strip().upper()
    if not _INVITE_CODE.match(code):
        raise InvalidArgument(
            f"an invite code is {INVITE_CODE_LENGTH} characters of {INVITE_CODE_ALPHABET}", "invalid_invite_code"
        )
    return code


@dataclass(frozen=True)
class Upline:
    agent_id: str
    user_id: str
    depth: int
    root_id: str


@dataclass(frozen=True)
class Placement:
    upline_id: str
    root_id: str
    depth: int


def place(agent_id: str, user_id: str, upline: Upline | None) -> Placement:
    """Where a new agent sits: a root of its own network, or one level below its upline."""
    if upline is None:
        return Placement(upline_id="", root_id=agent_id, depth=1)
    if upline.user_id == user_id:
        raise InvalidArgument("you cannot use your own invite code", "self_invite")
    return Placement(upline_id=upline.agent_id, root_id=upline.root_id, depth=upline.depth + 1)


@dataclass(frozen=True)
class Alarm:
    kind: str
    value: int
    threshold: int
    message: str
    level: str = "warning"


def network_alarms(depth: int, headcount: int) -> list[Alarm]:
    """Alarms for a network after a registration: `depth` of the new agent, `headcount` of its root's
    network including the root."""
    alarms = []
    if depth >= ALARM_DEPTH:
        alarms.append(Alarm("network_depth", depth, ALARM_DEPTH, f"network reached {depth} levels"))
    if headcount >= ALARM_HEADCOUNT:
        alarms.append(Alarm("network_headcount", headcount, ALARM_HEADCOUNT, f"network reached {headcount} people"))
    return alarms
