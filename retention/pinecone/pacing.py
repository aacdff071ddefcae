"""Client-side pacing at Pinecone's published limits: one reservation over several keys.

Pinecone limits a delete by ID three ways at once (requests/s per namespace, records/s per
namespace, records/s per index), and two namespaces of one index share the index's budget.
Token-bucket libraries pace one key at a time and let waiters race for tokens, so a big batch
can starve behind small ones; hence this small scheduler. Each key owns a timeline on which
a reservation of weight w occupies an interval of w / rate seconds:

    key        ("delete_records", index, namespace)  or  ("delete_records", index)
    reserve({k1: w1, k2: w2}), one synchronous step:
        t = earliest time >= now at which every key k has [t, t + w_k / rate_k) free
        mark those intervals busy; the caller may send at t
    acquire(...) = reserve, then sleep until t

     index   |==a==|     |==b==|==a==|           5,000/s shared by namespaces a and b
     ns a    |==a========|     |==a========|     a's own limit (here 2,500/s, learned from a 429)

- A reservation costs its full weight on every key it names (1,000 IDs = 1,000 records on the
  namespace and on the index). Earlier reservations are never moved, so nobody is starved
  by later ones; a later one may only fill a gap that is free on all of its keys.
- Intervals on a key never overlap, and nothing is saved up while idle, so in any window of
  T seconds a key admits at most rate x T plus one reservation: no burst above one batch.
  A weight above a key's one-second capacity is charged at that capacity, so an oversized
  request waits its turn instead of never fitting.
- A limit lower than the table's is learned, not hammered; like TCP's ssthresh, the key
  remembers it. A 429 at the table's limit (or while probing above a learned one) sets the
  key's learned limit to the most the server accepted in any one second of the last three
  (RFC 5681 takes ssthresh from the flight size, not the window, for the same reason), at
  most the limit it was paced for. The key is then paced `learned_headroom` (4%) under it, and
  nothing probes above it for `hold` seconds (600); after that the pace grows slowly, by
  `increase` x the table's limit per second (0.15%/s: 7.5/s per second for 5,000/s), and
  reaching the table's limit forgets the learned one. A 429 at the learned pace itself means
  the limit fell, or someone else shares it: the learned limit drops by `decrease` (0.85) and
  further, down to the most the server accepted since the limit was last learned, so a second
  refusal right behind the first one goes straight to what got through. The next send after
  any 429 waits until what went out in the last second, replayed at the new pace, is through,
  so the refused request's own retry fits. One 429 episode counts once: refusals of
  reservations made before the latest decrease of that key are ignored.
- Not every 429 means a lower limit. Requests paced under a limit still arrive bunched now
  and then (a busy event loop on either side, the network), and a sliding window refuses one
  of them. When the server refused at most the learned headroom (4%) of what it was sent in
  the last `HISTORY` seconds (one 1,000-ID batch of fifteen is 7%, one count of 1,400 is
  0.07%), the refusal is taken for jitter: at the table's limit the key keeps that limit as
  its learned one, paced 4% under it, rather than what a start not yet at full pace happened
  to send; at a learned limit it lowers nothing and pauses for that share of a second
  (40 ms). Lowered each time, two such 429s held a plan over 3,000 namespaces at 0.79 x of the
  per-index limit (395 counts/s) from its 13th second on.
  Measured against a sliding one-second window at 2,000 records/s while the table says 5,000
  (batches of 1,000, four in flight): on a simulated clock, one 429 and 0.96 of the real
  limit over 300 s, one more 429 per hold after that; in `bench/bench_client.py` against the
  emulator, 300,000 records at 0.961-0.963 with 1 of 301 requests refused (0.33%) in each of
  three runs, where plain AIMD (0.85 x on each 429, back up by 0.15%/s) moved 0.90 with 1.96%
  refused, in 40 s cycles of one 429 each. A learned limit that falls again (2,000 to 1,000/s)
  costs two more 429s; one that rises (2,000 to 5,000/s) is found about 400 s after the hold
  ends.
- `headroom` (2%) keeps the pace just under each table limit. Pinecone's window algorithm is
  not published; against a sliding one-second window, batches paced at exactly the limit are
  refused whenever one arrives a few milliseconds later than its predecessor five batches
  back. 2% leaves 20 ms of slack per second for network and scheduling jitter. Slow keys
  (at most 10 units/s, such as 5 dry-run counts/s per namespace) get 10%: a refusal there costs
  a whole backoff for a cheap read, and a busy event loop or network easily delays one request
  by more than 20 ms. A learned limit is one the server holds exactly, so it gets 4%: in-process
  against the emulator, arrivals scatter by up to ~50 ms (p99 ~25 ms) around their send time,
  and with 2% (20 ms of slack across two batches) 4 of 7 runs met a second 429, as did a run
  with 3%. `headroom=0` paces exactly at every limit, learned ones included.
- Keys without a configured limit cost nothing, so callers describe each request fully and
  the table (`retention.quotas`, overridable) decides what binds.
- A waiter whose key was slowed while it slept queues again at the new rate, so a 429 does
  not turn into a burst of 429s from requests already paced at the old rate.
- A cancelled waiter's slot is not given back: the limiter may under-use, never over-use.

Time and sleep are injected (`monotonic`, `sleep`); tests drive it on a fake clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from retention.quotas import PUBLISHED, Quota

SLOW_KEY = 10.0
"""Quotas of at most this many units per second get `slow_headroom`."""

Key = tuple[str, ...]
"""(family, index) for index scope or (family, index, namespace); family as `delete_records`."""


def _start(interval: tuple[float, float]) -> float:
    return interval[0]


def limit_key_name(key: Key) -> str:
    """The `retention.quotas` name governing `key`, e.g. `delete_records_per_s_namespace`."""
    scope = "namespace" if len(key) == 3 else "index"
    return f"{key[0]}_per_s_{scope}"


EPSILON = 1e-9
"""Seconds of slack when comparing interval ends, against float rounding."""
HISTORY = 3.0
"""Seconds of accepted reservations kept to estimate the server's limit after a 429."""


