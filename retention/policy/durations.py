"""Durations (`90d`, `12h`, `2w`) and schedules (cron in UTC, or an interval), checked purely.

A duration is positive (a zero TTL would expire records the moment they are written) and at
most MAX_DURATION, so that `now - duration` is always a representable moment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
_ZERO = re.compile(r"^0+[smhdw]$")
DURATION_HELP = "write a duration as a whole number followed by s, m, h, d or w (for example 90d)"
MAX_DURATION = timedelta(days=36500)
"""100 years: longer TTLs mean "never", and far longer ones reach before year 1."""


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Times the tool reads (plans' asOf, --at, --since, the service's state) lie in this span: far
enough from datetime's ends that a TTL, a window or a schedule computed from them cannot
overflow."""


def parse_moment(text: str) -> datetime:
    """An ISO 8601 time with a timezone (`Z` for UTC); ValueError saying what is wrong."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}; use ISO 8601 such as 2027-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone; add Z for UTC")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"time {text!r} is out of range; give a time between 1970 and 2999 (UTC)")
    return moment


def parse_duration(text: str) -> timedelta:
    """`90d` -> 90 days; raises ValueError with a message a policy author understands."""
    stripped = text.strip() if isinstance(text, str) else None
    match = _DURATION.match(stripped) if stripped is not None else None
    if match is None:
        if stripped is not None and _ZERO.match(stripped):
            raise ValueError(f"must be positive, got: {text}")
        raise ValueError(f"invalid duration {text!r}: {DURATION_HELP}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(
            f"duration {text!r} is longer than 100 years ({format_duration(MAX_DURATION)})"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 7776000 s -> `90d`."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            )
        },
    ),
    (
        "day of week",
        0,
        7,
        {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)


def check_schedule(text: str) -> str | None:
    """None when `text` is a valid interval or 5-field cron expression, else what is wrong."""
    if _ZERO.match(text):
        return f"invalid schedule {text!r}: an interval must be positive"
    if _DURATION.match(text):
        try:
            parse_duration(text)
        except ValueError as exc:
            return f"invalid schedule {text!r}: {exc}"
        return None
    parts = text.split()
    if len(parts) != 5:
        return (
            f"invalid schedule {text!r}: use a cron expression with 5 fields "
            f'("0 3 * * *", UTC) or an interval such as 30s, 15m, 6h, 1d'
        )
    for part, (name, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        problem = _check_cron_field(part, low, high, names)
        if problem:
            return f"invalid schedule {text!r}: {name} field {part!r}: {problem}"
    return None


_NUMBER = re.compile(r"[0-9]{1,9}")
"""A cron number: ASCII digits only (`str.isdigit` also takes '²')."""


def _check_cron_field(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in part.split(","):
        body, _, step = item.partition("/")
        if step and not (_NUMBER.fullmatch(step) and 0 < int(step) <= high - low):
            return f"step {step!r} must be a number from 1 to {high - low}"
        if body == "*":
            continue
        bounds = body.split("-")
        if len(bounds) > 2 or not all(bounds):
            return f"{item!r} is not a value, a range a-b, or *"
        for bound in bounds:
            value = int(bound) if _NUMBER.fullmatch(bound) else names.get(bound.lower())
            if value is None:
                return f"{bound!r} is not a number"
            if not low <= value <= high:
                return f"{bound} is outside {low}-{high}"
    return None
