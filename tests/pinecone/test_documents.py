"""The client on a document index (API 2026-07): found by its schema, served by the documents
routes through `IndexClient`'s methods, and never reading a malformed answer as "nothing"."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.errors import PineconeError
from retention.pinecone import DocumentIndexClient, PineconeClient
from retention.pinecone.documents import COUNT_PAGE

from .conftest import FakeClock, Recorder, make_client

pytestmark = pytest.mark.anyio

SCHEMA = {
    "emb": {"type": "dense_vector", "dimension": 2, "metric": "cosine"},
    "body": {"type": "string", "full_text_search": {}},
}
_names = itertools.count()


def document_index(emu: Emulator, ns: str = "ns", n: int = 0, **metadata: Any) -> str:
    """A fresh document index holding `n` documents `d-00000`... in `ns`, each with `metadata`
    and a `year` of 2000 + its number mod 10."""
    name = f"docs-{next(_names)}"
    emu.create_document_index(name, SCHEMA)
    if n:
        emu.upsert_documents(
            name,
            ns,
            (
                {"_id": f"d-{i:05d}", "emb": [1.0, 0.5], "body": f"text {i}", "year": 2000 + i % 10}
                | metadata
                for i in range(n)
            ),
        )
    return name


@pytest.fixture
async def docs(client: PineconeClient, emu: Emulator) -> AsyncIterator[DocumentIndexClient]:
    """The data plane of a document index holding 250 documents in namespace `ns`."""
    index = await client.index(document_index(emu, n=250))
    assert isinstance(index, DocumentIndexClient)
    yield index


def versions(wire: Recorder) -> set[str]:
    return {r.headers["X-Pinecone-Api-Version"] for r in wire.seen}


async def test_the_schema_makes_a_document_client_and_every_call_speaks_2026_07(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """Describe (2026-07 whatever the client's version) finds the schema; the namespaces API
    of a document index is asked in 2026-07 too."""
    assert docs.schema == {"emb": "dense_vector", "body": "string"}
    assert wire.seen[0].url.path == f"/indexes/{docs.name}"
    [ns] = [n async for page in docs.list_namespaces() for n in page.namespaces]
    assert (ns.name, ns.record_count) == ("ns", 250)
    assert (await docs.describe_namespace("ns")).record_count == 250
    assert versions(wire) == {"2026-07"}


@pytest.mark.parametrize("old_versions", ["describe", "hide"])
async def test_a_document_index_is_found_however_older_versions_see_it(
    clock: FakeClock, old_versions: str
) -> None:
    """Whether API 2026-04 describes a document index as a vector index of its dense field or
    not at all, the client sees a document index: it never asks in 2026-04."""
    config = EmulatorConfig(limits="off", old_version_documents=old_versions)  # type: ignore[arg-type]
    with Emulator.start(config) as emu:
        name = document_index(emu, n=3)
        wire = Recorder()
        async with make_client(wire, clock, emu, api_version="2026-04") as client:
            index = await client.index(name)
            assert isinstance(index, DocumentIndexClient)
            assert (await index.count({"year": {"$gte": 2000}}, "ns")).matched == 3


async def test_a_vector_index_described_in_2026_07_stays_a_vector_index(
    client: PineconeClient, emu: Emulator
) -> None:
    """`_values` (and `_sparse_values`) alone are a vector index's schema."""
    emu.create_index("plain-vectors", 2)
    index = await client.index("plain-vectors")
    assert type(index).__name__ == "IndexClient"


async def test_list_ids_pages_through_pagination_tokens(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """POST .../documents/list, 100 a page, the token sent back as `pagination_token`."""
    start = len(wire.seen)
    pages = [p async for p in docs.list_ids("ns", prefix="d-", limit=100)]
    assert [len(p.ids) for p in pages] == [100, 100, 50]
    assert pages[0].ids[0] == "d-00000" and pages[-1].next is None
    sent = wire.seen[start:]
    assert {r.url.path for r in sent} == {f"/index/{docs.name}/namespaces/ns/documents/list"}
    assert wire.body(start) == {"prefix": "d-", "limit": 100}
    assert set(wire.body(start + 1)) == {"prefix", "limit", "pagination_token"}
    with pytest.raises(ValueError, match="1 to 100"):
        docs.list_ids("ns", limit=1000)


async def test_fetch_reads_metadata_without_the_schemas_fields(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """Fetched by ID, a document's metadata is its fields less the vectors and the searchable
    text (which no metadata filter compares); missing IDs are simply absent."""
    found = await docs.fetch(["d-00003", "nope"], "ns")
    assert found.records["d-00003"].metadata == {"year": 2003}
    assert set(found.records) == {"d-00003"}
    assert wire.body() == {"ids": ["d-00003", "nope"]}
    assert wire.seen[-1].url.path.endswith("/namespaces/ns/documents/fetch")


async def test_fetch_by_metadata_asks_for_every_field(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """The records the applier re-checks come whole: a protection may name any field."""
    pages = [p async for p in docs.fetch_by_metadata({"year": {"$eq": 2004}}, "ns", limit=10)]
    assert sum(len(p.records) for p in pages) == 25
    assert "include_fields" not in wire.body()
    assert all(r.metadata["year"] == 2004 for p in pages for r in p.records)


async def test_count_pages_a_filtered_fetch_of_one_field(
    wire: Recorder, client: PineconeClient, emu: Emulator
) -> None:
    """No dry run on a document index: the filter's matches are fetched, 10,000 a page, each
    with only a field the filter names, and counted."""
    index = await client.index(document_index(emu, n=2 * COUNT_PAGE + 5))
    start = len(wire.seen)
    counted = await index.count({"$and": [{"year": {"$gte": 2000}}, {"year": {"$lt": 2100}}]}, "ns")
    assert counted.matched == 2 * COUNT_PAGE + 5
    assert len(wire.seen) - start == 3
    first = wire.body(start)
    assert first["limit"] == COUNT_PAGE and first["include_fields"] == ["year"]
    assert "pagination_token" in wire.body(start + 1)
    assert counted.info.max_indexed_lsn is None  # a fetch proves no freshness


async def test_filtered_delete_returns_matched_records(
    wire: Recorder, docs: DocumentIndexClient, emu: Emulator
) -> None:
    """The body is the filter alone; the answer's count comes back in `matched`."""
    done = await docs.delete_by_filter({"year": {"$lt": 2002}}, "ns")
    assert wire.body() == {"filter": {"year": {"$lt": 2002}}}
    assert wire.seen[-1].url.path.endswith("/namespaces/ns/documents/delete")
    assert done.matched == 50 and done.lsn is not None
    assert len(emu.records(docs.name, "ns")) == 200


async def test_id_and_whole_namespace_deletes(
    wire: Recorder, docs: DocumentIndexClient, emu: Emulator
) -> None:
    done = await docs.delete_ids([f"d-{i:05d}" for i in range(10)], "ns")
    assert wire.body() == {"ids": [f"d-{i:05d}" for i in range(10)]}
    assert done.matched is None and len(emu.records(docs.name, "ns")) == 240
    emptied = await docs.delete_all("ns")
    assert wire.body() == {"delete_all": True}
    assert emptied.matched is None and emu.records(docs.name, "ns") == {}


async def test_a_delete_without_matched_records_says_none(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """`matched_records` is optional (not counted in time): absent, `matched` is None, never 0."""
    wire.script.append(httpx.Response(202, json={}))
    assert (await docs.delete_by_filter({"year": 2001}, "ns")).matched is None


@pytest.mark.parametrize(
    ("route", "answer"),
    [
        ("count", {"namespace": "ns", "usage": {"read_units": 1}}),
        ("count", {"documents": [], "namespace": "ns"}),
        ("list", {"documents": {"a": {}}, "namespace": "ns"}),
        ("list", {"documents": [{"id": "a"}], "namespace": "ns"}),
        ("fetch", {"documents": {"a": {"_id": 7}}}),
    ],
)
async def test_a_malformed_answer_is_an_error_not_nothing(
    wire: Recorder, docs: DocumentIndexClient, route: str, answer: dict[str, Any]
) -> None:
    """A count of 0 would say 'verified'; an answer the documents API does not give is refused."""
    wire.script.append(httpx.Response(200, json=answer))
    with pytest.raises(PineconeError, match="malformed documents answer"):
        if route == "count":
            await docs.count({"year": 2001}, "ns")
        elif route == "list":
            [p async for p in docs.list_ids("ns")]
        else:
            await docs.fetch(["a"], "ns")


async def test_documents_errors_read_as_pinecone_errors(
    wire: Recorder, docs: DocumentIndexClient
) -> None:
    """The documents API's `{"error": {"code", "message"}, "status"}` bodies are read."""
    with pytest.raises(PineconeError, match=r"HTTP 400 INVALID_ARGUMENT: .*[Tt]ext match"):
        await docs.delete_by_filter({"body": {"$match_all": "text"}}, "ns")
