"""Control plane: host resolution from both index shapes, and listing."""

from __future__ import annotations

import pytest

from retention.errors import NotFound
from retention.pinecone import PineconeClient

from .conftest import CONTROLLER, FakePinecone

pytestmark = pytest.mark.anyio

SPEC_SHAPE = {
    "name": "old",
    "dimension": 1536,
    "metric": "cosine",
    "host": "old-abc123.svc.aped-4627-b74a.pinecone.io",
    "deletion_protection": "disabled",
    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    "status": {"ready": True, "state": "Ready"},
    "vector_type": "dense",
}
SCHEMA_SHAPE = {
    "name": "new",
    "host": "http://127.0.0.1:5081",
    "status": {"ready": False, "state": "Initializing"},
    "deletion_protection": "enabled",
    "schema": {
        "fields": {"_values": {"type": "dense_vector", "dimension": 2, "metric": "dotproduct"}}
    },
    "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
    "tags": None,
}


@pytest.fixture(autouse=True)
def indexes(fake: FakePinecone) -> None:
    fake.indexes.update(old=SPEC_SHAPE, new=SCHEMA_SHAPE)


async def test_describe_index_spec_shape_gets_https(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """The 2026-04 shape gives dimension and metric; a host without scheme becomes https."""
    index = await client.control.describe_index("old")
    assert index.host == "https://old-abc123.svc.aped-4627-b74a.pinecone.io"
    assert (index.dimension, index.metric, index.ready, index.state) == (
        1536,
        "cosine",
        True,
        "Ready",
    )
    assert str(fake.seen[0].url) == f"{CONTROLLER}/indexes/old"


async def test_describe_index_schema_shape_keeps_scheme(client: PineconeClient) -> None:
    """The 2026-07 shape reads dimension and metric from schema._values; an http host stays."""
    index = await client.control.describe_index("new")
    assert index.host == "http://127.0.0.1:5081"
    assert (index.dimension, index.metric, index.deletion_protection) == (
        2,
        "dotproduct",
        "enabled",
    )
    assert (index.ready, index.state) == (False, "Initializing")


async def test_index_resolves_its_host(fake: FakePinecone, client: PineconeClient) -> None:
    """client.index(name) asks the control plane once, then talks to the data-plane host."""
    index = await client.index("old")
    await index.count({"a": 1}, "ns")
    assert [str(r.url) for r in fake.seen] == [
        f"{CONTROLLER}/indexes/old",
        "https://old-abc123.svc.aped-4627-b74a.pinecone.io/vectors/update",
    ]


async def test_unknown_index_is_not_found(client: PineconeClient) -> None:
    """A missing index raises NotFound with the control plane's code and message."""
    with pytest.raises(NotFound, match="NOT_FOUND: Index nope not found") as info:
        await client.control.describe_index("nope")
    assert info.value.code == "NOT_FOUND"


async def test_list_indexes_reads_both_shapes(client: PineconeClient) -> None:
    """list_indexes returns every index, whatever shape each one has."""
    names = {(i.name, i.host) for i in await client.control.list_indexes()}
    assert names == {
        ("old", "https://old-abc123.svc.aped-4627-b74a.pinecone.io"),
        ("new", "http://127.0.0.1:5081"),
    }
