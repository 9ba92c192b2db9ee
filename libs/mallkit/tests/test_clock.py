from datetime import UTC, datetime, timedelta, timezone

import pytest

from mallkit import clock


def test_now_is_utc_at_millisecond_precision():
    moment = clock.now()
    assert moment.tzinfo is UTC and moment.microsecond % 1000 == 0


def test_frozen_time_nests_and_restores():
    later = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8)))
    with clock.frozen_at(later):
        assert clock.now() == datetime(2030, 1, 1, 19, 4, 5, 678000, tzinfo=UTC)
        with clock.frozen_at(later + timedelta(days=7)):
            assert clock.now().day == 8
        assert clock.now().day == 1
    assert clock.now().year < 2030


def test_naive_times_are_refused():
    with pytest.raises(ValueError), clock.frozen_at(datetime(2030, 1, 1)):
        pass


def test_the_business_day_is_the_day_in_china():
    before_midnight_in_beijing = datetime(2026, 5, 1, 15, 59, 59, tzinfo=UTC)
    midnight_in_beijing = datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    assert clock.business_day(before_midnight_in_beijing) == "2026-05-01"
    assert clock.business_day(midnight_in_beijing) == "2026-05-02"
    assert clock.business_day_start(before_midnight_in_beijing) == datetime(2026, 4, 30, 16, 0, tzinfo=UTC)
    assert clock.business_day_start(midnight_in_beijing) == midnight_in_beijing
