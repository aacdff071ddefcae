"""The multi-key limiter on a fake clock: sharing, fairness, bursts, oversize and AIMD."""

from __future__ import annotations

import asyncio

import pytest

from retention.limits import PUBLISHED, override
from retention.pinecone import RateLimiter

from .conftest import FakeClock

pytestmark = pytest.mark.anyio

IDX = "idx"


def delete(ns: str, n: int) -> dict[tuple[str, ...], float]:
    """The reservation a delete of n ids in namespace `ns` makes."""
    return {
        ("delete_requests", IDX, ns): 1,
        ("delete_records", IDX, ns): n,
        ("delete_records", IDX): n,
    }


def limiter(clock: FakeClock, **settings: float) -> RateLimiter:
    return RateLimiter(
        override(PUBLISHED, settings), monotonic=clock.monotonic, sleep=clock.sleep, headroom=0
    )


async def test_two_namespaces_share_the_index_limit(clock: FakeClock) -> None:
    """Alternating 1,000-id deletes in two namespaces move 5,000 records/s in total, not 10,000."""
    lim = limiter(clock)
    starts = [lim.reserve(delete(ns, 1000)).start for _ in range(10) for ns in ("a", "b")]
    assert starts == pytest.approx([0.2 * i for i in range(20)])
    # In any one-second window the index sees at most 5 batches = 5,000 records.
    assert max(sum(1 for s in starts if t <= s < t + 1 - 1e-9) for t in starts) == 5


async def test_namespace_limit_binds_when_index_limit_is_higher(clock: FakeClock) -> None:
    """With the index at 20,000/s, two namespaces move 5,000/s each, b in a's index gaps."""
    lim = limiter(clock, delete_records_per_s_index=20000)
    a = [lim.reserve(delete("a", 1000)).start for _ in range(5)]
    b = [lim.reserve(delete("b", 1000)).start for _ in range(5)]
    assert a == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    assert b == pytest.approx([0.05, 0.25, 0.45, 0.65, 0.85])


async def test_big_reservation_is_not_starved_by_small_ones(clock: FakeClock) -> None:
    """A 1,000-record request queued behind 100-record ones goes before any that came later."""
    lim = limiter(clock)
    order: list[str] = []

    async def take(name: str, n: int) -> None:
        await lim.acquire(delete("a", n))
        order.append(name)

    async with asyncio.TaskGroup() as group:
        for i in range(5):
            group.create_task(take(f"small-{i}", 100))
        group.create_task(take("big", 1000))
        for i in range(5, 60):
            group.create_task(take(f"small-{i}", 100))
    assert order.index("big") == 5
    assert clock.now == pytest.approx((5 * 100 + 1000 + 54 * 100) / 5000)


async def test_no_burst_above_one_batch_after_idle(clock: FakeClock) -> None:
    """After a long idle spell the first batch goes at once and the second waits its turn."""
    lim = limiter(clock)
    clock.now = 100.0
    first, second = lim.reserve(delete("a", 1000)), lim.reserve(delete("a", 1000))
    assert (first.start, second.start) == pytest.approx((100.0, 100.2))


async def test_request_limit_binds_small_batches(clock: FakeClock) -> None:
    """Ten-id deletes are held by the 100 requests/s namespace limit, not by records."""
    lim = limiter(clock)
    starts = [lim.reserve(delete("a", 10)).start for _ in range(3)]
    assert starts == pytest.approx([0, 0.01, 0.02])


async def test_oversized_reservation_is_capped_at_one_second(clock: FakeClock) -> None:
    """A weight above a key's one-second capacity proceeds and blocks the key for one second."""
    lim = limiter(clock)
    assert lim.reserve(delete("a", 20_000)).start == 0
    assert lim.reserve(delete("a", 1)).start == pytest.approx(1.0)


async def test_keys_without_a_limit_are_free(clock: FakeClock) -> None:
    """A key the limits table does not name never delays anyone."""
    lim = limiter(clock)
    assert lim.limit(("namespace_requests", IDX)) is None
    starts = [lim.reserve({("namespace_requests", IDX): 1000}).start for _ in range(3)]
    assert starts == [0, 0, 0]


async def test_acquire_sleeps_until_the_turn(clock: FakeClock) -> None:
    """acquire() sleeps exactly the gap to its reserved start on the injected sleep."""
    lim = limiter(clock)
    for _ in range(3):
        await lim.acquire(delete("a", 1000))
    assert clock.sleeps == pytest.approx([0.2, 0.2])


RECORDS_A = "Request failed. You've reached the max delete records per second for namespace a."


