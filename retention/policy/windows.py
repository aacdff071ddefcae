"""Deletion windows (`spec.windows`): when a policy may delete, answered purely.

A window is either a cron opening (`start` in cron, lasting `duration`) or a weekly span (`days`
with `from` and `to`), each in its own time zone. The answer is computed as intervals: over a
span around the moment, each window's openings become [start, end) intervals in UTC, the allow
intervals are merged (no allow entries: always allowed) and the deny intervals cut out of them.

Local times follow the wall clock of the window's zone. A cron time that does not exist (the
hour skipped when summer time begins) does not fire, and one that happens twice (the hour
repeated when it ends) fires once, at its first occurrence, as cron does. A weekly span starts
at the first instant the clock shows `from` (or, when `from` is skipped, the instant the clock
jumps past it) and ends likewise at `to`.

Nothing here reads a clock: every question takes the moment it is about.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from retention.policy.durations import _CRON_FIELDS, _check_cron_field, format_duration

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names by Python's numbering (0 is Monday), as policies write them."""
MAX_WINDOW = timedelta(days=7)
"""The longest a cron window may stay open after each firing."""
HORIZON = timedelta(days=8)
"""How far ahead `closes_at` and `opens_at` look by default: a week and a day."""
_CHECK_FROM = datetime(2026, 1, 5, tzinfo=UTC)
_CHECK_SPAN = timedelta(days=4 * 366)
"""`ever_opens` looks four years ahead, so it sees a leap day and every DST change."""
_TICK = timedelta(microseconds=1)
_HOST_ZONES = frozenset({"localtime", "posixrules"})
"""Zone files that mean whatever the host is set to, not a place."""

Interval: TypeAlias = tuple[datetime, datetime]
"""[start, end) in UTC."""


@dataclass(frozen=True)
class CronFields:
    """The values a 5-field cron expression allows. `weekdays` uses Python's numbering
    (0 is Monday); `any_day`/`any_weekday` say the field starts with `*`, which decides how
    day of month and day of week combine (both restricted: either may match, as in cron)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, day: date) -> bool:
        """Whether the expression fires on this date (at some of its hours and minutes)."""
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


@functools.lru_cache(maxsize=256)
def parse_cron(text: str) -> CronFields:
    """The value sets of a 5-field cron expression; ValueError saying what is wrong. Day of
    week numbers follow cron: 0 and 7 are Sunday."""
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"invalid cron {text!r}: use 5 fields (minute hour day-of-month month "
            "day-of-week), for example '0 22 * * *'"
        )
    sets: list[frozenset[int]] = []
    for part, (name, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        problem = _check_cron_field(part, low, high, names)
        try:
            values = frozenset() if problem else _field_values(part, low, high, names)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            raise ValueError(f"invalid cron {text!r}: {name} field {part!r}: {problem}")
        sets.append(values)
    minutes, hours, days, months, weekdays = sets
    return CronFields(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset((d + 6) % 7 for d in weekdays),
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )


def check_cron(text: str) -> str | None:
    """None when `text` is a valid 5-field cron expression, else what is wrong."""
    try:
        parse_cron(text)
    except ValueError as exc:
        return str(exc)
    return None


def _field_values(part: str, low: int, high: int, names: Mapping[str, int]) -> frozenset[int]:
    """The values of one field that `_check_cron_field` found well formed."""
    values: set[int] = set()
    for item in part.split(","):
        body, _, step = item.partition("/")
        if body == "*":
            first, last = low, high
        else:
            start, _, end = body.partition("-")
            first = _value(start, names)
            last = _value(end, names) if end else (high if step else first)
        if first > last:
            hint = " (Sunday is 0 or 7)" if "sun" in names else ""
            raise ValueError(f"range {body!r} runs backwards; write the smaller value first{hint}")
        values.update(range(first, last + 1, int(step or 1)))
    return frozenset(values)


def _value(text: str, names: Mapping[str, int]) -> int:
    return int(text) if text.isascii() and text.isdigit() else names[text.lower()]


def check_zone(name: str) -> str | None:
    """None when `name` is an IANA time zone this host knows, else what is wrong."""
    if name == "UTC":
        return None
    if name in _HOST_ZONES:
        return (
            f"time zone {name!r} is whatever the host is set to; name the zone, such as "
            "Europe/Berlin, or UTC"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    else:
        return None
    close = difflib.get_close_matches(name, sorted(available_timezones() - _HOST_ZONES), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown time zone {name!r}{hint}; use an IANA name such as Europe/Berlin, or UTC"


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


@dataclass(frozen=True)
class CronWindow:
    """Open for `duration` from each firing of the cron expression `start`, in `zone`."""

    start: str
    duration: timedelta
    zone: str = "UTC"

    def __post_init__(self) -> None:
        parse_cron(self.start)
        if not timedelta(0) < self.duration <= MAX_WINDOW:
            raise ValueError(f"a window lasts more than 0s and at most {MAX_WINDOW.days}d")
        if problem := check_zone(self.zone):
            raise ValueError(problem)

    def __str__(self) -> str:
        return f"{self.start} for {format_duration(self.duration)} ({self.zone})"


@dataclass(frozen=True)
class WeeklyWindow:
    """Open on `days` (0 is Monday) from `start` to `end` (None: 24:00) in `zone`; an end at
    or before the start runs past midnight into the next day."""

    days: frozenset[int]
    start: time = time(0)
    end: time | None = None
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("a weekly window needs days from 0 (Monday) to 6 (Sunday)")
        if self.start == self.end:
            raise ValueError("a weekly window cannot start and end at the same time")
        if problem := check_zone(self.zone):
            raise ValueError(problem)

    def __str__(self) -> str:
        end = self.end.strftime("%H:%M") if self.end is not None else "24:00"
        return f"{_day_list(self.days)} {self.start.strftime('%H:%M')}-{end} ({self.zone})"


Window: TypeAlias = CronWindow | WeeklyWindow


def _day_list(days: frozenset[int]) -> str:
    """mon,wed or mon-fri: runs of three days or more as ranges."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    words = [
        f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" if len(r) > 2 else ",".join(DAY_NAMES[d] for d in r)
        for r in runs
    ]
    return ",".join(words)


