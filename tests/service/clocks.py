"""The injected wall clock the reconciler tests drive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2040, 1, 1, 12, 0, tzinfo=UTC)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


class Clock:
    """UTC time that moves only when a test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by
