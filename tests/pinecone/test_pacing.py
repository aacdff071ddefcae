"""The multi-key limiter on a fake clock: sharing, fairness, bursts, oversize, and limits
lower than the table's learned from 429s, held, and probed again."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from retention.pinecone import Pacer
from retention.pinecone.pacing import Reservation
from retention.quotas import PUBLISHED, override

from .conftest import FakeClock
from .simulation import IDX, RECORDS_A, SlidingWindow, VirtualClock, delete, deletes_against

pytestmark = pytest.mark.anyio

NS_RECORDS = ("delete_records", IDX, "a")


def limiter(clock: FakeClock, **settings: float) -> Pacer:
    return Pacer(
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
    assert lim.quota(("namespace_requests", IDX)) is None
    starts = [lim.reserve({("namespace_requests", IDX): 1000}).start for _ in range(3)]
    assert starts == [0, 0, 0]


async def test_acquire_sleeps_until_the_turn(clock: FakeClock) -> None:
    """acquire() sleeps exactly the gap to its reserved start on the injected sleep."""
    lim = limiter(clock)
    for _ in range(3):
        await lim.acquire(delete("a", 1000))
    assert clock.sleeps == pytest.approx([0.2, 0.2])


async def test_a_429_learns_the_named_key_once_per_episode(clock: FakeClock) -> None:
    """After 2 of 3 batches got through, a 429 naming the namespace teaches that key 2,000/s;
    a refusal of the same episode changes nothing; one right after it halves the limit."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, decrease=0.5, increase=0)
    _, _, third, fourth = (lim.reserve(delete("a", 1000)) for _ in range(4))
    clock.now = third.start
    assert lim.throttled(third, RECORDS_A) == (NS_RECORDS,)
    assert (lim.learned(NS_RECORDS), lim.rate(NS_RECORDS)) == (2000, 2000)
    assert (lim.learned(("delete_records", IDX)), lim.rate(("delete_records", IDX))) == (None, 5000)
    clock.now = fourth.start
    assert lim.throttled(fourth, RECORDS_A) == ()
    assert lim.learned(NS_RECORDS) == 2000
    later = lim.reserve(delete("a", 1000))
    assert later.start == pytest.approx(1.0)  # 0 and 0.2 replayed at 2,000/s are through
    clock.now = later.start
    assert lim.throttled(later, RECORDS_A) == (NS_RECORDS,)
    assert lim.learned(NS_RECORDS) == pytest.approx(1000)


async def test_a_learned_limit_gets_its_own_headroom(clock: FakeClock) -> None:
    """By default a learned 2,000/s is paced at 96% (1,920/s): the server holds it exactly."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    _, _, third = (lim.reserve(delete("a", 1000)) for _ in range(3))
    clock.now = third.start
    lim.throttled(third, RECORDS_A)
    assert lim.learned(NS_RECORDS) == pytest.approx(2000)
    assert lim.rate(NS_RECORDS) == pytest.approx(1920)


COUNTS = ("update_by_metadata_requests", IDX)
COUNTS_429 = "You've reached the max update by metadata requests per second for index idx."


def count_at_full_pace(lim: Pacer, clock: FakeClock, seconds: float) -> list[Reservation]:
    """Counts sent at the pace the limiter sets, each at its turn, for `seconds`."""
    sent = []
    while clock.now < seconds:
        turn = lim.reserve({COUNTS: 1})
        clock.now = turn.start
        sent.append(turn)
    return sent


async def test_one_refusal_among_hundreds_keeps_the_table_limit(clock: FakeClock) -> None:
    """Counts at 490/s, still ramping up (400 sent in the last second), and the server refuses
    one: a bunch on the way, not a lower limit. The table's 500/s is kept, paced with the
    learned headroom (480/s), not what the ramp happened to send (which would be 384/s)."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    sent = count_at_full_pace(lim, clock, 1.0)
    for turn in sent[:90]:  # the start was slower: give back the first 90 turns' share
        lim.release(turn)
    lim.throttled(sent[-1], COUNTS_429)
    assert lim.learned(COUNTS) == 500
    assert lim.rate(COUNTS) == pytest.approx(480)


