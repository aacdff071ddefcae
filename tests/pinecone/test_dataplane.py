"""Data-plane operations against the emulator: what is sent, and what comes back."""

from __future__ import annotations

import pytest

from retention.emulator import Emulator
from retention.errors import NotFound
from retention.pinecone.dataplane import IndexClient

from .conftest import VALUES, Recorder, seed

pytestmark = pytest.mark.anyio


async def test_delete_ids_splits_into_batches_of_at_most_1000(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """2,500 ids go out as three deletes of 1,000, 1,000 and 500 ids with the namespace; the
    result carries the highest of the three write LSNs."""
    ids = seed(emu, index.name, "tenant-a", 2500)
    result = await index.delete_ids(ids, "tenant-a")
    sizes = sorted((len(wire.body(i)["ids"]) for i in range(len(wire.seen))), reverse=True)
    assert sizes == [1000, 1000, 500]
    assert all(wire.body(i)["namespace"] == "tenant-a" for i in range(3))
    assert {r.url.path for r in wire.seen} == {f"/index/{index.name}/vectors/delete"}
    assert emu.records(index.name, "tenant-a") == {}
    assert sorted(i.lsn for i in result.infos if i.lsn is not None) == [1, 2, 3]
    assert (result.requests, result.ids_sent, result.lsn) == (3, 2500, 3)


async def test_delete_ids_of_default_namespace_sends_explicit_default(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """The default namespace, passed as "", is sent as "__default__" in the body."""
    seed(emu, index.name, "", 3)
    await index.delete_ids(["doc-00000"], "")
    assert wire.body() == {"namespace": "__default__", "ids": ["doc-00000"]}
    assert sorted(emu.records(index.name, "")) == ["doc-00001", "doc-00002"]


async def test_delete_ids_rejects_batch_size_above_1000(wire: Recorder, index: IndexClient) -> None:
    """A batch size Pinecone would refuse is refused locally, before any request."""
    with pytest.raises(ValueError, match="batch_size must be between 1 and 1000, got: 1001"):
        await index.delete_ids(["a"], "ns", batch_size=1001)
    assert wire.seen == []


async def test_delete_by_filter_and_delete_all(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """A filtered delete and deleteAll send Pinecone's exact bodies."""
    seed(emu, index.name, "ns", 2, genre="drama")
    emu.upsert(index.name, "ns", [("x", VALUES, {"genre": "comedy"})])
    await index.delete_by_filter({"genre": {"$eq": "drama"}}, "ns")
    assert wire.body() == {"namespace": "ns", "filter": {"genre": {"$eq": "drama"}}}
    assert list(emu.records(index.name, "ns")) == ["x"]
    await index.delete_all("ns")
    assert wire.body() == {"namespace": "ns", "deleteAll": True}
    assert emu.records(index.name, "ns") == {}


async def test_empty_filter_is_refused_locally(wire: Recorder, index: IndexClient) -> None:
    """An empty filter would mean 'everything', so it never leaves the process."""
    with pytest.raises(ValueError, match="filter must not be empty"):
        await index.delete_by_filter({}, "ns")
    assert wire.seen == []


async def test_count_is_an_update_dry_run(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """count() sends an update with the filter and dryRun true and reads matchedRecords;
    nothing is changed."""
    seed(emu, index.name, "ns", 4, genre="drama")
    emu.upsert(index.name, "ns", [("x", VALUES, {"genre": "comedy"})])
    count = await index.count({"genre": "drama"}, "ns")
    assert count.matched == 4
    assert wire.seen[-1].url.path == f"/index/{index.name}/vectors/update"
    assert wire.body() == {
        "namespace": "ns",
        "filter": {"genre": "drama"},
        "setMetadata": {},
        "dryRun": True,
    }
    assert {r.metadata["genre"] for r in emu.records(index.name, "ns").values()} == {
        "drama",
        "comedy",
    }


async def test_list_ids_follows_pages_with_prefix(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """list_ids yields every page under the prefix, passing each page's token to the next."""
    seed(emu, index.name, "ns", 5)
    emu.upsert(index.name, "ns", [("other", VALUES, {})])
    pages = [p async for p in index.list_ids("ns", prefix="doc-", limit=2)]
    assert [p.ids for p in pages] == [
        ("doc-00000", "doc-00001"),
        ("doc-00002", "doc-00003"),
        ("doc-00004",),
    ]
    tokens = [r.url.params.get("paginationToken") for r in wire.seen]
    assert tokens == [None, pages[0].next, pages[1].next]
    assert None not in tokens[1:] and pages[2].next is None
    assert all(r.url.params["prefix"] == "doc-" for r in wire.seen)
    assert all(r.url.params["limit"] == "2" for r in wire.seen)


async def test_list_ids_of_default_namespace_sends_empty_query(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """For the default namespace the query string carries `namespace=`, as the SDK sends."""
    seed(emu, index.name, "", 1)
    pages = [p async for p in index.list_ids("__default__")]
    assert pages[0].ids == ("doc-00000",)
    assert wire.seen[0].url.query == b"namespace="


async def test_fetch_splits_at_1000_ids_and_drops_missing(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """Fetching 1,500 ids takes two GETs (1,000 + 500); unknown ids are absent from the result,
    and each request's freshness header is read."""
    ids = seed(emu, index.name, "ns", 1499, genre="drama")
    write = await index.delete_ids(["not-stored"], "ns")
    result = await index.fetch([*ids, "missing"], "ns")
    fetches = wire.seen[1:]
    assert [len(r.url.params.get_list("ids")) for r in fetches] == [1000, 500]
    assert all(r.url.params["namespace"] == "ns" for r in fetches)
    assert len(result.records) == 1499
    assert result.records["doc-00007"].metadata == {"genre": "drama"}
    assert write.lsn is not None
    assert [i.max_indexed_lsn for i in result.infos] == [write.lsn, write.lsn]


async def test_fetch_splits_long_ids_by_url_length(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """Long ids are split so that no fetch URL grows past the query budget."""
    ids = [f"{'x' * 500}-{i}" for i in range(100)]
    emu.upsert(index.name, "ns", [(i, VALUES, {}) for i in ids])
    result = await index.fetch(ids, "ns")
    assert len(wire.seen) > 1
    assert all(len(r.url.query) <= 16_100 for r in wire.seen)
    assert sum(len(r.url.params.get_list("ids")) for r in wire.seen) == 100
    assert set(result.records) == set(ids)


async def test_fetch_by_metadata_paginates(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """fetch_by_metadata yields pages, resending filter and namespace with the token."""
    seed(emu, index.name, "ns", 3, genre="drama")
    emu.upsert(index.name, "ns", [("x", VALUES, {"genre": "comedy"})])
    pages = [p async for p in index.fetch_by_metadata({"genre": "drama"}, "ns", limit=2)]
    assert [[r.id for r in p.records] for p in pages] == [["doc-00000", "doc-00001"], ["doc-00002"]]
    assert pages[0].next is not None
    assert wire.body(1) == {
        "filter": {"genre": "drama"},
        "namespace": "ns",
        "limit": 2,
        "paginationToken": pages[0].next,
    }


async def test_list_namespaces_paginates_and_reads_string_counts(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """Namespace pages follow `pagination.next`; string record counts become ints."""
    for name, n in (("a", 1), ("b", 2), ("c", 3)):
        seed(emu, index.name, name, n)
    pages = [p async for p in index.list_namespaces(limit=2)]
    assert [(ns.name, ns.record_count) for p in pages for ns in p.namespaces] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ]
    assert wire.answer(0)["namespaces"][0]["record_count"] == "1"
    assert wire.seen[1].url.params["paginationToken"] == pages[0].next
    assert pages[0].total_count == 3


async def test_describe_and_delete_namespace_quote_the_path(
    wire: Recorder, index: IndexClient, emu: Emulator
) -> None:
    """Namespace names are path-quoted; the default namespace is `/namespaces/__default__`."""
    seed(emu, index.name, "a/b c", 2)
    seed(emu, index.name, "", 1)
    assert (await index.describe_namespace("a/b c")).record_count == 2
    assert wire.seen[-1].url.raw_path == f"/index/{index.name}/namespaces/a%2Fb%20c".encode()
    await index.delete_namespace("")
    assert wire.seen[-1].url.raw_path == f"/index/{index.name}/namespaces/__default__".encode()
    assert emu.records(index.name, "") == {}
    assert len(emu.records(index.name, "a/b c")) == 2


async def test_delete_namespace_missing_ok(wire: Recorder, index: IndexClient) -> None:
    """A missing namespace is NotFound, unless missing_ok says that already means done."""
    with pytest.raises(NotFound, match="Namespace not found"):
        await index.delete_namespace("gone")
    info = await index.delete_namespace("gone", missing_ok=True)
    assert info.request_id is None
    assert [a.status_code for a in wire.answers] == [404, 404]
