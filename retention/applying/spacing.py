"""Keep ID deletes clear of Pinecone's one-second windows, judged by answers rather than sends.

The client's limiter spaces requests by when it sends them; the server counts them when they
arrive. When one request arrives late (a busy server, a new connection), the request sent a
second's worth of records after it, on time, lands in the same second and is refused, and a
429 costs far more than the delay: the limiter lowers its rate and climbs back slowly. A
request has certainly been counted once it is answered, so before each delete this waits, if
needed, until the request a second's worth of records earlier was answered a second ago:

    key: delete records of index/namespace, 5,000/s        batches of 1,000
    sent   |k      |k+1    |k+2    |k+3    |k+4    |k+5 not before answer(k) + 1 s

In steady state answers come back well within the limiter's spacing and nothing waits; only
a slow answer delays the request it would otherwise collide with, by about its lateness.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from retention.quotas import Quota

Key = tuple[str, ...]
WINDOW = 1.0


@dataclass
class _Sent:
    weight: float
    answered: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Spacing:
    """Per limit key, the recent deletes in order, and when each was answered."""

    def __init__(
        self,
        quota_of: Callable[[Key], Quota | None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._quota_of = quota_of
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: dict[Key, deque[_Sent]] = {}

    @asynccontextmanager
    async def turn(self, weights: Mapping[Key, float]) -> AsyncIterator[None]:
        """Wait until a request of `weights` cannot share a window with unanswered history."""
        limits = {k: lim for k in weights if (lim := self._quota_of(k)) is not None}
        while True:
            wait = await self._wait(weights, limits)
            if wait <= 0:
                break
            await self._sleep(wait)
        mine = _Sent(0.0)
        for key in limits:
            self._sent.setdefault(key, deque()).append(_Sent(weights[key], done=mine.done))
        entries = [self._sent[key][-1] for key in limits]
        try:
            yield
        finally:
            now = self._monotonic()
            for entry in entries:
                entry.answered = now
            mine.done.set()
            self._trim(now)

    async def _wait(self, weights: Mapping[Key, float], limits: Mapping[Key, Quota]) -> float:
        """Seconds to wait before sending (after awaiting unanswered blockers), 0 when clear."""
        longest = 0.0
        for key, limit in limits.items():
            total = min(weights[key], limit.per_second)
            for sent in reversed(self._sent.get(key, ())):
                total += sent.weight
                if total <= limit.per_second:
                    continue
                if sent.answered is None:
                    await sent.done.wait()
                    return await self._wait(weights, limits)
                longest = max(longest, sent.answered + WINDOW - self._monotonic())
                break
        return longest

    def _trim(self, now: float) -> None:
        for history in self._sent.values():
            while history and history[0].answered is not None and history[0].answered < now - 2:
                history.popleft()
