"""The time every service reads: UTC, at MongoDB's precision (milliseconds), and injectable.

Rules that depend on time (payment timeouts, after-sale windows, team expiry) read `now()`, so
tests move time with `frozen_at(...)` instead of sleeping. Rules counted "per day" (withdrawals,
bargain helps) count by the business day: the calendar day in China Standard Time, where the
platform's users live, so an allowance renews at midnight for them and not at 08:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

_frozen: datetime | None = None

# UTC+8 all year (no daylight saving since 1991); a fixed offset needs no tz database in the images
BUSINESS_TZ = timezone(timedelta(hours=8), "CST")


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


def business_day(moment: datetime) -> str:
    """The business day (YYYY-MM-DD, China Standard Time) that `moment` falls on."""
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d")


def business_day_start(moment: datetime) -> datetime:
    """When the business day of `moment` began, in UTC."""
    local = moment.astimezone(BUSINESS_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
