"""The official SDK, unchanged, runs a whole retention workflow against the emulator."""

from __future__ import annotations

import pytest
from pinecone import ServerlessSpec
from pinecone.errors import ApiError, NotFoundError

from retention.emulator import Emulator
from tests.emulator.conftest import StartEmulator, sdk, vec

NAMESPACES = ("tenant-a", "tenant-b", "__default__")
PER_NAMESPACE = {"tenant-a": 4000, "tenant-b": 3000, "__default__": 3000}


def _records(ns: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"doc-{i // 10}#chunk-{i % 10}",
            "values": vec(i),
            "metadata": {"n": i, "kind": "odd" if i % 2 else "even", "tags": [ns, f"t{i % 3}"]},
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def loaded() -> object:
    """An index created and loaded with 10,000 records through the SDK (shared, read-mostly)."""
    with Emulator.start() as emulator:  # Pinecone's limits on: a paced SDK client stays under them
        pc = sdk(emulator, retries=True)
        model = pc.indexes.create(
            name="docs",
            dimension=4,
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        index = pc.index(host=model.host)
        for ns, n in PER_NAMESPACE.items():
            response = index.upsert(vectors=_records(ns, n), namespace=ns, batch_size=1000)
            assert response.upserted_count == n
        yield emulator, pc, index


def test_create_and_describe_index(loaded: tuple[Emulator, object, object]) -> None:
    """The index the SDK created describes itself with the 2026-07 schema and a usable host."""
    emulator, pc, _ = loaded
    model = pc.indexes.describe("docs")  # type: ignore[attr-defined]
    assert model.host == emulator.index_host("docs")
    assert model.status.ready and model.status.state == "Ready"
    assert model.deletion_protection == "disabled"
    assert [i.name for i in pc.indexes.list()] == ["docs"]  # type: ignore[attr-defined]


def test_stats_and_namespaces(loaded: tuple[Emulator, object, object]) -> None:
    """Stats and the namespace API count all 10,000 records, the default one as __default__."""
    _, _, index = loaded
    stats = index.describe_index_stats()  # type: ignore[attr-defined]
    assert stats.total_vector_count == 10_000
    assert {k: v.vector_count for k, v in stats.namespaces.items()} == PER_NAMESPACE
    assert stats.dimension == 4
    pages = list(index.list_namespaces())  # type: ignore[attr-defined]
    names = sorted(ns.name for page in pages for ns in page.namespaces)
    assert names == sorted(NAMESPACES)
    assert index.describe_namespace(name="tenant-a").record_count == 4000  # type: ignore[attr-defined]
    page = index.list_namespaces_paginated(prefix="tenant", limit=1)  # type: ignore[attr-defined]
    assert [ns.name for ns in page.namespaces] == ["tenant-a"]
    assert page.pagination is not None and page.pagination.next


def test_list_with_prefix_and_pagination(loaded: tuple[Emulator, object, object]) -> None:
    """Listing by prefix pages through IDs in byte order and stops at the prefix's end."""
    _, _, index = loaded
    first = index.list_paginated(namespace="tenant-a", prefix="doc-12#", limit=4)  # type: ignore[attr-defined]
    assert [v.id for v in first.vectors] == [f"doc-12#chunk-{i}" for i in range(4)]
    assert first.pagination is not None
    ids = [
        v.id
        for page in index.list(namespace="tenant-a", prefix="doc-12", limit=7)
        for v in page.vectors
    ]  # type: ignore[attr-defined]
    expected = sorted(
        f"doc-{d}#chunk-{c}" for d in range(400) if str(d).startswith("12") for c in range(10)
    )
    assert ids == expected
    last = index.list_paginated(namespace="tenant-a", prefix="doc-399#", limit=10)  # type: ignore[attr-defined]
    assert len(last.vectors) == 10 and last.pagination is None


def test_fetch(loaded: tuple[Emulator, object, object]) -> None:
    """Fetch returns stored records by ID, integers as floats, and ignores missing IDs."""
    _, _, index = loaded
    got = index.fetch(ids=["doc-0#chunk-3", "missing"], namespace="tenant-b")  # type: ignore[attr-defined]
    assert list(got.vectors) == ["doc-0#chunk-3"]
    record = got.vectors["doc-0#chunk-3"]
    assert record.values == vec(3)
    assert record.metadata == {"n": 3.0, "kind": "odd", "tags": ["tenant-b", "t0"]}
    default = index.fetch(ids=["doc-0#chunk-1"])  # type: ignore[attr-defined]
    assert default.vectors["doc-0#chunk-1"].metadata["tags"][0] == "__default__"


def test_fetch_by_metadata_pages_through_matches(loaded: tuple[Emulator, object, object]) -> None:
    """fetch_by_metadata returns each match exactly once across pages."""
    _, _, index = loaded
    seen: list[str] = []
    token = None
    while True:
        page = index.fetch_by_metadata(  # type: ignore[attr-defined]
            filter={"n": {"$lt": 250}, "tags": {"$in": ["t1"]}},
            namespace="tenant-a",
            limit=30,
            pagination_token=token,
        )
        seen.extend(page.vectors)
        if page.pagination is None or not page.pagination.next:
            break
        token = page.pagination.next
    assert len(seen) == len(set(seen)) == len([i for i in range(250) if i % 3 == 1])


def test_update_dry_run_counts_without_changing(loaded: tuple[Emulator, object, object]) -> None:
    """A dry-run update reports matchedRecords and changes nothing."""
    emulator, _, index = loaded
    response = index.update(  # type: ignore[attr-defined]
        filter={"kind": {"$eq": "odd"}}, set_metadata={"x": 1}, namespace="tenant-b", dry_run=True
    )
    assert response.matched_records == 1500
    assert all("x" not in r.metadata for r in emulator.records("docs", "tenant-b").values())


def test_writes_and_deletes_through_the_sdk(start_emulator: StartEmulator) -> None:
    """Update, delete by IDs, by filter, deleteAll and namespace deletion do what Pinecone does."""
    emulator = start_emulator(limits="pinecone")
    pc = sdk(emulator)
    pc.indexes.create(
        name="w", dimension=4, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    emulator.upsert("w", "ns", ((f"r{i:03}", vec(i), {"n": i}) for i in range(300)))
    emulator.upsert("w", "", ((f"d{i}", vec(i), {"n": i}) for i in range(5)))
    index = pc.index(name="w")
    updated = index.update(filter={"n": {"$gte": 290}}, set_metadata={"old": True}, namespace="ns")
    assert updated.matched_records == 10
    assert emulator.records("w", "ns")["r295"].metadata == {"n": 295.0, "old": True}
    index.update(id="r000", set_metadata={"n": 7}, namespace="ns")
    assert emulator.records("w", "ns")["r000"].metadata == {"n": 7.0}
    index.delete(ids=[f"r{i:03}" for i in range(100)] + ["nope"], namespace="ns")
    index.delete(filter={"old": {"$eq": True}}, namespace="ns")
    assert sorted(emulator.records("w", "ns")) == [f"r{i:03}" for i in range(100, 290)]
    index.delete(delete_all=True, namespace="ns")
    assert emulator.records("w", "ns") == {}
    index.delete_namespace(name="__default__")
    assert index.describe_index_stats().total_vector_count == 0
    with pytest.raises(NotFoundError):
        index.describe_namespace(name="__default__")


def test_sdk_sees_pinecone_errors(emu: Emulator) -> None:
    """Server-side refusals reach the SDK as ApiError with Pinecone's status and message."""
    from tests.emulator.conftest import sdk_index

    index = sdk_index(emu)
    with pytest.raises(ApiError) as info:
        index.delete(ids=[f"id{i}" for i in range(1268)], namespace="ns")
    assert info.value.status_code == 400
    assert "Number of provided IDs: 1268 exceeds the maximum amount per request: 1000" in str(
        info.value
    )
    with pytest.raises(ApiError) as info:
        index.upsert(vectors=[("a", [1.0, 2.0])], namespace="ns")
    assert "Vector dimension 2 does not match the dimension of the index 4" in str(info.value)