async def test_a_lone_refusal_at_a_learned_limit_lowers_nothing(clock: FakeClock) -> None:
    """Once a limit is learned, an isolated refusal (one in 1,400 sends) pauses the key briefly
    and keeps the pace; a run of refusals (a fifth of what was sent) lowers the limit."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    sent = count_at_full_pace(lim, clock, 1.0)
    lim.throttled(sent[-1], COUNTS_429)
    assert lim.rate(COUNTS) == pytest.approx(480)
    sent = count_at_full_pace(lim, clock, 4.0)
    before = clock.now
    lim.throttled(sent[-1], COUNTS_429)
    assert (lim.learned(COUNTS), lim.rate(COUNTS)) == (500, pytest.approx(480))
    paused = lim.reserve({COUNTS: 1}).start
    assert paused == pytest.approx(before + 0.04, abs=0.003)  # the learned headroom: 40 ms
    clock.now = paused
    for n in itertools.count():  # now the server refuses every fifth count
        turn = lim.reserve({COUNTS: 1})
        clock.now = turn.start
        if n % 5 == 4:
            lim.throttled(turn, COUNTS_429)
        if lim.rate(COUNTS) < 480 or clock.now > 10:
            break
    assert clock.now < 6  # learned within a second or two
    assert lim.rate(COUNTS) <= 480 * 0.85 + 1e-6


async def test_throttle_without_a_recognised_message_slows_every_key(clock: FakeClock) -> None:
    """When the 429 text names no known limit, every limited key of the reservation learns."""
    lim = limiter(clock)
    slowed = lim.throttled(lim.reserve(delete("a", 1000)), "Too many requests")
    assert set(slowed) == set(delete("a", 1000))


async def test_a_learned_limit_is_held_then_probed_slowly(clock: FakeClock) -> None:
    """The pace stays at the learned limit for `hold` seconds, then grows by `increase` x the
    table's limit per second; reaching the table's limit forgets what was learned."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, hold=100, increase=0.1)
    _, _, third = (lim.reserve(delete("a", 1000)) for _ in range(3))
    clock.now = third.start
    lim.throttled(third, RECORDS_A)
    clock.now = 50
    assert lim.rate(NS_RECORDS) == pytest.approx(2000)
    clock.now = third.start + 100 + 2
    assert lim.rate(NS_RECORDS) == pytest.approx(3000)
    assert lim.learned(NS_RECORDS) == pytest.approx(2000)
    clock.now += 60
    assert (lim.rate(NS_RECORDS), lim.learned(NS_RECORDS)) == (5000, None)


async def test_waiters_requeue_at_the_new_rate_after_a_429() -> None:
    """A waiter paced at the old rate queues again once a 429 slows its key, behind what
    went out in the last second replayed at the new rate."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, increase=0)
    _, _, refused = (lim.reserve(delete("a", 1000)) for _ in range(3))
    clock.now = refused.start
    waiter = asyncio.ensure_future(lim.acquire(delete("a", 1000)))
    await asyncio.sleep(0)  # the waiter reserves 0.6 at 5,000/s and starts sleeping
    lim.throttled(refused, RECORDS_A)
    await clock.run(until=10)
    granted = await waiter
    assert granted.start == pytest.approx(1.0)
    assert lim.rate(NS_RECORDS) == pytest.approx(2000)


async def test_turns_given_back_after_a_429_free_their_other_keys_at_once() -> None:
    """Four workers at the table's 5,000/s, the 20th delete refused as jitter would: the
    namespace learns 5,000/s and the sends go on every 1,000 / 4,800 s, with no gap where a
    requeued turn waits behind a stale one's slot on the index key."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    sends: list[tuple[float, bool]] = []

    async def worker() -> None:
        while True:
            reservation = await lim.acquire(delete("a", 1000))
            sends.append((clock.now, len(sends) != 19))
            if not sends[-1][1]:
                lim.throttled(reservation, RECORDS_A)
                await clock.sleep(0.25)

    tasks = [asyncio.ensure_future(worker()) for _ in range(4)]
    await clock.run(until=8)
    for task in tasks:
        task.cancel()
    assert lim.learned(NS_RECORDS) == pytest.approx(5000)
    after = [t for t, _ in sends[19:]]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert max(gaps) <= 1000 / 4800 + 1e-6


