"""End to end against the emulator over real sockets: every operation, and the pace at the limits."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from retention.errors import NotFound
from retention.pinecone import PineconeSettings, connect

emulator = pytest.importorskip("retention.emulator")

pytestmark = pytest.mark.anyio

INDEX, NS, KEY = "idx", "tenant-a", "e2e-key-0123456789"


class Counting:
    """Wraps the emulator's limiter, recording each delete it admitted or refused."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[tuple[float, bool, float]] = []

    def charge(
        self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]], **when: Any
    ) -> Any:
        denial = self.inner.charge(index, namespace, costs, **when)
        records = sum(n for op, unit, n in costs if (op, unit) == ("delete", "records"))
        if records:
            self.events.append((time.monotonic(), denial is None, records))
        return denial

    def figures(self, since: float, until: float, limit: float) -> tuple[float, float]:
        """(achieved / limit, refused share) over deletes that reached the server since `since`."""
        events = [e for e in self.events if e[0] >= since]
        admitted = sum(n for _, ok, n in events if ok)
        refused = sum(1 for _, ok, _ in events if not ok)
        return admitted / (until - since) / limit, refused / max(1, len(events))


def start(records: int = 0, **config: Any) -> Any:
    emu = emulator.Emulator.start(emulator.EmulatorConfig(indexes=((INDEX, 2),), **config))
    if records:
        ids = (f"doc-{i:07d}" for i in range(records))
        emu.upsert(INDEX, NS, ((i, [0.1, 0.2], {}) for i in ids), validate=False)
    return emu


@pytest.fixture
def emu() -> Iterator[Any]:
    with start(limits="off") as running:
        running.upsert(
            INDEX,
            NS,
            [
                (f"a-{i:04d}", [0.1, 0.2], {"genre": "drama" if i % 2 else "comedy"})
                for i in range(2000)
            ],
        )
        running.upsert(INDEX, "", [(f"d-{i}", [0.1, 0.2], {}) for i in range(5)])
        yield running


async def test_every_operation_against_the_emulator(emu: Any) -> None:
    """Resolve, list, count, fetch, delete and back up through the emulator's real HTTP API."""
    settings = PineconeSettings(api_key=KEY, controller_url=emu.controller_url)
    async with connect(settings) as client:
        index = await client.index(INDEX)
        assert index.host == emu.index_host(INDEX)
        assert [i.name for i in await client.control.list_indexes()] == [INDEX]
        names = [ns.name async for page in index.list_namespaces() for ns in page.namespaces]
        assert sorted(names) == ["__default__", NS]
        assert (await index.describe_namespace(NS)).record_count == 2000
        assert (await index.count({"genre": {"$eq": "drama"}}, NS)).matched == 1000
        ids = [i async for page in index.list_ids(NS, prefix="a-00", limit=50) for i in page.ids]
        assert len(ids) == 100
        fetched = await index.fetch([f"a-{i:04d}" for i in range(1500)], NS)
        assert len(fetched.records) == 1500 and fetched.records["a-0001"].metadata == {
            "genre": "drama"
        }
        dramas = [
            r
            async for p in index.fetch_by_metadata({"genre": "drama"}, NS, limit=400)
            for r in p.records
        ]
        assert len(dramas) == 1000
        deleted = await index.delete_ids([f"a-{i:04d}" for i in range(1200)], NS)
        assert (deleted.requests, deleted.ids_sent) == (2, 1200)
        assert deleted.lsn is not None
        await index.delete_by_filter({"genre": {"$eq": "drama"}}, NS)
        await index.delete_all("")
        assert len(emu.records(INDEX, NS)) == 400
        assert emu.records(INDEX, "") == {}
        await index.delete_namespace(NS)
        with pytest.raises(NotFound):
            await index.describe_namespace(NS)


async def test_paced_deletes_draw_no_429_at_published_limits() -> None:
    """10,000 deletes by id at the published limits finish in about two seconds with no 429."""
    with start(10_000, limits="pinecone") as emu:
        counting = Counting(emu.runtime.enforcer)
        emu.runtime.enforcer = counting
        settings = PineconeSettings(api_key=KEY, controller_url=emu.controller_url)
        async with connect(settings) as client:
            index = await client.index(INDEX)
            await index.delete_ids((f"doc-{i:07d}" for i in range(10_000)), NS)
        assert emu.records(INDEX, NS) == {}
        assert [ok for _, ok, _ in counting.events] == [True] * 10


@pytest.mark.slow
async def test_100k_deletes_under_the_published_limits_each_land_once() -> None:
    """100,000 deletes by id in one namespace, at Pinecone's limits: every batch is admitted
    exactly once and the namespace ends empty. How close to 5,000 records/s that runs, and how
    many requests a limit refuses, are timings: `bench/bench_client.py` measures them."""
    with start(100_000, limits="pinecone") as emu:
        counting = Counting(emu.runtime.enforcer)
        emu.runtime.enforcer = counting
        settings = PineconeSettings(api_key=KEY, controller_url=emu.controller_url)
        async with connect(settings) as client:
            index = await client.index(INDEX)
            await index.delete_ids((f"doc-{i:07d}" for i in range(100_000)), NS)
        assert emu.records(INDEX, NS) == {}
        assert sum(n for _, ok, n in counting.events if ok) == 100_000


@pytest.mark.slow
async def test_lower_server_limit_settles_at_85_percent_with_few_refusals() -> None:
    """Against 2,000 records/s while assuming 5,000, the pace settles at >= 85% with < 2% refused."""
    with start(100_000, limits="pinecone", limit_overrides={"delete_records_per_s": 2000}) as emu:
        counting = Counting(emu.runtime.enforcer)
        emu.runtime.enforcer = counting
        settings = PineconeSettings(api_key=KEY, controller_url=emu.controller_url)
        async with connect(settings) as client:
            index = await client.index(INDEX)
            t0 = time.monotonic()
            await index.delete_ids((f"doc-{i:07d}" for i in range(100_000)), NS)
            ratio, refused = counting.figures(t0 + 10, time.monotonic(), 2000)
        assert emu.records(INDEX, NS) == {}
        assert ratio >= 0.85
        assert refused < 0.02
