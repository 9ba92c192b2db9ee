"""Timed sweeps over due items: expired holds, unpaid orders, stale ledger entries, ...

One item that raises must not stop the clock for all the others. A sweep that gave up at its first
failing item would meet that same item first again on every tick, and nothing behind it would ever
be handled: no refund, no cancellation, no release. `each` handles every item, logs the ones that
fail and leaves them due for the next tick. A failing query (the database down) still raises: that
is the whole sweep failing, and the timer tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")

# Tracebacks logged per sweep; a dependency that is down would otherwise log one per item.
LOGGED_FAILURES = 3


def each(items: Iterable[Item], handle: Callable[[Item], int | bool], *, what: str) -> int:
    """`handle` every item; returns the sum of what it returned (True counts 1). An item whose
    handling raises is logged (`what` names it, with its id) and skipped."""
    done = failed = 0
    for item in items:
        try:
            done += int(handle(item))
        except Exception:
            failed += 1
            if failed <= LOGGED_FAILURES:
                log.exception("%s %s failed; it stays due for the next sweep", what, getattr(item, "id", item))
    if failed:
        log.error("%d %s item(s) failed in this sweep; %d done", failed, what, done)
    return done
