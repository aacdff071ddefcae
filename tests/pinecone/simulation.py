"""Virtual time for concurrent tasks, and a server that enforces a sliding one-second window.

`FakeClock` moves time forward by each sleep, which is right for one task at a time. Several
workers sleeping at once need a scheduler: `VirtualClock.sleep` parks the caller until the
clock is driven to its wake-up time, and `run(until)` wakes sleepers in time order, letting each
run until it sleeps again. Nothing real waits, so minutes of traffic take milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from retention.pinecone import Pacer

IDX = "idx"
RECORDS_A = "Request failed. You've reached the max delete records per second for namespace a."


def delete(ns: str, n: int) -> dict[tuple[str, ...], float]:
    """The reservation a delete of n ids in namespace `ns` makes."""
    return {
        ("delete_requests", IDX, ns): 1,
        ("delete_records", IDX, ns): n,
        ("delete_records", IDX): n,
    }


@dataclass
class VirtualClock:
    """Monotonic time that moves only when `run` wakes the next sleeper."""

    now: float = 0.0
    _sleepers: list[tuple[float, int, asyncio.Future[None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), woken))
        await woken

    async def _settle(self) -> None:
        for _ in range(10):  # let the woken task run up to its next sleep
            await asyncio.sleep(0)

    async def run(self, until: float) -> None:
        """Wake sleepers in time order until none is due before `until`."""
        await self._settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            when, _, woken = heapq.heappop(self._sleepers)
            self.now = when
            woken.set_result(None)
            await self._settle()


@dataclass
class SlidingWindow:
    """A server's limit on one key: what it admitted within the last second, plus this one,
    must stay within `limit_at(t)`, as the emulator (and, presumably, Pinecone) counts it."""

    limit_at: Callable[[float], float]
    admitted: deque[tuple[float, float]] = field(default_factory=deque)
    log: list[tuple[float, bool, float]] = field(default_factory=list)

    def take(self, t: float, weight: float) -> bool:
        while self.admitted and self.admitted[0][0] <= t - 1.0 + 1e-9:
            self.admitted.popleft()
        ok = sum(w for _, w in self.admitted) + weight <= self.limit_at(t) + 1e-9
        if ok:
            self.admitted.append((t, weight))
        self.log.append((t, ok, weight))
        return ok

    def rate(self, start: float, end: float) -> float:
        """Weight admitted per second in [start, end)."""
        return sum(w for t, ok, w in self.log if ok and start <= t < end) / (end - start)

    def refusals(self, start: float = 0.0, end: float = float("inf")) -> list[float]:
        return [t for t, ok, _ in self.log if not ok and start <= t < end]


async def deletes_against(
    lim: Pacer,
    clock: VirtualClock,
    server: SlidingWindow,
    seconds: float,
    *,
    workers: int = 4,
    batch: int = 1000,
    backoff: float = 0.25,
    weights: Mapping[tuple[str, ...], float] | None = None,
) -> None:
    """`workers` tasks send `batch`-record deletes in namespace a through `lim` for `seconds`;
    the server refuses what its window cannot take, and a refused delete is retried after
    `backoff` seconds, as the client does."""

    async def worker() -> None:
        while True:
            while True:
                reservation = await lim.acquire(weights or delete("a", batch))
                if server.take(clock.now, batch):
                    break
                lim.throttled(reservation, RECORDS_A)
                await clock.sleep(backoff)

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    await clock.run(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