@dataclass(frozen=True)
class Windows:
    """When deletions may run: inside an allow window (anywhere when there are none) and
    outside every deny window. Empty: always open."""

    allow: tuple[Window, ...] = ()
    deny: tuple[Window, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.allow or self.deny)

    def is_open(self, moment: datetime) -> bool:
        """Whether deletions may run at `moment` (timezone-aware)."""
        _utc(moment)
        return not self or bool(self.intervals(moment, moment + _TICK))

    def closes_at(self, moment: datetime) -> datetime | None:
        """If open at `moment`: the first later instant it is closed (`moment` itself when
        closed); None when it stays open past HORIZON, as empty windows always do."""
        now = _utc(moment)
        if not self:
            return None
        end = now + HORIZON
        opened = self.intervals(now, end)
        if not opened or opened[0][0] > now:
            return moment
        return None if opened[0][1] >= end else opened[0][1]

    def opens_at(self, moment: datetime, *, within: timedelta = HORIZON) -> datetime | None:
        """The first instant at or after `moment` when it is open (`moment` itself when it
        is open then); None when it does not open `within` that long."""
        now = _utc(moment)
        if not self:
            return moment
        lo, end = now, now + within
        while lo < end:
            hi = min(lo + HORIZON, end)
            opened = self.intervals(lo, hi)
            if opened:
                return moment if opened[0][0] == now else opened[0][0]
            lo = hi
        return None

    def ever_opens(self) -> bool:
        """Whether it opens at all: some open instant in four years from 2026-01-05, long
        enough for a leap day and the DST changes of every zone, when a cron window names
        days of the month or months; else in nine weeks (weekdays repeat every week), so that
        windows that fire every minute are judged in a moment, not in minutes."""
        dated = any(
            isinstance(w, CronWindow)
            and (not parse_cron(w.start).any_day or len(parse_cron(w.start).months) < 12)
            for w in (*self.allow, *self.deny)
        )
        span = _CHECK_SPAN if dated else timedelta(weeks=9)
        return self.opens_at(_CHECK_FROM, within=span) is not None

    def intervals(self, start: datetime, end: datetime) -> tuple[Interval, ...]:
        """The open intervals within [start, end), in UTC, in order, neither overlapping
        nor touching."""
        lo, hi = _utc(start), _utc(end)
        if hi <= lo:
            return ()
        allowed = _merge(_all_openings(self.allow, lo, hi)) if self.allow else [(lo, hi)]
        denied = _merge(_all_openings(self.deny, lo, hi))
        return tuple(_subtract(allowed, denied))

    def describe(self) -> str:
        """Short text for people: `allow 0 22 * * * for 6h (Europe/Berlin); deny sat,sun
        00:00-24:00 (UTC)`."""
        if not self:
            return "always open"
        parts = [
            f"{word} {', '.join(str(w) for w in group)}"
            for word, group in (("allow", self.allow), ("deny", self.deny))
            if group
        ]
        return "; ".join(parts)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(UTC)


