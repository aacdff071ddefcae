"""A policy's schedule as an APScheduler 3.x trigger.

Cron schedules are UTC. An interval (`30s`, `15m`, `6h`, `1d`) first fires at the policy's last
successful run plus the interval (from the state directory), or, when that moment is past or
unknown, within its jitter of start-up: a pod that restarts more often than a policy's interval
must not put it off for ever. A policy without a schedule runs hourly. Jobs (see `running.Service`) run at most one
instance, coalesce missed runs into one, and tolerate an hour of delay (a slow apply of another
policy must not make this one skip its turn).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from retention.policy import Policy
from retention.policy.durations import parse_duration

MISFIRE_GRACE = 3600
DEFAULT_SCHEDULE = "1h"


START_DELAY = timedelta(seconds=1)
"""A policy that is due fires this long after start-up (plus its jitter), once the service is
listening."""


def trigger_for(
    policy: Policy, *, now: datetime, last_success: datetime | None = None
) -> BaseTrigger:
    """The policy's trigger, for a service started at `now`; `last_success` is when the policy
    last reconciled successfully, if the state directory knows."""
    schedule = policy.schedule or DEFAULT_SCHEDULE
    jitter = policy.jitter
    try:
        every = parse_duration(schedule)
    except ValueError:
        return cron_trigger(schedule, jitter)
    default_jitter = min(every / 10, timedelta(minutes=5))
    spread = jitter if jitter is not None else default_jitter
    due = last_success + every if last_success is not None else None
    if due is not None and due > now + every:  # a success "in the future": a clock set back
        due = now + every
    first = due if due is not None and due > now + START_DELAY else now + START_DELAY
    return IntervalTrigger(
        seconds=every.total_seconds(),
        start_date=first,
        timezone=UTC,
        jitter=int(spread.total_seconds()) or None,
    )


def period_of(policy: Policy, now: datetime) -> float:
    """Seconds between two firings of the policy: its interval, or for a cron schedule the gap
    between its next two firings after `now` (what an alert allows before it calls a policy
    late)."""
    schedule = policy.schedule or DEFAULT_SCHEDULE
    try:
        return parse_duration(schedule).total_seconds()
    except ValueError:
        pass
    trigger = cron_trigger(schedule)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 0.0


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day_names(field: str) -> str:
    """Cron day-of-week numbers or names (0-7 or sun-sat, Sunday first and last) as explicit
    day names, in which APScheduler (Monday first) cannot misread a number or a range."""
    names: list[str] = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        if body == "*" and not step:
            return "*"
        if body == "*":
            first, last = 0, 6
        else:
            start, _, end = body.partition("-")
            first = _day(start)
            last = _day(end) if end else (6 if step else first)
        names.extend(_DAYS[d % 7] for d in range(first, last + 1, int(step or 1)))
    return ",".join(dict.fromkeys(names))


def _day(text: str) -> int:
    """A cron day of the week, by number (0 and 7: Sunday) or by name."""
    return int(text) if text.isascii() and text.isdigit() else _DAYS.index(text.lower()[:3])


def cron_trigger(schedule: str, jitter: timedelta | None = None) -> CronTrigger:
    """A 5-field cron expression in UTC. Day-of-week numbers follow cron (0 and 7 are Sunday),
    not APScheduler's own numbering (0 is Monday), so they are passed as names."""
    minute, hour, day, month, dow = schedule.split()
    dow = _day_names(dow)
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=dow,
        timezone=UTC,
        jitter=int(jitter.total_seconds()) if jitter else None,
    )
