"""Injected failures and latency, for testing a client's retries against bad days.

Decisions come from one seeded generator in request order, so a run with `--seed` fails the
same requests every time. A faulty request fails before it touches the store: a retry of it is
always safe, which is what the client under test has to assume of a 5xx anyway.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

FAULT_MESSAGES = {
    429: "Request failed. Too many requests; the emulator injected this fault.",
    500: "Internal error (injected by the emulator).",
    502: "Bad gateway (injected by the emulator).",
    503: "Service unavailable (injected by the emulator).",
    504: "Upstream request timeout (injected by the emulator).",
}


class Faults:
    """Draws, per request, whether it fails and with which status."""

    def __init__(self, rate: float, statuses: Sequence[int], seed: int | None) -> None:
        self.rate = rate
        self.statuses = tuple(statuses)
        self._random = random.Random(seed)
        self.injected = 0

    def draw(self) -> int | None:
        if self.rate <= 0:
            return None
        if self._random.random() >= self.rate:
            return None
        self.injected += 1
        return self._random.choice(self.statuses)


def fault_message(status: int) -> str:
    return FAULT_MESSAGES.get(status, f"Request failed with status {status} (injected fault).")