def _all_openings(windows: Iterable[Window], lo: datetime, hi: datetime) -> Iterator[Interval]:
    for window in windows:
        yield from _openings(window, lo, hi)


def _openings(window: Window, lo: datetime, hi: datetime) -> Iterator[Interval]:
    """The window's openings that overlap [lo, hi), clipped to it."""
    zone = _zone(window.zone)
    reach = window.duration if isinstance(window, CronWindow) else timedelta(days=2)
    day = (lo - reach).astimezone(zone).date() - timedelta(days=1)
    last = hi.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for start, end in _day_openings(window, day):
            if start < hi and end > lo:
                yield max(start, lo), min(end, hi)
        day += timedelta(days=1)


def _day_openings(window: Window, day: date) -> tuple[Interval, ...]:
    if isinstance(window, CronWindow):
        return _cron_day(window, day)
    return _weekly_day(window, day)


@functools.lru_cache(maxsize=64)
def _cron_day(window: CronWindow, day: date) -> tuple[Interval, ...]:
    """The openings from the firings on one local date. Firings close enough to overlap
    are taken as one run, so that `* * * * *` costs 24 conversions a day, not 1,440."""
    fields = parse_cron(window.start)
    if not fields.matches(day):
        return ()
    zone = _zone(window.zone)
    opened: list[Interval] = []
    for hour in sorted(fields.hours):
        for run in _runs(fields.minutes, window.duration):
            opened.extend(_run_openings(day, hour, run, zone, window.duration))
    return tuple(opened)


@functools.lru_cache(maxsize=256)
def _runs(minutes: frozenset[int], duration: timedelta) -> tuple[tuple[int, ...], ...]:
    """The minutes grouped so that each next firing starts before the previous one ends."""
    runs: list[list[int]] = []
    for minute in sorted(minutes):
        if runs and timedelta(minutes=minute - runs[-1][-1]) <= duration:
            runs[-1].append(minute)
        else:
            runs.append([minute])
    return tuple(tuple(r) for r in runs)


def _run_openings(
    day: date, hour: int, run: tuple[int, ...], zone: tzinfo, duration: timedelta
) -> list[Interval]:
    first = _fire(datetime.combine(day, time(hour, run[0])), zone)
    last = _fire(datetime.combine(day, time(hour, run[-1])), zone)
    if (
        first is not None
        and last is not None
        and last - first == timedelta(minutes=run[-1] - run[0])
    ):
        return [(first, last + duration)]  # one UTC offset throughout: the run is contiguous
    fired = (_fire(datetime.combine(day, time(hour, m)), zone) for m in run)
    return [(f, f + duration) for f in fired if f is not None]


def _fire(local: datetime, zone: tzinfo) -> datetime | None:
    """The UTC instant of a naive local time: its first occurrence, None if it is skipped."""
    moment = local.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence
    return moment if moment.astimezone(zone).replace(tzinfo=None) == local else None


@functools.lru_cache(maxsize=64)
def _weekly_day(window: WeeklyWindow, day: date) -> tuple[Interval, ...]:
    """The opening that starts on one local date, if the window lists its weekday."""
    if day.weekday() not in window.days:
        return ()
    zone = _zone(window.zone)
    start = _reached(datetime.combine(day, window.start), zone)
    overnight = window.end is None or window.end <= window.start
    end_day = day + timedelta(days=1) if overnight else day
    end = _reached(datetime.combine(end_day, window.end or time(0)), zone)
    return ((start, end),) if end > start else ()


def _reached(local: datetime, zone: tzinfo) -> datetime:
    """The first instant the wall clock shows `local` or, when it skips it, jumps past it."""
    fired = _fire(local, zone)
    if fired is not None:
        return fired
    # A skipped time read with the offset from after the jump is an instant before the jump,
    # read with the offset from before it an instant after: the jump lies between them.
    before = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    offset = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):  # bisect for the instant of the change
        middle = before + (after - before) // 2
        if middle.astimezone(zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return after


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(keep: list[Interval], cut: list[Interval]) -> list[Interval]:
    """`keep` without `cut`, both merged and in order."""
    result: list[Interval] = []
    first = 0
    for start, end in keep:
        while first < len(cut) and cut[first][1] <= start:
            first += 1
        k = first
        while k < len(cut) and cut[k][0] < end and start < end:
            if cut[k][0] > start:
                result.append((start, cut[k][0]))
            start = max(start, cut[k][1])
            k += 1
        if start < end:
            result.append((start, end))
    return result
