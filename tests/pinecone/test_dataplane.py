"""Data-plane operations against the in-memory fake: what is sent, and what comes back."""

from __future__ import annotations

import pytest

from retention.errors import NotFound
from retention.pinecone import PineconeClient

from .conftest import HOST, FakePinecone

pytestmark = pytest.mark.anyio


def seed(fake: FakePinecone, ns: str, n: int, **metadata: object) -> list[str]:
    ids = [f"doc-{i:05d}" for i in range(n)]
    fake.ns(ns).update({i: dict(metadata) for i in ids})
    return ids


async def test_delete_ids_splits_into_batches_of_at_most_1000(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """2,500 ids go out as three deletes of 1,000, 1,000 and 500 ids with the namespace."""
    ids = seed(fake, "tenant-a", 2500)
    result = await client.index_at("idx", HOST).delete_ids(ids, "tenant-a")
    sizes = sorted((len(fake.body(i)["ids"]) for i in range(len(fake.seen))), reverse=True)
    assert sizes == [1000, 1000, 500]
    assert all(fake.body(i)["namespace"] == "tenant-a" for i in range(3))
    assert {r.url.path for r in fake.seen} == {"/vectors/delete"}
    assert fake.records["tenant-a"] == {}
    assert (result.requests, result.ids_sent, result.lsn) == (3, 2500, 7)


async def test_delete_ids_of_default_namespace_sends_explicit_default(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """The default namespace, passed as "", is sent as "__default__" in the body."""
    seed(fake, "", 3)
    await client.index_at("idx", HOST).delete_ids(["doc-00000"], "")
    assert fake.body() == {"namespace": "__default__", "ids": ["doc-00000"]}
    assert len(fake.records["__default__"]) == 2


async def test_delete_ids_rejects_batch_size_above_1000(client: PineconeClient) -> None:
    """A batch size Pinecone would refuse is refused locally, before any request."""
    with pytest.raises(ValueError, match="batch_size must be between 1 and 1000, got: 1001"):
        await client.index_at("idx", HOST).delete_ids(["a"], "ns", batch_size=1001)


async def test_delete_by_filter_and_delete_all(fake: FakePinecone, client: PineconeClient) -> None:
    """A filtered delete and deleteAll send Pinecone's exact bodies."""
    seed(fake, "ns", 2, genre="drama")
    fake.ns("ns")["x"] = {"genre": "comedy"}
    index = client.index_at("idx", HOST)
    await index.delete_by_filter({"genre": {"$eq": "drama"}}, "ns")
    assert fake.body() == {"namespace": "ns", "filter": {"genre": {"$eq": "drama"}}}
    assert list(fake.records["ns"]) == ["x"]
    await index.delete_all("ns")
    assert fake.body() == {"namespace": "ns", "deleteAll": True}
    assert fake.records["ns"] == {}


async def test_empty_filter_is_refused_locally(client: PineconeClient) -> None:
    """An empty filter would mean 'everything', so it never leaves the process."""
    with pytest.raises(ValueError, match="filter must not be empty"):
        await client.index_at("idx", HOST).delete_by_filter({}, "ns")


async def test_count_is_an_update_dry_run(fake: FakePinecone, client: PineconeClient) -> None:
    """count() sends an update with the filter and dryRun true and reads matchedRecords."""
    seed(fake, "ns", 4, genre="drama")
    count = await client.index_at("idx", HOST).count({"genre": "drama"}, "ns")
    assert count.matched == 4
    assert fake.seen[-1].url.path == "/vectors/update"
    assert fake.body() == {
        "namespace": "ns",
        "filter": {"genre": "drama"},
        "setMetadata": {},
        "dryRun": True,
    }


async def test_list_ids_follows_pages_with_prefix(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """list_ids yields every page under the prefix, passing the pagination token along."""
    seed(fake, "ns", 5)
    fake.ns("ns")["other"] = {}
    pages = [p async for p in client.index_at("idx", HOST).list_ids("ns", prefix="doc-")]
    assert [p.ids for p in pages] == [
        ("doc-00000", "doc-00001"),
        ("doc-00002", "doc-00003"),
        ("doc-00004",),
    ]
    assert [r.url.params.get("paginationToken") for r in fake.seen] == [None, "2", "4"]
    assert all(r.url.params["prefix"] == "doc-" for r in fake.seen)


async def test_list_ids_of_default_namespace_sends_empty_query(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """For the default namespace the query string carries `namespace=`, as the SDK sends."""
    seed(fake, "", 1)
    pages = [p async for p in client.index_at("idx", HOST).list_ids("__default__")]
    assert pages[0].ids == ("doc-00000",)
    assert fake.seen[0].url.query == b"namespace="


async def test_fetch_splits_at_1000_ids_and_drops_missing(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """Fetching 1,500 ids takes two GETs (1,000 + 500); unknown ids are absent from the result."""
    ids = seed(fake, "ns", 1499, genre="drama")
    result = await client.index_at("idx", HOST).fetch([*ids, "missing"], "ns")
    assert [len(r.url.params.get_list("ids")) for r in fake.seen] == [1000, 500]
    assert all(r.url.params["namespace"] == "ns" for r in fake.seen)
    assert len(result.records) == 1499
    assert result.records["doc-00007"].metadata == {"genre": "drama"}
    assert [i.max_indexed_lsn for i in result.infos] == [9, 9]


async def test_fetch_splits_long_ids_by_url_length(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """Long ids are split so that no fetch URL grows past the query budget."""
    ids = [f"{'x' * 500}-{i}" for i in range(100)]
    await client.index_at("idx", HOST).fetch(ids, "ns")
    assert len(fake.seen) > 1
    assert all(len(r.url.query) <= 16_100 for r in fake.seen)
    assert sum(len(r.url.params.get_list("ids")) for r in fake.seen) == 100


async def test_fetch_by_metadata_paginates(fake: FakePinecone, client: PineconeClient) -> None:
    """fetch_by_metadata yields pages, resending filter and namespace with the token."""
    seed(fake, "ns", 3, genre="drama")
    pages = [
        p async for p in client.index_at("idx", HOST).fetch_by_metadata({"genre": "drama"}, "ns")
    ]
    assert [len(p.records) for p in pages] == [2, 1]
    assert fake.body(1) == {
        "filter": {"genre": "drama"},
        "namespace": "ns",
        "paginationToken": "2",
    }


async def test_list_namespaces_paginates_and_reads_string_counts(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """Namespace pages follow `pagination.next`; string record counts become ints."""
    for name, n in (("a", 1), ("b", 2), ("c", 3)):
        seed(fake, name, n)
    pages = [p async for p in client.index_at("idx", HOST).list_namespaces()]
    assert [(ns.name, ns.record_count) for p in pages for ns in p.namespaces] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ]
    assert pages[0].total_count == 3


async def test_describe_and_delete_namespace_quote_the_path(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """Namespace names are path-quoted; the default namespace is `/namespaces/__default__`."""
    seed(fake, "a/b c", 2)
    seed(fake, "", 1)
    index = client.index_at("idx", HOST)
    assert (await index.describe_namespace("a/b c")).record_count == 2
    assert fake.seen[-1].url.raw_path == b"/namespaces/a%2Fb%20c"
    await index.delete_namespace("")
    assert fake.seen[-1].url.raw_path == b"/namespaces/__default__"
    assert "__default__" not in fake.records


async def test_delete_namespace_missing_ok(fake: FakePinecone, client: PineconeClient) -> None:
    """A missing namespace is NotFound, unless missing_ok says that already means done."""
    index = client.index_at("idx", HOST)
    with pytest.raises(NotFound, match="Namespace not found"):
        await index.delete_namespace("gone")
    info = await index.delete_namespace("gone", missing_ok=True)
    assert info.request_id is None