@dataclass(frozen=True)
class Reservation:
    """A granted turn: the holder may send at monotonic time `start`."""

    start: float
    serial: int
    weights: Mapping[Key, float]
    slots: tuple[tuple[Key, float, float], ...] = ()
    """(key, start, end) of each interval this reservation occupies."""


class _Bucket:
    __slots__ = (
        "busy",
        "ceiling",
        "decreased_after",
        "hold_until",
        "key",
        "learned",
        "limit",
        "recent",
        "refused",
        "slack",
        "tight",
    )

    def __init__(self, key: Key, limit: Quota, slack: float, tight: float) -> None:
        self.key = key
        self.limit = limit
        self.slack = slack  # headroom under the table's limit
        self.tight = tight  # headroom under a learned limit, which the server holds exactly
        self.ceiling = limit.per_second * (1.0 - slack)
        self.learned: float | None = None  # the server's limit as learned from a 429
        self.hold_until = 0.0  # no probing above `learned` before this time
        self.decreased_after = -1  # serial of the last reservation before the latest decrease
        self.busy: list[tuple[float, float]] = []
        """Disjoint [start, end) spans, sorted, back-to-back reservations merged into one span:
        with hundreds of requests waiting, a new reservation finds the end of the queue in a
        step or two instead of walking every interval booked before it."""
        self.recent: deque[tuple[float, float, int]] = deque()  # (start, weight, serial)
        self.refused: set[int] = set()  # serials answered with 429

    @property
    def capacity(self) -> float:
        return self.limit.per_second  # one second's worth

    def held(self) -> float:
        """The pace just under the learned limit (the ceiling while nothing is learned)."""
        if self.learned is None:
            return self.ceiling
        return self.learned * (1.0 - self.tight)

    def holding(self, now: float, increase: float) -> bool:
        """Whether the key is paced at its learned limit (not at the table's, not probing)."""
        return self.learned is not None and self.rate(now, increase) <= self.held() + EPSILON

    def rate(self, now: float, increase: float) -> float:
        """The pace at `now`: held under the learned limit, then probing slowly above it."""
        if self.learned is None:
            return self.ceiling
        if now < self.hold_until:
            return self.held()
        probed = self.held() + increase * self.limit.per_second * (now - self.hold_until)
        return min(self.ceiling, probed)

    def recover(self, now: float, increase: float) -> None:
        probed = self.learned is not None and now >= self.hold_until
        if probed and self.rate(now, increase) >= self.ceiling:
            self.learned = None  # probing reached the table's limit: it holds again
        while self.busy and self.busy[0][1] <= now:
            self.busy.pop(0)
        while self.recent and self.recent[0][0] < now - HISTORY:
            self.refused.discard(self.recent.popleft()[2])

    def assumed(self, pace: float) -> float:
        """The limit that `pace` is paced for: the pace plus its headroom."""
        return pace / (1.0 - (self.slack if self.learned is None else self.tight))

    def delivered(self, now: float, after: int = -1) -> float:
        """The most weight the server accepted within any one second of the last few.

        A lower bound on the server's real limit (it did let that much through), measured
        at its best moment, so that coarse batches (two 1,000-record batches a second) do
        not make a window that happens to hold one of them read as half the limit. Only
        reservations after serial `after` count, so evidence from before a change can be left
        out.
        """
        starts = sorted(
            (start, weight)
            for start, weight, serial in self.recent
            if start <= now and serial > after and serial not in self.refused
        )
        best = total = 0.0
        first = 0
        for start, weight in starts:
            total += weight
            while starts[first][0] <= start - 1.0 + EPSILON:
                total -= starts[first][1]
                first += 1
            best = max(best, total)
        return best

    def refused_share(self, now: float) -> float:
        """The share of the weight sent in the last `HISTORY` seconds that the server refused."""
        sent = refused = 0.0
        for start, weight, serial in self.recent:
            if start <= now + EPSILON:
                sent += weight
                if serial in self.refused:
                    refused += weight
        return refused / sent if sent else 1.0

    def resume(self, now: float, rate: float) -> float:
        """When the next send may go at `rate`, counting what was sent in the last second.

        Each of those sends, replayed at `rate`, must have finished: the pace then holds
        across the change of rate as it does between any two reservations.
        """
        sent = sorted(
            (start, weight)
            for start, weight, serial in self.recent
            if now - 1.0 + EPSILON < start <= now + EPSILON and serial not in self.refused
        )
        resume = now
        tail = 0.0
        for start, weight in reversed(sent):
            tail += weight
            resume = max(resume, start + tail / rate)
        return resume

    def fit(self, t: float, duration: float) -> float:
        """The earliest start >= t at which [start, start + duration) is free on this key.

        Busy intervals are sorted and mostly back to back, so this walks forward from `t`
        in one pass instead of hopping one interval at a time across every key."""
        busy = self.busy
        i = bisect_right(busy, t, key=_start)
        if i > 0 and busy[i - 1][1] > t + EPSILON:
            t = busy[i - 1][1]
        while i < len(busy) and busy[i][0] < t + duration - EPSILON:
            t = max(t, busy[i][1])
            i += 1
        return t

    def occupy(self, start: float, end: float) -> None:
        """Book [start, end), free by construction (`fit`), merged with the spans it touches."""
        busy = self.busy
        i = bisect_right(busy, start, key=_start)
        if i > 0 and busy[i - 1][1] >= start - EPSILON:
            i -= 1
            start = busy[i][0]
            end = max(end, busy[i][1])
            del busy[i]
        if i < len(busy) and busy[i][0] <= end + EPSILON:
            end = max(end, busy[i][1])
            del busy[i]
        busy.insert(i, (start, end))

    def vacate(self, start: float, end: float) -> None:
        """Free [start, end) again, splitting the span that holds it."""
        busy = self.busy
        i = bisect_right(busy, start + EPSILON, key=_start) - 1
        if i < 0 or busy[i][1] < end - EPSILON:
            return  # already past (pruned) or never booked here
        first, last = busy[i]
        pieces = [(a, b) for a, b in ((first, start), (end, last)) if b - a > EPSILON]
        busy[i : i + 1] = pieces


