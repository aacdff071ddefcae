"""A clock that tests move by hand, so lag and rate-limit tests need no real sleeps."""

from __future__ import annotations

import threading


class ManualClock:
    """Monotonic seconds that advance only when told; pass it as `EmulatorConfig.clock`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, got: {seconds:g}")
        with self._lock:
            self._now += seconds
