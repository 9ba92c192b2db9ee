"""A sweep handles every due item: one that raises is logged and left due, the rest go on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from mallkit import sweeps


@dataclass(frozen=True)
class Due:
    id: str


def test_every_item_is_handled_and_their_results_are_summed() -> None:
    handled: list[str] = []

    def handle(item: Due) -> bool:
        handled.append(item.id)
        return item.id != "b"  # b was already done by someone else: handled, not counted

    assert sweeps.each([Due("a"), Due("b"), Due("c")], handle, what="hold") == 2
    assert handled == ["a", "b", "c"]


def test_a_failing_item_is_logged_by_id_and_the_items_behind_it_still_run(caplog: pytest.LogCaptureFixture) -> None:
    def handle(item: Due) -> int:
        if item.id == "poison":
            raise KeyError("its campaign is gone")
        return 3

    with caplog.at_level(logging.ERROR, logger="mallkit.sweeps"):
        done = sweeps.each([Due("poison"), Due("a"), Due("b")], handle, what="expiry of team")
    assert done == 6
    failure, summary = caplog.records
    assert "expiry of team poison failed" in failure.getMessage() and failure.exc_info is not None
    assert summary.getMessage() == "1 expiry of team item(s) failed in this sweep; 6 done"


def test_only_the_first_tracebacks_are_logged_when_everything_fails(caplog: pytest.LogCaptureFixture) -> None:
    def handle(item: Due) -> int:
        raise ConnectionError("redis is down")

    with caplog.at_level(logging.ERROR, logger="mallkit.sweeps"):
        assert sweeps.each([Due(str(i)) for i in range(50)], handle, what="hold") == 0
    assert sum(r.exc_info is not None for r in caplog.records) == sweeps.LOGGED_FAILURES
    assert caplog.records[-1].getMessage() == "50 hold item(s) failed in this sweep; 0 done"


def test_a_failing_query_fails_the_whole_sweep() -> None:
    def cursor():
        yield Due("a")
        raise ConnectionError("mongo went away")

    with pytest.raises(ConnectionError):
        sweeps.each(cursor(), lambda item: 1, what="hold")