def run_for(lim: RateLimiter, clock: FakeClock, seconds: float) -> None:
    """Send 1,000-record deletes in namespace a back to back for `seconds`, all accepted."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now = max(clock.now, lim.reserve(delete("a", 1000)).start)


async def test_throttle_slows_only_the_named_key_once_per_episode(clock: FakeClock) -> None:
    """A 429 naming the namespace slows that key by `decrease`; refusals of the same episode do not."""
    lim = RateLimiter(
        monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, decrease=0.5, increase=0
    )
    run_for(lim, clock, 3)
    early = [lim.reserve(delete("a", 1000)) for _ in range(3)]
    clock.now = early[0].start
    assert lim.throttled(early[0], RECORDS_A) == (("delete_records", IDX, "a"),)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(2500)
    assert lim.rate(("delete_records", IDX)) == 5000
    clock.now = early[1].start
    assert lim.throttled(early[1], RECORDS_A) == ()
    later = lim.reserve(delete("a", 1000))
    clock.now = later.start
    assert lim.throttled(later, RECORDS_A) == (("delete_records", IDX, "a"),)
    assert lim.rate(("delete_records", IDX, "a")) < 2500


async def test_decrease_starts_from_what_the_server_accepted(clock: FakeClock) -> None:
    """At 5,000/s, a 429 after the server took 2,000 within a second decreases from 2,000."""
    lim = RateLimiter(
        monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, decrease=0.8, increase=0
    )
    first, second, third = (lim.reserve(delete("a", 1000)) for _ in range(3))
    clock.now = third.start
    lim.throttled(third, RECORDS_A)
    assert (first.start, second.start) == (0, 0.2)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(0.8 * 2000)


async def test_throttle_without_a_recognised_message_slows_every_key(clock: FakeClock) -> None:
    """When the 429 text names no known limit, every limited key of the reservation slows."""
    lim = limiter(clock)
    slowed = lim.throttled(lim.reserve(delete("a", 1000)), "Too many requests")
    assert set(slowed) == set(delete("a", 1000))


async def test_rate_recovers_additively_up_to_the_limit(clock: FakeClock) -> None:
    """After a 429 the rate grows by `increase` x limit per second and never passes the limit."""
    lim = RateLimiter(
        monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, decrease=0.5, increase=0.1
    )
    key = ("delete_records", IDX, "a")
    run_for(lim, clock, 2)
    refused = lim.reserve(delete("a", 1000))
    clock.now = refused.start
    lim.throttled(refused, RECORDS_A)
    assert lim.rate(key) == pytest.approx(2500)
    clock.now += 2
    assert lim.rate(key) == pytest.approx(3500)
    clock.now += 60
    assert lim.rate(key) == 5000


async def test_waiters_requeue_at_the_new_rate_after_a_429(clock: FakeClock) -> None:
    """A waiter paced at the old rate queues again once a 429 slows its key."""

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0)  # really suspend, so the 429 can arrive meanwhile

    lim = RateLimiter(monotonic=clock.monotonic, sleep=sleep, headroom=0, decrease=0.5, increase=0)
    run_for(lim, clock, 2)
    refused = lim.reserve(delete("a", 1000))
    clock.now = refused.start
    waiter = asyncio.ensure_future(lim.acquire(delete("a", 1000)))
    await asyncio.sleep(0)  # the waiter reserves at 5,000/s and starts sleeping
    lim.throttled(refused, RECORDS_A)
    granted = await waiter
    assert granted.start == pytest.approx(refused.start + 0.2 + 0.2)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(2500)


async def test_a_429_among_many_waiters_costs_only_the_new_rate(clock: FakeClock) -> None:
    """Twenty turns on a 5/s key, the third refused: the waiting ones queue again at the new
    rate right behind the refused turn, instead of behind their own abandoned turns."""
    lim = RateLimiter(
        monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, decrease=0.5, increase=0
    )
    key = ("update_by_metadata_requests", IDX, "a")
    turns = [lim.reserve({key: 1}) for _ in range(20)]
    assert [t.start for t in turns[:3]] == pytest.approx([0, 0.2, 0.4])
    clock.now = 0.4
    lim.throttled(turns[2], "")
    rate = lim.rate(key)
    assert rate is not None and rate < 5
    starts = []
    for waiting in turns[3:]:  # each wakes at its old turn, finds it stale, queues again
        clock.now = max(clock.now, waiting.start)
        lim.release(waiting)
        starts.append(lim.reserve({key: 1}).start)
    assert starts == pytest.approx([0.4 + (i + 1) / rate for i in range(17)])


async def test_headroom_paces_just_under_the_limit(clock: FakeClock) -> None:
    """By default the pace is 98% of each limit, so five batches span 1.02 s, not 1 s."""
    lim = RateLimiter(monotonic=clock.monotonic, sleep=clock.sleep)
    starts = [lim.reserve(delete("a", 1000)).start for _ in range(6)]
    assert starts[5] == pytest.approx(1000 / 4900 * 5)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(4900)


async def test_slow_keys_get_more_headroom(clock: FakeClock) -> None:
    """A 5/s key is paced at 90% (4.5/s): one late request must not cost a refusal there."""
    lim = RateLimiter(monotonic=clock.monotonic, sleep=clock.sleep)
    key = ("delete_by_metadata_requests", IDX, "a")
    starts = [lim.reserve({key: 1}).start for _ in range(6)]
    assert starts[5] == pytest.approx(5 / 4.5)
    assert lim.rate(key) == pytest.approx(4.5)
    exact = RateLimiter(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0)
    assert [exact.reserve({key: 1}).start for _ in range(6)][5] == pytest.approx(1.0)


async def test_decrease_uses_the_best_second_not_the_latest(clock: FakeClock) -> None:
    """Two batches a second: a 429 when the latest second holds one batch still reads 2,000/s."""
    lim = RateLimiter(
        override(PUBLISHED, {"delete_records_per_s": 2000}),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        headroom=0,
        decrease=0.8,
        increase=0,
    )
    starts = [lim.reserve(delete("a", 1000)).start for _ in range(4)]
    assert starts == pytest.approx([0, 0.5, 1.0, 1.5])
    clock.now = 2.45
    refused = lim.reserve(delete("a", 1000))
    lim.throttled(refused, RECORDS_A)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(0.8 * 2000)


def test_settings_are_checked() -> None:
    """Nonsense AIMD settings and negative weights are refused with the value in the message."""
    with pytest.raises(ValueError, match=r"decrease must be between 0 and 1, got: 1\.5"):
        RateLimiter(decrease=1.5)
    with pytest.raises(ValueError, match="must not be negative, got: -1"):
        RateLimiter().reserve({("delete_records", IDX): -1})
