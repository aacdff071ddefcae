"""The peer check: the official SDK, unchanged, makes every call `retention` makes, in every API
version the emulator serves, and on a document index through `index.documents`.

`retention` and its emulator could agree with each other and both be wrong; the SDK is
Pinecone's own reading of the wire. SDK 10.2.0 sends API 2026-07; its documented
`additional_headers` replaces the version header on both planes, so one SDK speaks each version.
Where a version predates a call (`fetch_by_metadata` and update by filter before 2025-10), the
emulator answers as that version does, and the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pinecone import Pinecone, RetryConfig
from pinecone.errors import ApiError, NotFoundError

from retention.emulator import Emulator, EmulatorConfig
from tests.emulator.conftest import vec

VERSIONS = ("2025-04", "2025-10", "2026-04", "2026-07")
"""The API versions the emulator serves shapes for, oldest first."""
SCHEMA = {
    "emb": {"type": "dense_vector", "dimension": 4, "metric": "cosine"},
    "body": {"type": "string", "full_text_search": {}},
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off", backup_ready_ms=0)) as running:
        yield running


def speaking(emulator: Emulator, version: str) -> Pinecone:
    """The SDK, retries off, sending `version` on every request."""
    return Pinecone(
        api_key="k",
        host=emulator.controller_url,
        additional_headers={"X-Pinecone-Api-Version": version},
        retry_config=RetryConfig(max_retries=0),
    )


def vectors(emulator: Emulator, name: str) -> None:
    emulator.create_index(name, 4)
    emulator.upsert(name, "t-1", ((f"doc#{i:03d}", vec(i), {"n": i}) for i in range(250)))
    emulator.upsert(name, "t-2", ((f"x{i}", vec(i), {"n": i}) for i in range(10)))


def test_describe_and_list_in_2026_07(emulator: Emulator) -> None:
    """`retention` describes every index in 2026-07; SDK 10.2.0 parses only that shape of
    `IndexModel` (it requires `schema`), so older describe shapes are checked against the
    OpenAPI files instead (tests/emulator/test_http_shapes.py)."""
    vectors(emulator, "cp-index")
    pc = speaking(emulator, "2026-07")
    described = pc.indexes.describe("cp-index")
    assert described.host == emulator.index_host("cp-index") and described.status.ready
    assert "cp-index" in [i.name for i in pc.indexes.list()]


@pytest.mark.parametrize("version", VERSIONS)
def test_backups_in_every_version(emulator: Emulator, version: str) -> None:
    """The backup `backupAbove` takes, created and described."""
    name = f"cp-{version}"
    vectors(emulator, name)
    pc = speaking(emulator, version)
    backup = pc.backups.create(index_name=name, name=f"before-{version}")
    again = pc.backups.describe(backup_id=backup.backup_id)
    assert again.source_index_name == name


@pytest.mark.parametrize("version", VERSIONS)
def test_the_vector_data_plane_calls_retention_makes(emulator: Emulator, version: str) -> None:
    """Namespaces, list, fetch, fetch by metadata, dry-run count, and the three deletes."""
    name = f"dp-{version}"
    vectors(emulator, name)
    index = speaking(emulator, version).index(host=emulator.index_host(name))
    names = sorted(ns.name for page in index.list_namespaces() for ns in page.namespaces)
    assert names == ["t-1", "t-2"]
    assert index.describe_namespace(name="t-1").record_count == 250
    listed = [
        v.id
        for page in index.list(namespace="t-1", prefix="doc#1", limit=100)
        for v in page.vectors
    ]
    assert listed == [f"doc#{i:03d}" for i in range(100, 200)]
    assert list(index.fetch(ids=["doc#007", "none"], namespace="t-1").vectors) == ["doc#007"]
    index.delete(ids=["doc#000", "doc#001"], namespace="t-1")
    if version < "2025-10":
        _predates_filters(index)
    else:
        _filters(index, emulator, name)
    index.delete(delete_all=True, namespace="t-1")
    assert emulator.records(name, "t-1") == {}
    index.delete_namespace(name="t-2")
    with pytest.raises(NotFoundError):
        index.describe_namespace(name="t-2")


def _filters(index: Any, emulator: Emulator, name: str) -> None:
    page = index.fetch_by_metadata(filter={"n": {"$lt": 10}}, namespace="t-1", limit=5)
    assert len(page.vectors) == 5 and page.pagination is not None
    counted = index.update(
        filter={"n": {"$gte": 200}}, set_metadata={}, namespace="t-1", dry_run=True
    )
    assert counted.matched_records == 50
    index.delete(filter={"n": {"$gte": 200}}, namespace="t-1")
    assert len(emulator.records(name, "t-1")) == 198


def _predates_filters(index: Any) -> None:
    """2025-04 has no fetch by metadata (an unknown path there) and no update by filter."""
    with pytest.raises(NotFoundError):
        index.fetch_by_metadata(filter={"n": {"$lt": 10}}, namespace="t-1", limit=5)
    with pytest.raises(ApiError):
        index.update(filter={"n": {"$gte": 200}}, set_metadata={}, namespace="t-1", dry_run=True)


def test_the_document_calls_retention_makes(emulator: Emulator) -> None:
    """On a document index, through `index.documents` (2026-07): list, fetch by IDs, a
    filtered fetch of one field in pages of up to 10,000, and the three deletes."""
    emulator.create_document_index("peer-docs", SCHEMA)
    emulator.upsert_documents(
        "peer-docs",
        "ns",
        (
            {"_id": f"d{i:05d}", "emb": vec(i), "body": "text", "year": i % 10}
            for i in range(12_000)
        ),
    )
    pc = speaking(emulator, "2026-07")
    assert "body" in pc.indexes.describe("peer-docs").schema.fields
    docs = pc.index(host=emulator.index_host("peer-docs")).documents
    assert len([d.id for d in docs.list(namespace="ns", prefix="d01", limit=100)]) == 1000
    got = docs.fetch(namespace="ns", ids=["d00003", "none"])
    assert list(got.documents) == ["d00003"]
    pages, token = [], None
    while True:
        page = docs.fetch(
            namespace="ns",
            filter={"year": {"$lt": 9}},
            include_fields=["year"],
            limit=10_000,
            pagination_token=token,
        )
        pages.append(len(page.documents))
        if page.pagination is None:
            break
        token = page.pagination.next
    assert pages == [10_000, 800]
    assert docs.delete(namespace="ns", ids=["d00000"]).matched_records is None
    assert docs.delete(namespace="ns", filter={"year": {"$eq": 9}}).matched_records == 1200
    docs.delete(namespace="ns", delete_all=True)
    assert emulator.records("peer-docs", "ns") == {}
