"""When to send a request again, how long to wait first, and when to stop.

Pinecone's guidance is to retry 429 and 5xx with exponential backoff and jitter, and never
another 4xx (a bad filter or a missing key does not improve with repetition). Transport
failures (refused, reset, timed out) are retried too. That makes every retried operation one
that must be safe to repeat: this client only retries reads, dry runs and deletes, and a
delete is idempotent (deleting an absent id is a no-op), so a delete whose answer was lost
may be sent again.

    attempt n fails with a retryable error
        delay = Retry-After (capped), plus a little jitter, when the server sent one
              = uniform(0, min(cap, base * 2**(n-1)))  otherwise ("full jitter")
    stop when an attempt that started `outage` seconds or more after the request's first
         failure fails too, or when the retry budget is spent, or after `attempts` tries

A request rides out a short outage (a deploy, a failover, a network blip): it keeps trying,
at most `cap` seconds apart, until `outage` seconds (30 by default) after its first failure,
and one attempt made after that has failed as well. The clock is the start of each attempt, not
its end, so an attempt that began inside the window and then spent 10 s timing out is always
followed by one more; a pause before the window's end is cut short so that attempt comes on
time. A 429's `Retry-After` is the server's word and is not cut.

The budget keeps a struggling server from being hit by retry storms: every first attempt
deposits `budget_ratio` tokens (up to `budget_minimum`), every retry withdraws one, so over
time at most ~20% extra traffic is retries. It applies while the server answers other requests
(a retry storm on a server that is partly up is what makes it fall over; a 429 is an answer
too, the server refusing on purpose, so 429 retries spend the budget as ever). When nothing has
answered since a request's previous failure, every request is failing: that is an outage, the
budget has nothing to protect that backoff does not already give (each request waits up to
`cap` seconds between tries), and spending it would end the ride-out early, so such retries
are free and the outage window bounds them.

When retries stop, the last error is raised with why appended to its message, e.g.
"... (gave up after 30 s of failures; retries cover 30 s, set --retry-for to change)".
Sleep, the clock and randomness are injected.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from structlog.typing import FilteringBoundLogger

from retention.errors import (
    PineconeError,
    PineconeServerError,
    PineconeTransportError,
    RateLimited,
)

T = TypeVar("T")

RETRYABLE: tuple[type[PineconeError], ...] = (
    PineconeTransportError,
    RateLimited,
    PineconeServerError,
)
EPSILON = 1e-6
"""Seconds of slack when comparing with the end of the outage window, against rounding."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying, how long between tries, and how many retries in total."""

    attempts: int | None = None
    """Tries per request, the first included; None: as many as `outage` allows."""
    base: float = 0.5
    """Seconds: the backoff ceiling of the first retry; doubles per attempt."""
    cap: float = 4.0
    """Seconds: the backoff ceiling never exceeds this, so a server that is back is found
    within a few seconds."""
    outage: float = 30.0
    """Seconds after a request's first failure during which it keeps being retried."""
    max_retry_after: float = 60.0
    """Seconds: a longer `Retry-After` is cut to this."""
    budget_ratio: float = 0.2
    """Retries earned per first attempt."""
    budget_minimum: float = 10.0
    """Retries available at the start and the most that can be saved up."""

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be positive, got: {self.attempts}")
        for name in ("base", "cap", "outage", "max_retry_after", "budget_minimum"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                what = "number of retries" if name == "budget_minimum" else "number of seconds"
                raise ValueError(f"{name} must be a positive {what}, got: {value:g}")
        if not (self.budget_ratio >= 0 and math.isfinite(self.budget_ratio)):
            raise ValueError(f"budget_ratio must not be negative, got: {self.budget_ratio:g}")


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


class Retrying:
    """Runs an attempt function under a `RetryPolicy`; holds the retry budget."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        log: FilteringBoundLogger | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._random = random
        self._log = log if log is not None else structlog.get_logger("retention.pinecone")
        self._tokens = self.policy.budget_minimum
        self._answers = 0  # attempts the server answered, for telling an outage from a storm
        self.retries = 0
        """Retries made so far, for reports and tests."""

    def delay(self, attempt: int, error: Exception) -> float:
        """Seconds to wait after failed attempt number `attempt` (counting from 1)."""
        policy = self.policy
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, policy.max_retry_after) + self._random() * policy.base
        return self._random() * min(policy.cap, policy.base * 2.0 ** (attempt - 1))

    def _withdraw(self) -> bool:
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await `attempt()` until it succeeds, fails for good, or the policy gives up."""
        policy = self.policy
        self._tokens = min(policy.budget_minimum, self._tokens + policy.budget_ratio)
        n = 1
        first_failure: float | None = None
        answers = self._answers
        while True:
            started = self._monotonic()
            try:
                result = await attempt()
            except RETRYABLE as error:
                now = self._monotonic()
                if first_failure is None:
                    first_failure = now
                # Did the server answer anyone since this request last heard from it? A 429
                # is an answer too: the server is up and refusing on purpose.
                others_answered = self._answers != answers
                if isinstance(error, RateLimited):
                    self._answers += 1
                answers = self._answers
                why = self._stop(n, started - first_failure, now - first_failure)
                if why is None and others_answered and not self._withdraw():
                    self._log.warning("pinecone_retry_budget_spent", operation=operation)
                    why = (
                        "retry budget spent: while other requests succeed, retries are held to "
                        f"{policy.budget_ratio:.0%} of requests"
                    )
                if why is not None:
                    if why:
                        _append(error, why)
                    raise
                delay = self.delay(n, error)
                if not (isinstance(error, RateLimited) and error.retry_after is not None):
                    # Come back by the window's end, so the last try is made inside it.
                    delay = min(delay, max(0.0, first_failure + policy.outage - now))
                self._log.warning(
                    "pinecone_retry",
                    operation=operation,
                    attempt=n,
                    attempts=policy.attempts,
                    status=getattr(error, "status", None),
                    request_id=getattr(error, "request_id", None),
                    delay=round(delay, 3),
                    error=str(error),
                )
                self.retries += 1
                await self._sleep(delay)
                n += 1
            except PineconeError:
                self._answers += 1  # a 4xx is an answer: the server is up
                raise
            else:
                self._answers += 1
                return result

    def _stop(self, n: int, started: float, failing: float) -> str | None:
        """Why attempt `n`, started `started` s after the first failure, is the last ("" when
        the policy allows no retry at all, so there is nothing to explain); None to go on."""
        policy = self.policy
        if policy.attempts is not None and n >= policy.attempts:
            return f"gave up after {n} attempts" if n > 1 else ""
        if started >= policy.outage - EPSILON:
            return (
                f"gave up after {_seconds(failing)} s of failures; retries cover "
                f"{policy.outage:g} s, set --retry-for to change"
            )
        return None


def _append(error: PineconeError, why: str) -> None:
    """Add `why` to the message of `error`, which is about to be raised as the final one."""
    error.message = f"{error.message} ({why})"
    error.args = (error.message, *error.args[1:])
