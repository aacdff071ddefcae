"""Policy schedules as APScheduler triggers: cron in UTC with cron's day numbers, intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retention.service.scheduling import _day_names, cron_trigger

TUESDAY = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("1-5/2", "mon,wed,fri"),
        ("0-2", "sun,mon,tue"),
        ("*/2", "sun,tue,thu,sat"),
        ("5,6,0", "fri,sat,sun"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        (
            "sun-sat",
            "sun,mon,tue,wed,thu,fri,sat",
        ),  # APScheduler alone would read sun-sat backwards
        ("SAT,sun", "sat,sun"),
    ],
)
def test_cron_day_numbers_mean_what_cron_means(field: str, names: str) -> None:
    """Cron counts days from Sunday (0 and 7); APScheduler from Monday: pass names instead."""
    assert _day_names(field) == names


def test_cron_fires_in_utc_on_the_right_day() -> None:
    """`0 3 * * 0` fires at 03:00 UTC on the next Sunday."""
    fire = cron_trigger("0 3 * * 0").get_next_fire_time(None, TUESDAY)
    assert fire == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_cron_jitter_stays_within_bounds() -> None:
    """A jitter of 5 minutes delays a firing by at most 5 minutes."""
    trigger = cron_trigger("0 3 * * *", timedelta(minutes=5))
    fire = trigger.get_next_fire_time(None, TUESDAY)
    assert (
        datetime(2026, 11, 25, 3, 0, tzinfo=UTC) <= fire <= datetime(2026, 11, 25, 3, 5, tzinfo=UTC)
    )
