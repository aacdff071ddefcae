"""The client against the emulator, over loopback, with every request recorded.

One emulator (limits off) serves the whole folder; each test gets an index of its own. The
client reaches it through `Recorder`, a transport that keeps every request it sends (so tests
assert bodies, paths and headers) and that can answer from a script, or fail as the network
would, before a request reaches the emulator: retries, 429s, 5xx and faults the emulator has
no reason to produce. Time on the client's side is a `FakeClock`, and `random()` is fixed at
0.5, so retry delays are exact.
"""

from __future__ import annotations

import itertools
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import Pacer, PineconeClient, PineconeSettings
from retention.pinecone.dataplane import IndexClient
from retention.pinecone.session import DEFAULT_API_VERSION

KEY = "pcsk_SECRET_test_key_123"
DIM = 2
VALUES = (0.1, 0.2)
_names = itertools.count()
_TLS = ssl.create_default_context()
"""One TLS context for every recorder (building one per test would cost more than the test)."""


@dataclass
class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder(httpx.AsyncBaseTransport):
    """Sends requests to the emulator over loopback, keeping each one (`seen`) and each answer
    the emulator gave (`answers`). Items queued in `script` are served first, one per request,
    without reaching the emulator: a response is returned as it is, an exception raised."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=_TLS)
        self.seen: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []
        self.script: list[httpx.Response | Exception] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.seen.append(request)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.answers.append(response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def body(self, i: int = -1) -> Any:
        """The JSON body of the `i`-th request sent."""
        return json.loads(self.seen[i].content)

    def answer(self, i: int = -1) -> Any:
        """The JSON body of the `i`-th answer the emulator gave."""
        return self.answers[i].json()


def fresh_index(emulator: Emulator, dimension: int = DIM, metric: str = "cosine") -> str:
    """A new, empty index on `emulator` with a name no other test uses."""
    name = f"idx-{next(_names)}"
    emulator.create_index(name, dimension, metric)
    return name


def seed(emulator: Emulator, index: str, ns: str, n: int, **metadata: Any) -> list[str]:
    """Store `n` records `doc-00000`... in `ns`, each with `metadata`; return their IDs."""
    ids = [f"doc-{i:05d}" for i in range(n)]
    emulator.upsert(index, ns, [(i, VALUES, metadata) for i in ids])
    return ids


def make_client(
    wire: Recorder,
    clock: FakeClock,
    emulator: Emulator,
    *,
    api_version: str = DEFAULT_API_VERSION,
    **options: Any,
) -> PineconeClient:
    """A client of `emulator` through `wire`, on the fake clock, with random() fixed at 0.5."""
    options.setdefault("pacer", Pacer(monotonic=clock.monotonic, sleep=clock.sleep))
    settings = PineconeSettings(
        api_key=KEY, controller_url=emulator.controller_url, api_version=api_version
    )
    return PineconeClient(
        httpx.AsyncClient(transport=wire),
        settings,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        random=lambda: 0.5,
        **options,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def emu() -> Iterator[Emulator]:
    """The emulator this folder's client tests share, limits off; tests make their own indexes."""
    with Emulator.start(EmulatorConfig(limits="off")) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wire() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(wire: Recorder, clock: FakeClock, emu: Emulator) -> AsyncIterator[PineconeClient]:
    async with make_client(wire, clock, emu) as made:
        yield made


@pytest.fixture
def index(client: PineconeClient, emu: Emulator) -> IndexClient:
    """The data plane of a fresh, empty index of the shared emulator, at the host it hands out."""
    name = fresh_index(emu)
    return client.index_at(name, emu.index_host(name))
