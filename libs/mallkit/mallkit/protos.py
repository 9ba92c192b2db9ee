"""Conversions between domain values and the shared proto types, for every service's api.py."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from mallkit.errors import InvalidArgument
from socialmall.common.v1 import money_pb2


def money(fen: int) -> money_pb2.Money:
    return money_pb2.Money(fen=fen)


def timestamp(value: datetime | None) -> Timestamp | None:
    """A proto Timestamp, or None so the field stays unset."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def datetime_of(message: object, field: str) -> datetime | None:
    """A Timestamp field of `message` as an aware UTC datetime, or None when it is unset; one no
    datetime can hold (negative nanos, beyond year 9999) is the caller's invalid argument."""
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    try:
        return getattr(message, field).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(f"{field} is not a valid time", f"invalid_{field}") from exc
