"""The time every service reads: UTC, at MongoDB's precision (milliseconds), and injectable.

Rules that depend on time (payment timeouts, after-sale windows, team expiry) read `now()`, so
tests move time with `frozen_at(...)` instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: datetime | None = None


def _to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now() -> datetime:
    """UTC now, cut to milliseconds so what a write returns equals what a later read returns."""
    return _frozen if _frozen is not None else _to_millis(datetime.now(UTC))


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Within the block, `now()` is `moment` (timezone-aware) in this process."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs a timezone-aware datetime")
    previous, _frozen = _frozen, _to_millis(moment.astimezone(UTC))
    try:
        yield
    finally:
        _frozen = previous
