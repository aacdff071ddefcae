"""The retry policy: which failures are retried, how long between, and when to stop."""

from __future__ import annotations

import httpx
import pytest

from retention.errors import PineconeError, RateLimited
from retention.pinecone import PineconeClient, RetryPolicy

from .conftest import HOST, FakeClock, FakePinecone, make_client

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
    failure: httpx.Response | Exception, fake: FakePinecone, client: PineconeClient
) -> None:
    """Transport errors, 429 and 5xx are sent again, and the second attempt succeeds."""
    fake.script.append(failure)
    result = await client.index_at("idx", HOST).delete_ids(["a"], "ns")
    assert result.requests == 1
    assert len(fake.seen) == 2
    assert fake.body(0) == fake.body(1)


@pytest.mark.parametrize("status", NOT_RETRIED)
async def test_not_retried(status: int, fake: FakePinecone, client: PineconeClient) -> None:
    """Any other 4xx is raised at once after a single request."""
    fake.script.append(httpx.Response(status, json=BODY))
    with pytest.raises(PineconeError) as info:
        await client.index_at("idx", HOST).delete_ids(["a"], "ns")
    assert info.value.status == status
    assert len(fake.seen) == 1


async def test_backoff_is_full_jitter_exponential(
    fake: FakePinecone, client: PineconeClient, clock: FakeClock
) -> None:
    """Delays are random() x min(cap, base x 2^(n-1)): 0.25, 0.5, 1.0 with random()=0.5."""
    fake.script += [httpx.Response(503, json=BODY)] * 3
    await client.index_at("idx", HOST).describe_index_stats()
    assert clock.sleeps == [0.25, 0.5, 1.0]


async def test_retry_after_is_honoured(
    fake: FakePinecone, client: PineconeClient, clock: FakeClock
) -> None:
    """A 429 with Retry-After waits that long plus at most `base` of jitter."""
    fake.script.append(httpx.Response(429, json=BODY, headers={"Retry-After": "7"}))
    await client.index_at("idx", HOST).describe_index_stats()
    assert clock.sleeps == [7.25]


async def test_gives_up_after_the_last_attempt(fake: FakePinecone, clock: FakeClock) -> None:
    """After `attempts` tries the last error propagates."""
    client = make_client(fake, clock, retry=RetryPolicy(attempts=3))
    fake.script += [httpx.Response(429, json=BODY)] * 5
    with pytest.raises(RateLimited):
        await client.index_at("idx", HOST).describe_index_stats()
    assert len(fake.seen) == 3


async def test_retry_budget_stops_retry_storms(fake: FakePinecone, clock: FakeClock) -> None:
    """With a budget of 2 retries, a failing server sees 3 requests per call and then 1."""
    policy = RetryPolicy(attempts=10, budget_minimum=2, budget_ratio=0)
    client = make_client(fake, clock, retry=policy)
    fake.script += [httpx.Response(500, json=BODY)] * 10
    index = client.index_at("idx", HOST)
    with pytest.raises(PineconeError):
        await index.describe_index_stats()
    assert len(fake.seen) == 3
    with pytest.raises(PineconeError):
        await index.describe_index_stats()
    assert len(fake.seen) == 4


def test_policy_rejects_nonsense() -> None:
    """Settings are checked with a message that names the value."""
    with pytest.raises(ValueError, match="attempts must be positive, got: 0"):
        RetryPolicy(attempts=0)
