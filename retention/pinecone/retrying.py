"""When to send a request again, and how long to wait first.

Pinecone's guidance is to retry 429 and 5xx with exponential backoff and jitter, and never
another 4xx (a bad filter or a missing key does not improve with repetition). Transport
failures (refused, reset, timed out) are retried too. That makes every retried operation one
that must be safe to repeat: this client only retries reads, dry runs and deletes, and a
delete is idempotent (deleting an absent id is a no-op), so a delete whose answer was lost
may be sent again.

    attempt n fails with a retryable error
        delay = Retry-After (capped), plus a little jitter, when the server sent one
              = uniform(0, min(cap, base * 2**(n-1)))  otherwise ("full jitter")
    stop when n == attempts, or when the retry budget is spent

The budget keeps a struggling server from being hit by retry storms: every first attempt
deposits `budget_ratio` tokens (up to `budget_minimum`), every retry withdraws one, so over
time at most ~20% extra traffic is retries. Sleep and randomness are injected.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from retention.errors import PineconeServerError, PineconeTransportError, RateLimited

T = TypeVar("T")

RETRYABLE: tuple[type[Exception], ...] = (PineconeTransportError, RateLimited, PineconeServerError)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, how long between, and how many retries in total."""

    attempts: int = 6
    """Tries per request, the first included."""
    base: float = 0.5
    """Seconds: the backoff ceiling of the first retry; doubles per attempt."""
    cap: float = 20.0
    """Seconds: the backoff ceiling never exceeds this."""
    max_retry_after: float = 60.0
    """Seconds: a longer `Retry-After` is cut to this."""
    budget_ratio: float = 0.2
    """Retries earned per first attempt."""
    budget_minimum: float = 10.0
    """Retries available at the start and the most that can be saved up."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be positive, got: {self.attempts}")
        for name in ("base", "cap", "max_retry_after", "budget_minimum"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got: {getattr(self, name):g}")
        if self.budget_ratio < 0:
            raise ValueError(f"budget_ratio must not be negative, got: {self.budget_ratio:g}")


class Retrying:
    """Runs an attempt function under a `RetryPolicy`; holds the retry budget."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        log: Any = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._log = log if log is not None else structlog.get_logger("retention.pinecone")
        self._tokens = self.policy.budget_minimum
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
        while True:
            try:
                return await attempt()
            except RETRYABLE as error:
                if n >= policy.attempts:
                    raise
                if not self._withdraw():
                    self._log.warning("pinecone_retry_budget_spent", operation=operation)
                    raise
                delay = self.delay(n, error)
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
