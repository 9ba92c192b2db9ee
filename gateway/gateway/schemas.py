"""Shapes shared by every area: id constraints, request-body base, cursor pages, proto conversions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from socialmall.common.v1 import page_pb2

ID_REGEX = r"^[A-Za-z0-9_-]+$"
ID_MAX_LENGTH = 64
CURSOR_REGEX = r"^[A-Za-z0-9_=-]*$"
DEFAULT_PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 100

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_REGEX)]
# An example id of each kind, under the prefix its service gives it (`mallkit.ids.new_id`).
EXAMPLE_IDS = {
    kind: f"{kind}_6650a1f2c3d4e5f6a7b8c9{last}"
    for kind, last in (
        ("brd", "d0"),
        ("sku", "d1"),
        ("prd", "d2"),
        ("sto", "d3"),
        ("ord", "d4"),
        ("pay", "d5"),
        ("cmp", "d6"),
        ("team", "d7"),
        ("pst", "d8"),
        ("agt", "d9"),
        ("lnk", "da"),
        ("u", "e0"),
        ("app", "e1"),
        ("rfd", "e2"),
        ("ent", "e3"),
        ("wd", "e4"),
        ("bgc", "e5"),
        ("brg", "e6"),
    )
}


def path_id(kind: str) -> Any:
    """An id path parameter, with an id of `kind` (its prefix: "team", "cmp", "brg", …) as the example:
    `team_id: Annotated[str, path_id("team")]`."""
    return Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_REGEX, examples=[EXAMPLE_IDS[kind]])


def query_id(kind: str) -> Any:
    """An optional id query parameter (a filter), as path_id: `Annotated[str | None, query_id("sku")] = None`."""
    return Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_REGEX, examples=[EXAMPLE_IDS[kind]])


Cursor = Annotated[
    str | None,
    Query(
        max_length=256,
        pattern=CURSOR_REGEX,
        description="`next_cursor` of the previous page; omit for the first.",
        examples=["cHJkXzY2NTBhMWYyYzNkNGU1ZjZhN2I4YzlkMg"],
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="Page size.", examples=[20])]

T = TypeVar("T")


def _integral(value: object) -> object:
    """JSON has one number type: 3.0 is the integer 3 (as JSON Schema says); 3.5 and "3" stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a strict request body: 3 or 3.0, never "3", true or 3.5.
JsonInt = Annotated[int, BeforeValidator(_integral)]


def _iso_text(value: object) -> object:
    """A time in a request body is ISO-8601 text; a number (epoch seconds?) is refused, not guessed."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO-8601 date-time string with a time zone")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+08:00
        raise ValueError("the time is out of range") from exc


# A time in a strict request body: ISO-8601 with a zone ("2025-02-01T08:00:00Z", "…+08:00"), never
# naive; read as UTC.
JsonDateTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_text), AfterValidator(_utc)]


class RequestBody(BaseModel):
    """Request bodies are strict: unknown fields and loosely typed values (\"3\" for 3) are a 422."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(..., description="Pass as `cursor` for the next page; null on the last page.")


def page_of(cursor: str | None, limit: int) -> page_pb2.PageRequest:
    return page_pb2.PageRequest(cursor=cursor or "", limit=limit)


def timestamp_of(value: datetime | None) -> Timestamp | None:
    """An aware datetime as a proto Timestamp, None for None (the field stays unset)."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def enum_label(message: Message, field: str, prefix: str) -> str:
    """`ORDER_STATUS_PAID` → `paid`: enum values as lower-case JSON strings."""
    values = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number
    value = values.get(getattr(message, field))  # a value newer than these stubs reads as unspecified
    return value.name.removeprefix(prefix).lower() if value else "unspecified"
