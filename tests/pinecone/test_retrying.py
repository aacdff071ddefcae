"""The retry policy: which failures are retried, how long between, and when to stop.

Failures are scripted in front of the emulator, which answers whatever gets through. Outages
are played on a fake clock: the scripted server fails every attempt that starts before the
outage's end, whatever the number of attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from retention.emulator import Emulator
from retention.errors import (
    BadRequest,
    PineconeError,
    PineconeServerError,
    PineconeTransportError,
    RateLimited,
)
from retention.pinecone import Retrying, RetryPolicy
from retention.pinecone.dataplane import IndexClient

from .conftest import VALUES, FakeClock, Recorder, fresh_index, make_client
from .simulation import VirtualClock

pytestmark = pytest.mark.anyio

BODY = {"code": 3, "message": "nope", "details": []}

RETRIED: list[httpx.Response | Exception] = [
    httpx.Response(429, json=BODY),
    httpx.Response(500, json=BODY),
    httpx.Response(502, text="bad gateway"),
    httpx.Response(503, json=BODY),
    httpx.Response(504, text=""),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("reset"),
]
NOT_RETRIED = [400, 401, 402, 403, 404, 409, 412, 413, 422]


@pytest.mark.parametrize("failure", RETRIED, ids=repr)
async def test_retried(
    failure: httpx.Response | Exception, wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """Transport errors, 429 and 5xx are sent again, and the second attempt succeeds."""
    emu.upsert(index.name, "ns", [("a", VALUES, {}), ("b", VALUES, {})])
    wire.script.append(failure)
    result = await index.delete_ids(["a"], "ns")
    assert result.requests == 1
    assert len(wire.seen) == 2 and len(wire.answers) == 1
    assert wire.body(0) == wire.body(1)
    assert list(emu.records(index.name, "ns")) == ["b"]


@pytest.mark.parametrize("status", NOT_RETRIED)
async def test_not_retried(status: int, wire: Recorder, index: IndexClient, emu: Emulator) -> None:
    """Any other 4xx is raised at once after a single request."""
    emu.upsert(index.name, "ns", [("a", VALUES, {})])
    wire.script.append(httpx.Response(status, json=BODY))
    with pytest.raises(PineconeError) as info:
        await index.delete_ids(["a"], "ns")
    assert info.value.status == status
    assert len(wire.seen) == 1 and wire.answers == []
    assert list(emu.records(index.name, "ns")) == ["a"]


async def test_backoff_is_full_jitter_exponential(
    wire: Recorder, index: IndexClient, clock: FakeClock
) -> None:
    """Delays are random() x min(cap, base x 2^(n-1)): 0.25, 0.5, 1.0 with random()=0.5."""
    wire.script += [httpx.Response(503, json=BODY)] * 3
    assert (await index.count({"a": 1}, "ns")).matched == 0
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert len(wire.seen) == 4 and len(wire.answers) == 1


async def test_retry_after_is_honoured(
    wire: Recorder, index: IndexClient, clock: FakeClock
) -> None:
    """A 429 with Retry-After waits that long plus at most `base` of jitter."""
    wire.script.append(httpx.Response(429, json=BODY, headers={"Retry-After": "7"}))
    assert (await index.count({"a": 1}, "ns")).matched == 0
    assert clock.sleeps == [7.25]


async def test_gives_up_after_the_last_attempt(
    wire: Recorder, clock: FakeClock, emu: Emulator
) -> None:
    """After `attempts` tries the last error propagates, saying so."""
    name = fresh_index(emu)
    wire.script += [httpx.Response(429, json=BODY)] * 5
    async with make_client(wire, clock, emu, retry=RetryPolicy(attempts=3)) as client:
        with pytest.raises(RateLimited) as info:
            await client.index_at(name, emu.index_host(name)).count({"a": 1}, "ns")
    assert len(wire.seen) == 3 and wire.answers == []
    assert str(info.value).endswith(": nope (gave up after 3 attempts)")


def retrying(clock: FakeClock | VirtualClock, policy: RetryPolicy | None = None) -> Retrying:
    """A Retrying on `clock`, with random() fixed at 0.5 (delays half their ceiling)."""
    return Retrying(policy, sleep=clock.sleep, monotonic=clock.monotonic, random=lambda: 0.5)


def server_error() -> PineconeError:
    return PineconeServerError("describe_index_stats: HTTP 503: unavailable", status=503)


def refused() -> PineconeError:
    return PineconeTransportError("delete: ConnectError: connection refused (https://idx)")


def down_until(
    clock: FakeClock | VirtualClock,
    end: float,
    failure: Callable[[], PineconeError],
    tries: list[float] | None = None,
) -> Callable[[], Awaitable[str]]:
    """An attempt that fails with `failure()` when it starts before `end`, else answers."""

    async def attempt() -> str:
        if tries is not None:
            tries.append(clock.now)
        if clock.now < end:
            raise failure()
        return "ok"

    return attempt


@pytest.mark.parametrize("failure", [server_error, refused], ids=["503", "refused"])
async def test_a_30_second_outage_is_ridden_out_by_default(
    clock: FakeClock, failure: Callable[[], PineconeError]
) -> None:
    """Every attempt fails for 30 s (503, or the connection refused): the request is tried
    again and again, never more than `cap` apart, and succeeds once the outage is over."""
    tries: list[float] = []
    retry = retrying(clock)
    assert await retry.call("op", down_until(clock, 30.0, failure, tries)) == "ok"
    assert tries[-1] == pytest.approx(30.0)
    assert max(clock.sleeps) <= RetryPolicy().cap
    assert retry.retries == len(tries) - 1 > 10  # more than the budget's 10 tokens


async def test_many_requests_ride_out_an_outage_together() -> None:
    """Twenty concurrent requests in a 30 s outage all succeed: retries while nothing answers
    do not spend the budget (they made ~300 retries against 10 tokens)."""
    clock = VirtualClock()
    retry = retrying(clock)

    async def one() -> str:
        return await retry.call("op", down_until(clock, 30.0, refused))

    tasks = [asyncio.ensure_future(one()) for _ in range(20)]
    await clock.run(until=60)
    assert [task.result() for task in tasks] == ["ok"] * 20
    assert retry.retries > 200


async def test_a_longer_outage_fails_naming_how_long_it_tried(clock: FakeClock) -> None:
    """A 31 s outage: the attempt at 30 s fails too, and the error says why it is the last."""
    tries: list[float] = []
    with pytest.raises(PineconeServerError) as info:
        await retrying(clock).call("op", down_until(clock, 31.0, server_error, tries))
    assert tries[-1] == pytest.approx(30.0)
    assert str(info.value) == (
        "describe_index_stats: HTTP 503: unavailable (gave up after 30 s of failures; "
        "retries cover 30 s, set --retry-for to change)"
    )
    assert info.value.message == str(info.value)


async def test_the_outage_window_is_configurable(clock: FakeClock) -> None:
    """With outage=60 a 45 s outage is ridden out; with outage=5 a 6 s one is not."""
    assert await retrying(clock, RetryPolicy(outage=60)).call(
        "op", down_until(clock, 45.0, refused)
    )
    clock.now = 0.0
    with pytest.raises(
        PineconeTransportError, match=r"after 5\.0 s of failures; retries cover 5 s"
    ):
        await retrying(clock, RetryPolicy(outage=5)).call("op", down_until(clock, 6.0, refused))


async def test_an_attempt_started_inside_the_window_is_followed_by_one_more(
    clock: FakeClock,
) -> None:
    """An attempt that starts at 28 s and times out at 38 s was made inside the window: one
    more attempt follows at once, and finds the server back (the outage ended at 32 s)."""
    tries: list[float] = []

    async def attempt() -> str:
        tries.append(clock.now)
        if clock.now < 32.0:
            if clock.now >= 28.0:
                clock.now += 10.0  # a read timeout
            raise refused()
        return "ok"

    assert await retrying(clock).call("op", attempt) == "ok"
    assert tries[-2] >= 28.0 and tries[-1] == pytest.approx(tries[-2] + 10.0)


async def test_the_budget_limits_retries_while_other_requests_succeed() -> None:
    """One request keeps failing while another succeeds every 0.1 s: that is no outage, and
    its retries stop when the budget (here 2 tokens, none earned) is spent."""
    clock = VirtualClock()
    retry = retrying(clock, RetryPolicy(budget_minimum=2, budget_ratio=0))
    tries: list[float] = []

    async def healthy() -> None:
        while True:
            await retry.call("ok", down_until(clock, 0.0, server_error))
            await clock.sleep(0.1)

    async def failing() -> None:
        await retry.call("op", down_until(clock, 1e9, server_error, tries))

    background = asyncio.ensure_future(healthy())
    task = asyncio.ensure_future(failing())
    await clock.run(until=60)
    background.cancel()
    with pytest.raises(PineconeServerError) as info:
        task.result()
    assert len(tries) == 4  # the first retry is free (nothing answered yet), then 2 tokens
    assert str(info.value).endswith(
        "(retry budget spent: while other requests succeed, retries are held to 0% of requests)"
    )


async def test_a_4xx_fails_at_once_and_unchanged(clock: FakeClock) -> None:
    """A non-retryable 4xx is raised after one attempt, with no pause and its own message."""
    tries: list[float] = []

    async def attempt() -> str:
        tries.append(clock.now)
        raise BadRequest("delete: HTTP 400 3: bad filter", status=400)

    with pytest.raises(BadRequest) as info:
        await retrying(clock).call("op", attempt)
    assert (tries, clock.sleeps, str(info.value)) == ([0.0], [], "delete: HTTP 400 3: bad filter")


async def test_a_long_retry_after_is_honoured_not_cut_to_the_window(clock: FakeClock) -> None:
    """A 429 asking for 45 s is waited out in full (plus jitter), past the 30 s window."""
    answers = [RateLimited("delete: HTTP 429: slow down", status=429, retry_after=45.0)]

    async def attempt() -> str:
        if answers:
            raise answers.pop()
        return "ok"

    assert await retrying(clock).call("op", attempt) == "ok"
    assert clock.sleeps == [45.25]


async def test_429_retries_spend_the_budget_as_before() -> None:
    """429s are the server answering: among concurrent 429s the budget stops the retries."""
    clock = VirtualClock()
    retry = retrying(clock, RetryPolicy(budget_minimum=3, budget_ratio=0))

    def limited() -> PineconeError:
        return RateLimited("delete: HTTP 429: slow down", status=429)

    async def one() -> str:
        return await retry.call("op", down_until(clock, 1e9, limited))

    tasks = [asyncio.ensure_future(one()) for _ in range(4)]
    await clock.run(until=60)
    failures = [task.exception() for task in tasks]
    assert all(isinstance(error, RateLimited) for error in failures)
    assert any("retry budget spent" in str(error) for error in failures)
    assert retry.retries < 4 * 5


def test_policy_rejects_nonsense() -> None:
    """Settings are checked with a message that names the value."""
    with pytest.raises(ValueError, match="attempts must be positive, got: 0"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="outage must be a positive number of seconds, got: 0"):
        RetryPolicy(outage=0)
    with pytest.raises(ValueError, match="outage must be a positive number of seconds, got: inf"):
        RetryPolicy(outage=float("inf"))
    with pytest.raises(ValueError, match="budget_minimum must be a positive number of retries"):
        RetryPolicy(budget_minimum=0)
