"""Money on the wire: integer fen plus a display string, never a float."""

from __future__ import annotations

from pydantic import BaseModel, Field

from socialmall.common.v1 import money_pb2

# A cap for amounts clients send: far above any real price, far below int64 and JSON's safe integers.
MAX_FEN = 100_000_000_000


def display(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}¥{yuan}.{rest:02d}"


class Money(BaseModel):
    fen: int = Field(..., description="The amount in integer fen (1 yuan = 100 fen).", examples=[1990])
    display: str = Field(..., description="Human-readable yuan, for display only.", examples=["¥19.90"])

    @classmethod
    def of(cls, fen: int) -> Money:
        return cls(fen=fen, display=display(fen))

    @classmethod
    def from_pb(cls, value: money_pb2.Money) -> Money:
        return cls.of(value.fen)


def to_pb(fen: int) -> money_pb2.Money:
    return money_pb2.Money(fen=fen)
