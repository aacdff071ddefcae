"""Requests wait for their turn in the limiter, then for a connection: never in httpx's pool.

Thousands of concurrent callers (a plan over ten thousand namespaces) must not all be handed
to httpx at once, where every queued request is matched against every connection each time one
frees up; the session admits at most as many requests as the pool has connections.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from retention.pinecone import PineconeClient, PineconeSettings
from retention.pinecone.pacing import Pacer
from retention.pinecone.transport import LANE

pytestmark = pytest.mark.anyio

HOST = "https://idx-abc.svc.test"
"""Never resolved: the transports below answer in place of any server."""


class Slow(httpx.AsyncBaseTransport):
    """Answers every count after a pause, recording how many requests it holds at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.seen = 0
        self.lanes: set[int] = set()  # of the requests held now
        self.lanes_seen: set[int] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = request.extensions[LANE]
        assert lane not in self.lanes, f"lane {lane} carries two requests at once"
        self.lanes.add(lane)
        self.lanes_seen.add(lane)
        self.now += 1
        self.seen += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.001)
            return httpx.Response(200, json={"matchedRecords": 1})
        finally:
            self.now -= 1
            self.lanes.discard(lane)


@pytest.mark.parametrize("slots", [1, 4, 32])
async def test_no_more_requests_in_flight_than_connections(slots: int) -> None:
    """300 counts started together, no rate limits: the server never holds more than
    `max_in_flight` of them, and every one is answered."""
    transport = Slow()
    client = PineconeClient(
        httpx.AsyncClient(transport=transport),
        PineconeSettings(api_key="k"),
        pacer=Pacer(()),
        max_in_flight=slots,
    )
    index = client.index_at("idx", HOST)
    counts = await asyncio.gather(*(index.count({"a": {"$eq": i}}, f"ns-{i}") for i in range(300)))
    assert [c.matched for c in counts] == [1] * 300
    assert transport.seen == 300
    assert 1 <= transport.peak <= slots
    assert transport.lanes_seen <= set(range(slots))  # one connection each, never shared
    assert client.session.peak_in_flight == transport.peak
    assert client.session.in_flight == 0
    await client.aclose()


def test_the_session_refuses_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be positive, got: 0"):
        PineconeClient(httpx.AsyncClient(), PineconeSettings(api_key="k"), max_in_flight=0)


async def test_a_request_that_got_its_connection_late_takes_a_new_turn() -> None:
    """One connection, and the first count's answer takes 1.5 s: the seven counts after it
    (one namespace, 5 counts/s) find their turns long past when the connection frees. Sent
    together they would be seven in one second; each takes a new turn instead, so no second
    holds more than the namespace's limit, and every count is answered."""
    arrivals: list[float] = []

    class Stalling(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            arrivals.append(asyncio.get_running_loop().time())
            await asyncio.sleep(1.5 if len(arrivals) == 1 else 0.001)
            return httpx.Response(200, json={"matchedRecords": 1})

    client = PineconeClient(
        httpx.AsyncClient(transport=Stalling()),
        PineconeSettings(api_key="k"),
        max_in_flight=1,
    )
    index = client.index_at("idx", HOST)
    counts = await asyncio.gather(*(index.count({"a": {"$eq": i}}, "ns") for i in range(8)))
    assert [c.matched for c in counts] == [1] * 8
    assert client.session.late_turns >= 6
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 5
    await client.aclose()