async def test_a_429_among_many_waiters_costs_only_the_new_rate(clock: FakeClock) -> None:
    """Twenty turns on a 5/s key, the third refused: the waiting ones queue again at the new
    rate right behind what went through, instead of behind their own abandoned turns."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0, increase=0)
    key = ("update_by_metadata_requests", IDX, "a")
    turns = [lim.reserve({key: 1}) for _ in range(20)]
    assert [t.start for t in turns[:3]] == pytest.approx([0, 0.2, 0.4])
    clock.now = 0.4
    lim.throttled(turns[2], "")
    assert lim.rate(key) == pytest.approx(2)  # two requests got through in that second
    starts = []
    for waiting in turns[3:]:  # each wakes at its old turn, finds it stale, queues again
        clock.now = max(clock.now, waiting.start)
        lim.release(waiting)
        starts.append(lim.reserve({key: 1}).start)
    assert starts == pytest.approx([1.0 + i / 2 for i in range(17)])


async def test_headroom_paces_just_under_the_limit(clock: FakeClock) -> None:
    """By default the pace is 98% of each limit, so five batches span 1.02 s, not 1 s."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    starts = [lim.reserve(delete("a", 1000)).start for _ in range(6)]
    assert starts[5] == pytest.approx(1000 / 4900 * 5)
    assert lim.rate(("delete_records", IDX, "a")) == pytest.approx(4900)


async def test_slow_keys_get_more_headroom(clock: FakeClock) -> None:
    """A 5/s key is paced at 90% (4.5/s): one late request must not cost a refusal there."""
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    key = ("delete_by_metadata_requests", IDX, "a")
    starts = [lim.reserve({key: 1}).start for _ in range(6)]
    assert starts[5] == pytest.approx(5 / 4.5)
    assert lim.rate(key) == pytest.approx(4.5)
    exact = Pacer(monotonic=clock.monotonic, sleep=clock.sleep, headroom=0)
    assert [exact.reserve({key: 1}).start for _ in range(6)][5] == pytest.approx(1.0)


async def test_learns_from_the_best_second_not_the_latest(clock: FakeClock) -> None:
    """Two batches a second: a 429 when the latest second holds one batch still reads 2,000/s."""
    lim = Pacer(
        override(PUBLISHED, {"delete_records_per_s": 2000}),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        headroom=0,
    )
    starts = [lim.reserve(delete("a", 1000)).start for _ in range(4)]
    assert starts == pytest.approx([0, 0.5, 1.0, 1.5])
    clock.now = 2.45
    refused = lim.reserve(delete("a", 1000))
    lim.throttled(refused, RECORDS_A)
    assert (lim.learned(NS_RECORDS), lim.rate(NS_RECORDS)) == (2000, 2000)


async def test_one_429_then_none_over_300_s_at_a_hidden_2000() -> None:
    """Against a sliding one-second window at 2,000/s while the table says 5,000/s, four
    workers sending 1,000-record deletes for 300 s get one 429 and move >= 0.95 x 2,000/s."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    server = SlidingWindow(lambda t: 2000)
    await deletes_against(lim, clock, server, 300)
    assert len(server.refusals()) == 1
    assert len(server.refusals()) / len(server.log) <= 0.005
    assert server.rate(0, 300) >= 0.95 * 2000
    assert lim.learned(NS_RECORDS) == pytest.approx(2000)


async def test_the_learned_limit_is_probed_once_per_hold() -> None:
    """Over 1,300 s at a hidden 2,000/s: the first 429, then one probe after each 600 s hold,
    each finding 2,000/s again."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    server = SlidingWindow(lambda t: 2000)
    await deletes_against(lim, clock, server, 1300)
    refused = server.refusals()
    assert len(refused) == 3
    assert refused[0] < 1 and 600 < refused[1] < 620 and 1200 < refused[2] < 1240
    assert server.rate(0, 1300) >= 0.95 * 2000
    assert lim.learned(NS_RECORDS) == pytest.approx(2000)


async def test_a_limit_lowered_again_later_is_followed() -> None:
    """The hidden limit falls from 2,000/s to 1,000/s at 100 s: two more 429s, then none,
    at >= 0.95 of the new limit."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    server = SlidingWindow(lambda t: 2000 if t < 100 else 1000)
    await deletes_against(lim, clock, server, 300)
    assert len(server.refusals(0, 100)) == 1
    assert len(server.refusals(100)) <= 2
    assert server.refusals(105) == []
    assert server.rate(110, 300) >= 0.95 * 1000
    assert lim.learned(NS_RECORDS) == pytest.approx(1000)


async def test_a_limit_raised_later_is_found_after_the_hold() -> None:
    """The hidden limit rises from 2,000/s to 5,000/s at 60 s: the pace stays at the learned
    limit through the 600 s hold, then probes up to the table's 5,000/s without a 429."""
    clock = VirtualClock()
    lim = Pacer(monotonic=clock.monotonic, sleep=clock.sleep)
    server = SlidingWindow(lambda t: 2000 if t < 60 else 5000)
    await deletes_against(lim, clock, server, 1200)
    assert len(server.refusals()) == 1
    assert server.rate(60, 600) == pytest.approx(1920, rel=0.01)
    assert server.rate(1050, 1200) >= 0.95 * 5000
    assert lim.learned(NS_RECORDS) is None


