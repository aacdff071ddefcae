"""Pinecone's published per-second limits, enforced over sliding one-second windows.

Each (limit, namespace or index) pair remembers what it admitted during the last second. A
request is admitted when what it costs, added to that, stays within the limit: six filtered
deletes within any one second get one 429, while a client that spreads its requests at
exactly the published rate, or sends one second's worth at once and then waits a second, is
never refused. A request is charged against every window it counts towards (a 1,000-ID delete
costs 1,000 delete records in its namespace and in its index, plus one delete request); when
any window is full, nothing is charged and the first full one is reported with Pinecone's 429
message.

A request that costs more than a whole second's worth (1,000 IDs against a limit lowered to
500/s) is admitted only into an empty window, so the long-run rate still holds roughly.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from retention.emulator.config import Clock
from retention.quotas import Quota

_EPSILON = 1e-9
_WINDOW_S = 1.0


@dataclass
class _Window:
    limit: float
    used: float = 0.0
    events: deque[tuple[float, float]] = field(default_factory=deque)

    def expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - _WINDOW_S + _EPSILON:
            self.used -= self.events.popleft()[1]
        if not self.events:
            self.used = 0.0

    def can_take(self, cost: float) -> bool:
        if cost > self.limit:
            return not self.events
        return self.used + cost <= self.limit + _EPSILON

    def take(self, now: float, cost: float) -> None:
        """Admit `cost` at `now`; events stay in time order, though requests handled side by
        side may be charged a little out of their arrival order."""
        if self.events and self.events[-1][0] > now:
            events = sorted([*self.events, (now, cost)], key=lambda e: e[0])
            self.events = deque(events)
        else:
            self.events.append((now, cost))
        self.used += cost

    def wait_for(self, now: float, cost: float) -> float:
        """Seconds until `can_take(cost)` holds."""
        need = self.used + min(cost, self.limit) - self.limit
        freed = 0.0
        for stamp, amount in self.events:
            freed += amount
            if freed + _EPSILON >= need:
                return max(0.0, stamp + _WINDOW_S - now)
        return _WINDOW_S


@dataclass(frozen=True)
class Denial:
    """Why a request was refused: which limit, for which namespace or index, and for how long."""

    limit: Quota
    subject: str
    retry_after: float

    @property
    def message(self) -> str:
        return self.limit.message(self.subject)

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class QuotaEnforcer:
    """Windows for one emulator; `limits` empty means `--limits off`."""

    def __init__(self, limits: Sequence[Quota], clock: Clock) -> None:
        self._by_key: dict[tuple[str, str], list[Quota]] = {}
        for limit in limits:
            self._by_key.setdefault((limit.operation, limit.unit), []).append(limit)
        self._clock = clock
        self._windows: dict[tuple[str, str, str], _Window] = {}

    def charge(
        self,
        index: str,
        namespace: str,
        costs: Sequence[tuple[str, str, float]],
        *,
        at: float | None = None,
    ) -> Denial | None:
        """Charge `(operation, unit, amount)` items at moment `at` (the request's arrival;
        now when not given); return the first limit hit, if any."""
        now = self._clock() if at is None else at
        planned: list[tuple[_Window, float]] = []
        for operation, unit, amount in costs:
            for limit in self._by_key.get((operation, unit), ()):
                subject = namespace if limit.scope == "namespace" else index
                window = self._window(limit, index, subject, now)
                if not window.can_take(amount):
                    return Denial(limit, subject, window.wait_for(now, amount))
                planned.append((window, amount))
        for window, amount in planned:
            window.take(now, amount)
        return None

    def _window(self, limit: Quota, index: str, subject: str, now: float) -> _Window:
        key = (limit.name, index, subject)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(limit.per_second)
        window.expire(now)
        return window
