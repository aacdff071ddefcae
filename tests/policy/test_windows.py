"""Deletion windows on fixed moments: UTC and named zones, DST changes, midnight, deny over
allow, the exact instants windows open and close, and cron's reading of its fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retention.policy.windows import (
    CronWindow,
    WeeklyWindow,
    Windows,
    check_cron,
    check_zone,
    parse_cron,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset({5, 6})


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cron(start: str, hours: float, zone: str = "UTC") -> CronWindow:
    return CronWindow(start, timedelta(hours=hours), zone)


def weekly(days: frozenset[int], start: str, end: str | None, zone: str = "UTC") -> WeeklyWindow:
    return WeeklyWindow(
        days, time.fromisoformat(start), time.fromisoformat(end) if end else None, zone
    )


NIGHTS = Windows(allow=(cron("0 22 * * *", 6, BERLIN),), deny=(weekly(WEEKEND, "00:00", None),))


def test_empty_windows_are_always_open() -> None:
    """No windows: open at any moment, never closing, opening at once."""
    moment = utc(2026, 3, 29, 1, 30)
    empty = Windows()
    assert not empty
    assert empty.is_open(moment)
    assert empty.closes_at(moment) is None
    assert empty.opens_at(moment) == moment
    assert empty.describe() == "always open"
    assert empty.intervals(moment, moment + timedelta(hours=1)) == (
        (moment, moment + timedelta(hours=1)),
    )


def test_a_moment_without_a_timezone_is_refused() -> None:
    """A naive moment has no place on the timeline; every question refuses it."""
    naive = datetime(2026, 3, 2, 12)
    for windows in (Windows(), NIGHTS):
        for ask in (windows.is_open, windows.closes_at, windows.opens_at):
            with pytest.raises(ValueError, match="timezone-aware"):
                ask(naive)


def test_weekly_window_in_utc_opens_and_closes_at_exact_instants() -> None:
    """Mon-Fri 01:00-05:00 UTC: open from 01:00, closed from 05:00, reopening next day."""
    windows = Windows(allow=(weekly(WEEKDAYS, "01:00", "05:00"),))
    monday = utc(2026, 3, 2)
    assert not windows.is_open(monday + timedelta(minutes=59, seconds=59))
    assert windows.is_open(monday + timedelta(hours=1))
    assert windows.is_open(monday + timedelta(hours=4, minutes=59, seconds=59))
    assert not windows.is_open(monday + timedelta(hours=5))
    assert windows.closes_at(monday + timedelta(hours=3)) == monday + timedelta(hours=5)
    assert windows.opens_at(monday + timedelta(hours=5)) == utc(2026, 3, 3, 1)
    assert windows.opens_at(utc(2026, 3, 6, 6)) == utc(2026, 3, 9, 1)  # Friday to Monday
    assert windows.closes_at(monday + timedelta(hours=6)) == monday + timedelta(hours=6)


def test_weekly_window_past_midnight_starts_on_the_day_listed() -> None:
    """fri 22:00-02:00: Friday night into Saturday morning, not Thursday into Friday."""
    windows = Windows(allow=(weekly(frozenset({4}), "22:00", "02:00"),))
    assert not windows.is_open(utc(2026, 3, 6, 1))  # Friday 01:00
    assert windows.is_open(utc(2026, 3, 6, 22))
    assert windows.is_open(utc(2026, 3, 7, 1, 59))  # Saturday 01:59
    assert not windows.is_open(utc(2026, 3, 7, 2))
    assert windows.closes_at(utc(2026, 3, 6, 23)) == utc(2026, 3, 7, 2)
    assert windows.opens_at(utc(2026, 3, 7, 2)) == utc(2026, 3, 13, 22)


def test_cron_window_crosses_midnight() -> None:
    """0 22 * * * for 6h in UTC: 22:00 to 04:00 the next morning."""
    windows = Windows(allow=(cron("0 22 * * *", 6),))
    assert windows.is_open(utc(2026, 3, 3, 3, 59, 59))
    assert not windows.is_open(utc(2026, 3, 3, 4))
    assert windows.closes_at(utc(2026, 3, 2, 23)) == utc(2026, 3, 3, 4)
    assert windows.opens_at(utc(2026, 3, 3, 4)) == utc(2026, 3, 3, 22)


def test_cron_window_in_berlin_follows_summer_time() -> None:
    """22:00 in Berlin is 21:00 UTC in winter and 20:00 UTC in summer; a 6h window lasts six
    hours of elapsed time through the change on 2026-03-29 (local 22:00 to 05:00)."""
    windows = Windows(allow=(cron("0 22 * * *", 6, BERLIN),))
    assert windows.opens_at(utc(2026, 3, 28, 12)) == utc(2026, 3, 28, 21)
    assert windows.closes_at(utc(2026, 3, 28, 21)) == utc(2026, 3, 29, 3)
    assert windows.opens_at(utc(2026, 3, 29, 12)) == utc(2026, 3, 29, 20)
    assert windows.opens_at(utc(2026, 10, 25, 12)) == utc(2026, 10, 25, 21)
    assert windows.closes_at(utc(2026, 10, 24, 21)) == utc(2026, 10, 25, 2)


def test_a_skipped_local_time_does_not_fire() -> None:
    """02:30 does not exist in Berlin on 2026-03-29: that day has no opening, as in cron."""
    windows = Windows(allow=(CronWindow("30 2 * * *", timedelta(minutes=10), BERLIN),))
    found = windows.intervals(utc(2026, 3, 28), utc(2026, 3, 31))
    assert found == (
        (utc(2026, 3, 28, 1, 30), utc(2026, 3, 28, 1, 40)),
        (utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 0, 40)),
    )
    assert windows.opens_at(utc(2026, 3, 28, 2)) == utc(2026, 3, 30, 0, 30)


def test_a_repeated_local_time_fires_once_at_its_first_occurrence() -> None:
    """02:30 happens twice in Berlin on 2026-10-25 (CEST, then CET): one opening, the first."""
    windows = Windows(allow=(CronWindow("30 2 * * *", timedelta(minutes=10), BERLIN),))
    found = windows.intervals(utc(2026, 10, 25), utc(2026, 10, 26))
    assert found == ((utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 40)),)
    assert not windows.is_open(utc(2026, 10, 25, 1, 35))


def test_weekly_days_in_berlin_are_23_and_25_hours_long_on_dst_sundays() -> None:
    """A whole local Sunday is 23 hours in March and 25 hours in October."""
    windows = Windows(allow=(weekly(frozenset({6}), "00:00", None, BERLIN),))
    assert windows.intervals(utc(2026, 3, 28), utc(2026, 3, 31)) == (
        (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
    )
    assert windows.intervals(utc(2026, 10, 24), utc(2026, 10, 27)) == (
        (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
    )


def test_weekly_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    """sun 02:30-05:00 in Berlin on 2026-03-29: the clock jumps from 02:00 to 03:00 (01:00
    UTC), past 02:30, so the window opens then, and closes at 05:00 CEST (03:00 UTC)."""
    windows = Windows(allow=(weekly(frozenset({6}), "02:30", "05:00", BERLIN),))
    assert windows.intervals(utc(2026, 3, 28), utc(2026, 3, 30)) == (
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),
    )
    assert windows.intervals(utc(2026, 3, 21), utc(2026, 3, 23)) == (
        (utc(2026, 3, 22, 1, 30), utc(2026, 3, 22, 4)),
    )


def test_new_york_business_hours_across_the_march_change() -> None:
    """Weekdays 09:00-17:00 in New York: 14:00 UTC before 2026-03-08, 13:00 UTC after."""
    windows = Windows(allow=(cron("0 9 * * 1-5", 8, NEW_YORK),))
    assert windows.opens_at(utc(2026, 3, 6, 0)) == utc(2026, 3, 6, 14)
    assert windows.opens_at(utc(2026, 3, 7, 0)) == utc(2026, 3, 9, 13)
    assert windows.closes_at(utc(2026, 3, 9, 13)) == utc(2026, 3, 9, 21)
    assert not windows.is_open(utc(2026, 3, 9, 12, 59))
    weekly_hours = Windows(allow=(weekly(WEEKDAYS, "09:00", "17:00", NEW_YORK),))
    assert weekly_hours.intervals(utc(2026, 3, 6), utc(2026, 3, 10)) == (
        (utc(2026, 3, 6, 14), utc(2026, 3, 6, 22)),
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),
    )


def test_deny_wins_over_allow() -> None:
    """Nights in Berlin, never at weekends (UTC): a Friday night is cut at Saturday 00:00 UTC,
    and the Sunday night opening counts only from Monday 00:00 UTC."""
    assert NIGHTS.is_open(utc(2026, 3, 26, 23))
    assert NIGHTS.closes_at(utc(2026, 3, 27, 22)) == utc(2026, 3, 28)
    assert not NIGHTS.is_open(utc(2026, 3, 28, 1))
    assert NIGHTS.opens_at(utc(2026, 3, 28, 1)) == utc(2026, 3, 30)
    assert NIGHTS.closes_at(utc(2026, 3, 30)) == utc(2026, 3, 30, 2)
    deny_only = Windows(deny=(weekly(WEEKEND, "00:00", None),))
    assert deny_only.is_open(utc(2026, 3, 27, 23, 59))
    assert deny_only.closes_at(utc(2026, 3, 27, 12)) == utc(2026, 3, 28)
    assert deny_only.opens_at(utc(2026, 3, 28, 12)) == utc(2026, 3, 30)


def test_open_past_the_horizon_and_closed_past_it() -> None:
    """closes_at is None when nothing closes within 8 days; opens_at None when nothing opens
    within the horizon (or the span it is given)."""
    always = Windows(allow=(cron("* * * * *", 1 / 60, BERLIN),))
    assert always.closes_at(utc(2026, 3, 28)) is None
    assert always.intervals(utc(2026, 3, 28), utc(2026, 3, 30)) == (
        (utc(2026, 3, 28), utc(2026, 3, 30)),
    )
    new_year = Windows(allow=(cron("0 0 1 1 *", 1),))
    assert new_year.opens_at(utc(2026, 3, 1)) is None
    assert new_year.opens_at(utc(2026, 3, 1), within=timedelta(days=400)) == utc(2027, 1, 1)
    assert new_year.ever_opens()
    assert not Windows(allow=(cron("0 0 30 2 *", 1),)).ever_opens()
    assert not Windows(deny=(weekly(frozenset(range(7)), "00:00", None),)).ever_opens()


def test_describe() -> None:
    assert NIGHTS.describe() == (
        "allow 0 22 * * * for 6h (Europe/Berlin); deny sat,sun 00:00-24:00 (UTC)"
    )
    windows = Windows(
        allow=(weekly(WEEKDAYS, "01:00", "05:00"), weekly(frozenset({0, 2, 6}), "22:00", "02:00"))
    )
    assert windows.describe() == "allow mon-fri 01:00-05:00 (UTC), mon,wed,sun 22:00-02:00 (UTC)"


@pytest.mark.parametrize(
    ("field", "weekdays"),
    [
        ("0", {6}),
        ("7", {6}),
        ("sun", {6}),
        ("5-7", {4, 5, 6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("*/2", {6, 1, 3, 5}),
        ("1/3", {0, 3, 6}),
        ("*", set(range(7))),
    ],
)
def test_cron_day_of_week_numbers_follow_cron(field: str, weekdays: set[int]) -> None:
    """0 and 7 are Sunday, as `retention run` reads spec.schedule; sets use 0 for Monday."""
    assert parse_cron(f"0 0 * * {field}").weekdays == weekdays


def test_cron_day_of_month_and_day_of_week_either_match_when_both_are_restricted() -> None:
    """As in cron: `13 * 5` fires on the 13th and on Fridays; a `*` field restricts nothing."""
    both = parse_cron("0 0 13 * 5")
    assert both.matches(date(2026, 3, 13))  # a Friday the 13th
    assert both.matches(date(2026, 4, 13))  # a Monday
    assert both.matches(date(2026, 4, 17))  # a Friday
    assert not both.matches(date(2026, 4, 14))
    assert parse_cron("0 0 13 * *").matches(date(2026, 4, 13))
    assert not parse_cron("0 0 * * 5").matches(date(2026, 4, 13))
    starred = parse_cron("0 0 */2 * 5")  # starts with *: both must match
    assert starred.matches(date(2026, 3, 13))
    assert not starred.matches(date(2026, 3, 6))
    assert not starred.matches(date(2026, 3, 15))
    assert not parse_cron("0 0 1 feb *").matches(date(2026, 3, 1))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0 22 * *", "invalid cron '0 22 * *': use 5 fields"),
        ("0 25 * * *", "invalid cron '0 25 * * *': hour field '25': 25 is outside 0-23"),
        ("0 5-2 * * *", "hour field '5-2': range '5-2' runs backwards; write the smaller value"),
        ("0 0 * * fri-sun", "range 'fri-sun' runs backwards; write the smaller value first "),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a number from 1 to 59"),
        ("30s", "use 5 fields"),
    ],
)
def test_bad_cron_expressions_say_what_is_wrong(text: str, problem: str) -> None:
    message = check_cron(text)
    assert message is not None
    assert problem in message
    with pytest.raises(ValueError, match="invalid cron"):
        CronWindow(text, timedelta(hours=1))


def test_time_zones_are_checked() -> None:
    assert check_zone("UTC") is None
    assert check_zone(BERLIN) is None
    assert check_zone("Europe/Berln") == (
        "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); use an IANA name "
        "such as Europe/Berlin, or UTC"
    )
    assert check_zone("../../etc/passwd") is not None
    assert "whatever the host is set to" in (check_zone("localtime") or "")


def test_windows_refuse_what_validation_would() -> None:
    """The model holds only windows that make sense, whoever builds them."""
    with pytest.raises(ValueError, match="at most 7d"):
        cron("0 0 * * *", 7 * 24 + 1)
    with pytest.raises(ValueError, match="at most 7d"):
        CronWindow("0 0 * * *", timedelta(0))
    with pytest.raises(ValueError, match="same time"):
        weekly(WEEKDAYS, "05:00", "05:00")
    with pytest.raises(ValueError, match="needs days"):
        weekly(frozenset(), "05:00", None)
    with pytest.raises(ValueError, match="unknown time zone"):
        weekly(WEEKDAYS, "05:00", None, "Mars/Olympus")


def _brute_open(window: CronWindow, moment: datetime) -> bool:
    """A cron window open at `moment`, found the slow way: some instant in the last
    `duration`, on a whole minute, is the first occurrence of a wall time cron fires at."""
    fields = parse_cron(window.start)
    zone = ZoneInfo(window.zone)
    t = moment.replace(second=0, microsecond=0)
    while moment - t < window.duration:
        local = t.astimezone(zone)
        if (
            local.fold == 0
            and fields.matches(local.date())
            and local.hour in fields.hours
            and local.minute in fields.minutes
        ):
            return True
        t -= timedelta(minutes=1)
    return False


SAMPLES = (
    CronWindow("30 2 * * *", timedelta(minutes=45), BERLIN),
    CronWindow("*/20 1-3 * * 0", timedelta(minutes=7), BERLIN),
    CronWindow("0 22 13 * 5", timedelta(hours=6), NEW_YORK),
    CronWindow("15,16,17 * * * *", timedelta(minutes=1), NEW_YORK),
)


@settings(max_examples=60, deadline=None)
@given(
    window=st.sampled_from(SAMPLES),
    moment=st.datetimes(
        min_value=datetime(2026, 3, 6), max_value=datetime(2026, 3, 31), timezones=st.just(UTC)
    )
    | st.datetimes(
        min_value=datetime(2026, 10, 23), max_value=datetime(2026, 11, 3), timezones=st.just(UTC)
    ),
)
def test_cron_windows_agree_with_a_minute_by_minute_scan(
    window: CronWindow, moment: datetime
) -> None:
    """The interval evaluation says what a slow scan of every minute says, across the DST
    changes of Berlin and New York, for one window and with a weekend denied (UTC)."""
    assert Windows(allow=(window,)).is_open(moment) == _brute_open(window, moment)
    denied = Windows(allow=(window,), deny=(weekly(WEEKEND, "00:00", None),))
    assert denied.is_open(moment) == (_brute_open(window, moment) and moment.weekday() < 5)