class Pacer:
    """Paces requests over many keys at once at Pinecone's limits; learns lower ones on 429."""

    def __init__(
        self,
        limits: Iterable[Quota] = PUBLISHED,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        decrease: float = 0.85,
        increase: float = 0.0015,
        floor: float = 0.05,
        headroom: float = 0.02,
        slow_headroom: float = 0.10,
        learned_headroom: float = 0.04,
        hold: float = 600.0,
    ) -> None:
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be between 0 and 1, got: {decrease:g}")
        if increase < 0:
            raise ValueError(f"increase must not be negative, got: {increase:g}")
        if not 0 < floor <= 1:
            raise ValueError(f"floor must be in (0, 1], got: {floor:g}")
        for name, value in (
            ("headroom", headroom),
            ("slow_headroom", slow_headroom),
            ("learned_headroom", learned_headroom),
        ):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got: {value:g}")
        if not 0 <= hold < float("inf"):
            raise ValueError(f"hold must be a finite number of seconds >= 0, got: {hold:g}")
        self.headroom = headroom
        self.slow_headroom = max(headroom, slow_headroom) if headroom else 0.0
        self.learned_headroom = max(headroom, learned_headroom) if headroom else 0.0
        self._limits = {limit.name: limit for limit in limits}
        self._monotonic = monotonic
        self._sleep = sleep
        self.decrease = decrease
        self.increase = increase
        self.floor = floor
        self.hold = hold
        self._buckets: dict[Key, _Bucket] = {}
        self._serials = itertools.count()
        self._last_serial = -1
        self._booked: dict[int, Reservation] = {}  # by serial, until a second after its start
        self._booked_order: deque[tuple[float, int]] = deque()  # (start, serial), as booked

    def quota(self, key: Key) -> Quota | None:
        """The quota `key` is paced by, or None when the key is free."""
        return self._limits.get(limit_key_name(key))

    @property
    def quotas(self) -> Mapping[str, Quota]:
        """Every quota paced, by name (`delete_records_per_s_index`, ...)."""
        return MappingProxyType(self._limits)

    def rate(self, key: Key) -> float | None:
        """The rate `key` is paced at now (below its limit after 429s), or None if free."""
        now = self._monotonic()
        bucket = self._bucket(key)
        if bucket is None:
            return None
        bucket.recover(now, self.increase)
        return bucket.rate(now, self.increase)

    def learned(self, key: Key) -> float | None:
        """The limit `key` has learned from 429s (units/s), or None while it trusts the table."""
        bucket = self._bucket(key)
        if bucket is None:
            return None
        bucket.recover(self._monotonic(), self.increase)
        return bucket.learned

    def _bucket(self, key: Key) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.quota(key)
            if limit is None:
                return None
            slow = limit.per_second <= SLOW_KEY
            slack = self.slow_headroom if slow else self.headroom
            tight = max(slack, self.learned_headroom)
            bucket = self._buckets[key] = _Bucket(key, limit, slack, tight)
        return bucket

    def reserve(self, weights: Mapping[Key, float]) -> Reservation:
        """Take the next turn on every key in `weights` at once, without waiting."""
        now = self._monotonic()
        charged: list[tuple[_Bucket, float]] = []
        for key, weight in weights.items():
            if weight < 0:
                raise ValueError(f"weight of {key} must not be negative, got: {weight:g}")
            bucket = self._bucket(key)
            if bucket is not None and weight > 0:
                bucket.recover(now, self.increase)
                charged.append((bucket, min(weight, bucket.capacity)))
        durations = [
            (bucket, weight / bucket.rate(now, self.increase)) for bucket, weight in charged
        ]
        start = now
        moved = True
        while moved:  # until one start fits every key
            moved = False
            for bucket, duration in durations:
                fits = bucket.fit(start, duration)
                if fits > start + EPSILON:
                    start, moved = fits, True
        self._last_serial = next(self._serials)
        slots = []
        for (bucket, duration), (_, weight) in zip(durations, charged, strict=True):
            bucket.occupy(start, start + duration)
            bucket.recent.append((start, weight, self._last_serial))
            slots.append((bucket.key, start, start + duration))
        reservation = Reservation(
            start=start, serial=self._last_serial, weights=dict(weights), slots=tuple(slots)
        )
        while self._booked_order and self._booked_order[0][0] < now - 1.0:
            self._booked.pop(self._booked_order.popleft()[1], None)
        self._booked[reservation.serial] = reservation
        self._booked_order.append((start, reservation.serial))
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give back the slots of a reservation that will not be used (nothing was sent)."""
        self._booked.pop(reservation.serial, None)
        for key, start, end in reservation.slots:
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            if reservation.serial > bucket.decreased_after:
                # A decrease since then replaced this key's spans (see `_learn`): what this
                # reservation booked there is gone already.
                bucket.vacate(start, end)
            for entry in list(bucket.recent):
                if entry[2] == reservation.serial:
                    bucket.recent.remove(entry)

    async def acquire(self, weights: Mapping[Key, float]) -> Reservation:
        """Reserve a turn on every key in `weights`, then sleep until it comes."""
        while True:
            reservation = self.reserve(weights)
            delay = reservation.start - self._monotonic()
            if delay > 0:
                await self._sleep(delay)
            if not self._stale(reservation):
                return reservation
            # A 429 slowed one of our keys while we waited: our turn was paced at the old
            # rate. Nothing was sent, so give the turn back and queue again at the new rate;
            # keeping it would book every waiter twice and halve the pace for no reason.
            self.release(reservation)

    def _stale(self, reservation: Reservation) -> bool:
        """Whether a key of `reservation` was slowed after the reservation was made."""
        return any(
            bucket.decreased_after >= reservation.serial
            for key in reservation.weights
            if (bucket := self._buckets.get(key)) is not None
        )

    def throttled(self, reservation: Reservation, message: str = "") -> tuple[Key, ...]:
        """React to a 429 on `reservation`: learn the limit of the keys it names; return them.

        Pinecone's 429 message names the limit and its scope ("max delete records per second
        for namespace ..."); when it matches some of the reserved keys only those learn,
        otherwise all of them do.

        At a learned limit, a refusal while the server took all but at most the learned
        headroom of what it was sent in the last `HISTORY` seconds lowers nothing: that is
        jitter, requests bunched on the way, and the learned limit held. The key pauses for
        the headroom's share of a second, as long as a bunch may overfill the server's window,
        and goes on at the same pace. A limit that fell, or that someone else now shares,
        refuses more than that share.
        """
        now = self._monotonic()
        keys = [key for key in reservation.weights if self.quota(key) is not None]
        named = [key for key in keys if _names(message, self._limits[limit_key_name(key)])]
        slowed: list[Key] = []
        for key in named or keys:
            bucket = self._bucket(key)
            if bucket is None:
                continue
            bucket.recover(now, self.increase)
            bucket.refused.add(reservation.serial)
            if reservation.serial <= bucket.decreased_after:
                continue  # this congestion episode was already answered
            jitter = bucket.refused_share(now) <= bucket.tight
            if jitter and bucket.holding(now, self.increase):
                # Jitter at a learned limit: the server took all but this share of what it was
                # sent in the last seconds. Same pace, after a pause of the headroom's share of
                # a second (40 ms at 4%) for its window to drain.
                self._pause(bucket, now, bucket.held(), minimum=bucket.tight)
                continue
            self._learn(bucket, reservation, now, jitter=jitter)
            slowed.append(key)
        return tuple(slowed)

    def _learn(
        self, bucket: _Bucket, reservation: Reservation, now: float, *, jitter: bool = False
    ) -> None:
        """Set `bucket`'s learned limit after a 429 on `reservation`, hold it, re-pace.

        `jitter`: the server refused no more than the learned headroom of what it was sent
        in the last seconds."""
        nominal = bucket.limit.per_second
        weight = min(reservation.weights[bucket.key], bucket.capacity)
        pace = bucket.rate(now, self.increase)
        if bucket.holding(now, self.increase):
            assert bucket.learned is not None
            # Refused at the learned limit itself, more than jitter (`throttled` answered
            # that): the limit fell, or someone else shares it. Down by `decrease`, and
            # further down to what the server took since the limit was last learned: a second
            # refusal right after the first one shows that little got through.
            since = max(bucket.delivered(now, after=bucket.decreased_after), weight)
            learned = min(bucket.learned * self.decrease, since)
        elif jitter and bucket.learned is None:
            # Refused at the table's limit while the server took all the rest: requests
            # bunched on the way, more than the table's headroom allows for. The table's limit
            # holds; what was sent so far (a start that had not reached full pace yet) says
            # nothing about it. Keep it, paced with the learned headroom.
            learned = nominal
        else:
            # Refused at the table's limit or while probing above the learned one: like TCP's
            # ssthresh (RFC 5681: from the flight size, not the window), the server's limit
            # is what it demonstrably took, at most what we were pacing for.
            learned = min(bucket.assumed(pace), max(bucket.delivered(now), weight))
        bucket.learned = min(nominal, max(self.floor * nominal, learned))
        bucket.hold_until = now + self.hold
        self._pause(bucket, now, bucket.held())

    def _pause(self, bucket: _Bucket, now: float, rate: float, minimum: float = 0.0) -> None:
        """Answer a 429 on `bucket`: re-book its waiters behind a pause, to go on at `rate`.

        Every turn booked on this key from now on was paced before the refusal and its holder
        will queue again: give those turns back now, on all their keys, so that they do not
        hold up on another key the first holders to queue again. The next send waits until
        what went out in the last second, replayed at `rate`, is through (and at least
        `minimum` seconds), so the refused request's retry fits.
        """
        bucket.decreased_after = self._last_serial
        for start, _, serial in list(bucket.recent):
            if start > now + EPSILON and (stale := self._booked.get(serial)) is not None:
                self.release(stale)
        resume = max(bucket.resume(now, rate), now + minimum)
        bucket.busy = [(now, resume)] if resume > now + EPSILON else []


def _names(message: str, limit: Quota) -> bool:
    """Whether Pinecone's 429 `message` is about `limit` (its wording and scope)."""
    return f"{limit.what} for {limit.scope}" in message
