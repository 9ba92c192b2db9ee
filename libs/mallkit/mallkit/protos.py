"""Conversions between domain values and the shared proto types, for every service's api.py."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

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