def test_a_given_back_turn_leaves_a_gap_that_the_next_turns_take(clock: FakeClock) -> None:
    """Back-to-back turns are booked as one span; giving one back splits it, and the next
    reservations fill the gap before the queue's end."""
    lim = limiter(clock)
    key = ("update_by_metadata_requests", IDX)
    turns = [lim.reserve({key: 1}) for _ in range(5)]
    assert [t.start for t in turns] == pytest.approx([0, 0.002, 0.004, 0.006, 0.008])
    lim.release(turns[2])
    lim.release(turns[3])
    again = [lim.reserve({key: 1}).start for _ in range(3)]
    assert again == pytest.approx([0.004, 0.006, 0.010])


def test_turns_given_back_after_a_429_open_no_hole_in_the_pause_it_set(clock: FakeClock) -> None:
    """A 429 replaces a key's booked turns with one pause until what went out is through at the
    new rate; the waiters that then give their stale turns back must not reopen parts of it."""
    lim = limiter(clock)
    key = ("update_by_metadata_requests", IDX)
    turns = [lim.reserve({key: 1}) for _ in range(60)]
    clock.now = 0.005
    lim.throttled(turns[0], "max update by metadata requests per second for index")
    pause_end = lim.reserve({key: 1}).start
    assert pause_end > 0.005
    for stale in turns[3:]:
        lim.release(stale)  # as `acquire` does when it wakes to a slowed key
    assert lim.reserve({key: 1}).start > pause_end


def test_random_turns_never_overlap_and_take_the_earliest_free_start() -> None:
    """Against a plain list of every live turn: reservations and give-backs in random order
    over three keys sharing an index key, on a clock that moves on, each turn starts at the
    earliest moment free on all its keys, and no two live turns of a key overlap."""
    rnd = random.Random(7)
    clock = FakeClock()
    lim = limiter(clock)
    keys = [("delete_records", IDX, ns) for ns in "abc"]
    live: list[tuple[Reservation, list[tuple[tuple[str, ...], float, float]]]] = []

    def earliest(wanted: dict[tuple[str, ...], float]) -> float:
        spans = {k: [(a, b) for r, slots in live for k2, a, b in slots if k2 == k] for k in wanted}
        start, moved = clock.now, True
        while moved:
            moved = False
            for k, weight in wanted.items():
                end = start + weight / lim.rate(k)  # type: ignore[operator]
                for a, b in spans[k]:
                    if a < end - 1e-9 and b > start + 1e-9:
                        start, moved = b, True
                        break
        return start

    for _ in range(1000):
        if live and rnd.random() < 0.3:
            reservation, _slots = live.pop(rnd.randrange(len(live)))
            lim.release(reservation)
            continue
        clock.now += rnd.choice((0.0, 0.0, 0.0005, 0.05))
        live = [(r, s) for r, s in live if any(b > clock.now for _, _, b in s)]
        ns = rnd.choice(keys)
        batch = float(rnd.randint(1, 1000))
        wanted = {ns: batch, ("delete_records", IDX): batch, ("delete_requests", *ns[1:]): 1.0}
        expected = earliest({k: w for k, w in wanted.items() if lim.rate(k) is not None})
        reservation = lim.reserve(wanted)
        assert reservation.start == pytest.approx(expected, abs=1e-6)
        live.append((reservation, list(reservation.slots)))
        for k in {k for k, _, _ in reservation.slots}:
            spans = sorted((a, b) for _, s in live for k2, a, b in s if k2 == k)
            assert all(b1 <= a2 + 1e-6 for (_, b1), (a2, _) in itertools.pairwise(spans))


def test_settings_are_checked() -> None:
    """Nonsense settings and negative weights are refused with the value in the message."""
    with pytest.raises(ValueError, match=r"decrease must be between 0 and 1, got: 1\.5"):
        Pacer(decrease=1.5)
    with pytest.raises(ValueError, match=r"learned_headroom must be in \[0, 1\), got: 1"):
        Pacer(learned_headroom=1)
    with pytest.raises(ValueError, match="hold must be a finite number of seconds >= 0, got: -1"):
        Pacer(hold=-1)
    with pytest.raises(ValueError, match="must not be negative, got: -1"):
        Pacer().reserve({("delete_records", IDX): -1})
