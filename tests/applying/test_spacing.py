"""Spacing: a delete waits for the answer a second's worth of records earlier, plus a second."""

from __future__ import annotations

import asyncio

import httpx

from retention.applying.spacing import Spacing
from retention.pinecone import PineconeClient, PineconeSettings
from retention.quotas import BY_NAME, Quota

CLIENT = PineconeClient(httpx.AsyncClient(), PineconeSettings(api_key="test-key"))


def delete_weights(index: str, namespace: str, ids: int) -> dict[tuple[str, ...], float]:
    """What a delete of `ids` IDs counts against, named by the client itself."""
    return CLIENT.index_at(index, "https://idx.example").delete_weights(namespace, ids)


class Clock:
    """Virtual time: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def limits(key: tuple[str, ...]) -> Quota | None:
    scope = "namespace" if len(key) == 3 else "index"
    return BY_NAME.get(f"{key[0]}_per_s_{scope}")


def test_a_late_answer_delays_the_request_it_would_share_a_second_with() -> None:
    """Batch 0 answered at 0.05 s: batch 5 (a second's worth later) waits until 1.05 s."""
    clock = Clock()
    spacing = Spacing(limits, monotonic=clock.monotonic, sleep=clock.sleep)
    sent: list[float] = []

    async def main() -> None:
        for k in range(7):
            clock.now = max(clock.now, 0.204 * k)  # the limiter's spacing, 2% under the limit
            async with spacing.turn(delete_weights("idx", "ns", 1000)):
                sent.append(clock.now)
                clock.now += 0.05 if k == 0 else 0.002

    asyncio.run(main())
    assert sent[:5] == [0.204 * k for k in range(5)]
    assert abs(sent[5] - 1.05) < 1e-9  # not at 1.02: batch 0 was answered at 0.05
    assert abs(sent[6] - 0.204 * 6) < 1e-9  # batch 1 was answered promptly: on time again


def test_prompt_answers_never_wait() -> None:
    """With answers within the limiter's spacing, nothing waits beyond it."""
    clock = Clock()
    spacing = Spacing(limits, monotonic=clock.monotonic, sleep=clock.sleep)

    async def main() -> None:
        for k in range(50):
            clock.now = 0.204 * k
            async with spacing.turn(delete_weights("idx", "ns", 1000)):
                assert clock.now == 0.204 * k
                clock.now += 0.01

    asyncio.run(main())


def test_two_namespaces_share_the_index_window() -> None:
    """Two namespaces of one index: the index's 5,000/s counts both."""
    clock = Clock()
    spacing = Spacing(limits, monotonic=clock.monotonic, sleep=clock.sleep)
    sent: list[float] = []

    async def one(ns: str) -> None:
        async with spacing.turn(delete_weights("idx", ns, 1000)):
            sent.append(clock.now)
            await clock.sleep(0.1)

    async def main() -> None:
        await asyncio.gather(*(one(ns) for ns in ("a", "b", "a", "b", "a", "b")))

    asyncio.run(main())
    assert sorted(sent)[-1] >= 1.0  # the sixth 1,000 waits a second after an answer


def test_keys_without_limits_are_free() -> None:
    """A key the limiter does not know costs nothing."""
    clock = Clock()
    spacing = Spacing(lambda key: None, monotonic=clock.monotonic, sleep=clock.sleep)

    async def main() -> None:
        for _ in range(20):
            async with spacing.turn(delete_weights("idx", "ns", 1000)):
                pass

    asyncio.run(main())
    assert clock.now == 0.0
