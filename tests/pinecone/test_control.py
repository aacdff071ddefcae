"""Control plane: host resolution from both index shapes, and listing."""

from __future__ import annotations

import httpx
import pytest

from retention.emulator import Emulator
from retention.errors import NotFound
from retention.pinecone import PineconeClient
from retention.pinecone.models import IndexDescription

from .conftest import FakeClock, Recorder, fresh_index, make_client

pytestmark = pytest.mark.anyio

SHAPES = ["2026-04", "2026-07"]
"""API versions answered with the `dimension`/`spec` shape and the `schema`/`deployment` one."""

PINECONE_SPEC_SHAPE = {
    "name": "old",
    "dimension": 1536,
    "metric": "cosine",
    "host": "old-abc123.svc.aped-4627-b74a.pinecone.io",
    "deletion_protection": "disabled",
    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    "status": {"ready": False, "state": "Initializing"},
    "vector_type": "dense",
}
"""An index as Pinecone describes it (shared/pinecone/FACTS.md §7), still initializing."""


async def protect(emulator: Emulator, name: str) -> None:
    """Turn deletion protection on through the emulator's control plane."""
    async with httpx.AsyncClient() as http:
        response = await http.patch(
            f"{emulator.controller_url}/indexes/{name}", json={"deletion_protection": "enabled"}
        )
    assert response.status_code == 202


def test_a_bare_host_from_pinecone_means_https() -> None:
    """Pinecone gives the data-plane host without a scheme; it is read as https, and a state
    other than Ready is kept as not ready."""
    index = IndexDescription.from_json(PINECONE_SPEC_SHAPE)
    assert index.host == "https://old-abc123.svc.aped-4627-b74a.pinecone.io"
    assert (index.dimension, index.metric, index.ready, index.state) == (
        1536,
        "cosine",
        False,
        "Initializing",
    )


async def test_listing_spec_shape(wire: Recorder, client: PineconeClient, emu: Emulator) -> None:
    """The 2026-04 shape gives dimension and metric at the top; the host keeps its scheme."""
    name = fresh_index(emu, 1536, "euclidean")
    index = {i.name: i for i in await client.control.list_indexes()}[name]
    assert all("spec" in i and "schema" not in i for i in wire.answer()["indexes"])
    assert index.host == emu.index_host(name)
    assert (index.dimension, index.metric, index.ready, index.state) == (
        1536,
        "euclidean",
        True,
        "Ready",
    )
    assert index.deletion_protection == "disabled"
    assert index.schema == {} and not index.documents


async def test_describe_asks_in_2026_07_whatever_the_client_speaks(
    wire: Recorder, client: PineconeClient, emu: Emulator
) -> None:
    """Describe reads the schema shape even from a 2026-04 client: only it tells a document
    index from a vector index."""
    name = fresh_index(emu, 4, "euclidean")
    index = await client.control.describe_index(name)
    assert wire.seen[0].headers["X-Pinecone-Api-Version"] == "2026-07"
    assert str(wire.seen[0].url) == f"{emu.controller_url}/indexes/{name}"
    assert "schema" in wire.answer()
    assert (index.dimension, index.metric, index.documents) == (4, "euclidean", False)


async def test_describe_index_schema_shape(wire: Recorder, clock: FakeClock, emu: Emulator) -> None:
    """The 2026-07 shape reads dimension and metric from schema._values; an http host stays."""
    name = fresh_index(emu, 2, "dotproduct")
    await protect(emu, name)
    async with make_client(wire, clock, emu, api_version="2026-07") as client:
        index = await client.control.describe_index(name)
    assert "schema" in wire.answer() and "dimension" not in wire.answer()
    assert index.host == emu.index_host(name)
    assert (index.dimension, index.metric, index.deletion_protection) == (
        2,
        "dotproduct",
        "enabled",
    )
    assert (index.ready, index.state) == (True, "Ready")


async def test_index_resolves_its_host(
    wire: Recorder, client: PineconeClient, emu: Emulator
) -> None:
    """client.index(name) asks the control plane once, then talks to the data-plane host."""
    name = fresh_index(emu)
    index = await client.index(name)
    await index.count({"a": 1}, "ns")
    assert [str(r.url) for r in wire.seen] == [
        f"{emu.controller_url}/indexes/{name}",
        f"{emu.index_host(name)}/vectors/update",
    ]


async def test_unknown_index_is_not_found(wire: Recorder, client: PineconeClient) -> None:
    """A missing index raises NotFound with the control plane's code and message."""
    with pytest.raises(NotFound, match="NOT_FOUND: Index nope not found") as info:
        await client.control.describe_index("nope")
    assert info.value.code == "NOT_FOUND"
    assert wire.answers[0].status_code == 404


async def test_list_indexes_reads_either_shape(clock: FakeClock, emulator: Emulator) -> None:
    """list_indexes returns every index, with host, dimension and metric, in either shape."""
    old = fresh_index(emulator, 1536, "cosine")
    new = fresh_index(emulator, 2, "dotproduct")
    for version in SHAPES:
        wire = Recorder()
        async with make_client(wire, clock, emulator, api_version=version) as client:
            indexes = await client.control.list_indexes()
        listed = wire.answer()["indexes"]
        assert len(listed) == 2
        assert all(("schema" in i) == (version == "2026-07") for i in listed)
        assert {(i.name, i.host, i.dimension, i.metric) for i in indexes} == {
            (old, emulator.index_host(old), 1536, "cosine"),
            (new, emulator.index_host(new), 2, "dotproduct"),
        }
