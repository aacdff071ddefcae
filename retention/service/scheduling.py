"""A policy's schedule as an APScheduler 3.x trigger.

Cron schedules are UTC; intervals (`30s`, `15m`, `6h`, `1d`) start one interval after the job is
added. A policy without a schedule runs hourly. Jobs (see `running.Service`) run at most one
instance, coalesce missed runs into one, and tolerate an hour of delay (a slow apply of another
policy must not make this one skip its turn).
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from retention.policy import Policy
from retention.policy.durations import parse_duration

MISFIRE_GRACE = 3600
DEFAULT_SCHEDULE = "1h"


def trigger_for(policy: Policy) -> BaseTrigger:
    schedule = policy.schedule or DEFAULT_SCHEDULE
    jitter = policy.jitter
    try:
        every = parse_duration(schedule)
    except ValueError:
        return cron_trigger(schedule, jitter)
    default_jitter = min(every / 10, timedelta(minutes=5))
    spread = jitter if jitter is not None else default_jitter
    return IntervalTrigger(
        seconds=every.total_seconds(), jitter=int(spread.total_seconds()) or None
    )


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day_names(field: str) -> str:
    """Cron day-of-week numbers (0-7, Sunday first and last) as explicit day names."""
    names: list[str] = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        if body == "*" and not step:
            return "*"
        if body == "*":
            first, last = 0, 6
        elif re.fullmatch(r"\d+(-\d+)?", body):
            start, _, end = body.partition("-")
            first = int(start)
            last = int(end) if end else (6 if step else first)
        else:  # names such as mon-fri: APScheduler reads them as cron does
            names.append(item)
            continue
        names.extend(_DAYS[d % 7] for d in range(first, last + 1, int(step or 1)))
    return ",".join(dict.fromkeys(names))


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
