"""String ids: a readable prefix plus an ObjectId, so ids sort roughly by creation time."""

from __future__ import annotations

import re

from bson import ObjectId

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{ObjectId()}"


def is_valid(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
