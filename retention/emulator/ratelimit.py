"""Pinecone's published per-second limits, enforced with token buckets.

Each (limit, namespace or index) pair owns a bucket that holds one second's worth of units and
refills continuously, so a client that spreads its requests at exactly the published rate, or
sends one second's worth at once and then waits a second, is never refused. A request is
charged against every bucket it counts towards (a 1,000-ID delete costs 1,000 delete records
in its namespace and in its index, plus one delete request); when any bucket is short, nothing
is charged and the first limit that was short is reported with Pinecone's 429 message.

A request that costs more than a whole bucket (1,000 IDs against a limit lowered to 500/s) is
let through when the bucket is full and leaves it in debt, so the long-run rate still holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from retention.emulator.config import Clock
from retention.limits import Limit

_EPSILON = 1e-9


@dataclass
class _Bucket:
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.capacity)
            self.stamp = now

    def can_take(self, cost: float) -> bool:
        if cost > self.capacity:
            return self.tokens + _EPSILON >= self.capacity
        return self.tokens + _EPSILON >= cost

    def wait_for(self, cost: float) -> float:
        """Seconds until `can_take(cost)` holds."""
        need = min(cost, self.capacity) - self.tokens
        return max(0.0, need / self.capacity)


@dataclass(frozen=True)
class Denial:
    """Why a request was refused: which limit, for which namespace or index, and for how long."""

    limit: Limit
    subject: str
    retry_after: float

    @property
    def message(self) -> str:
        return self.limit.message(self.subject)

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter:
    """Buckets for one emulator; `limits` empty means `--limits off`."""

    def __init__(self, limits: Sequence[Limit], clock: Clock) -> None:
        self._by_key: dict[tuple[str, str], list[Limit]] = {}
        for limit in limits:
            self._by_key.setdefault((limit.operation, limit.unit), []).append(limit)
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def charge(
        self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]]
    ) -> Denial | None:
        """Charge `(operation, unit, amount)` items; return the first limit hit, if any."""
        now = self._clock()
        planned: list[tuple[_Bucket, float]] = []
        for operation, unit, amount in costs:
            for limit in self._by_key.get((operation, unit), ()):
                subject = namespace if limit.scope == "namespace" else index
                bucket = self._bucket(limit, index, subject, now)
                if not bucket.can_take(amount):
                    return Denial(limit, subject, bucket.wait_for(amount))
                planned.append((bucket, amount))
        for bucket, amount in planned:
            bucket.tokens -= amount
        return None

    def _bucket(self, limit: Limit, index: str, subject: str, now: float) -> _Bucket:
        key = (limit.name, index, subject)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != limit.per_second:
            bucket = self._buckets[key] = _Bucket(limit.per_second, limit.per_second, now)
        else:
            bucket.refill(now)
        return bucket
