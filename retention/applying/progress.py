"""Progress of an apply: a bar on a terminal, a periodic `apply_progress` event otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from structlog.typing import FilteringBoundLogger

WIDTH = 30


class Progress:
    def __init__(
        self,
        *,
        stream: TextIO | None,
        log: FilteringBoundLogger,
        every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream  # a terminal to draw on, or None for events
        self.log = log
        self.every = every
        self.monotonic = monotonic
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.last = 0.0

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = self.last = self.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = self.monotonic()
        if self.stream is not None:
            if now - self.last >= 0.1 or self.done >= self.total:
                self.last = now
                self.stream.write("\r" + self.line(now))
                self.stream.flush()
        elif now - self.last >= self.every:
            self.last = now
            rate = self.rate(now)
            self.log.info(
                "apply_progress", deleted=self.done, total=self.total, per_second=round(rate)
            )

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float) -> str:
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(share * WIDTH)
        rate = self.rate(now)
        left = (self.total - self.done) / rate if rate > 0 and self.total > self.done else 0.0
        return (
            f"[{'#' * filled}{'.' * (WIDTH - filled)}] {self.done:,}/{self.total:,} records  "
            f"{rate:,.0f}/s  ETA {left:.0f}s "
        )

    def finish(self) -> None:
        if self.stream is not None and self.total:
            self.stream.write("\r" + self.line(self.monotonic()) + "\n")
            self.stream.flush()
