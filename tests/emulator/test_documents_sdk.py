"""The official SDK 10.2.0, unchanged, drives a document index in the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from pinecone import ServerlessSpec
from pinecone.errors import ApiError, PineconeError

from retention.emulator import Emulator
from tests.emulator.conftest import StartEmulator, sdk

SCHEMA = {
    "fields": {
        "emb": {"type": "dense_vector", "dimension": 2, "metric": "dotproduct"},
        "title": {"type": "string", "full_text_search": {}},
    }
}


@pytest.fixture
def docs(start_emulator: StartEmulator) -> tuple[Emulator, Any]:
    emulator = start_emulator()
    pc = sdk(emulator)
    model = pc.indexes.create(name="docs", schema=SCHEMA)
    assert set(model.schema.fields) == {"emb", "title"}
    index = pc.index(host=model.host)
    documents = [
        {"_id": f"doc#{i:03d}", "emb": [1.0, float(i)], "title": f"title {i}", "year": 2000 + i}
        for i in range(30)
    ]
    response = index.documents.upsert(namespace="ns", documents=documents)
    assert response.upserted_count == 30
    return emulator, index


def test_describe_and_list_show_the_schema(docs: tuple[Emulator, Any]) -> None:
    emulator, _ = docs
    pc = sdk(emulator)
    model = pc.indexes.describe("docs")
    assert model.schema.fields["emb"].dimension == 2
    assert [i.name for i in pc.indexes.list()] == ["docs"]


def test_list_with_prefix_follows_pages(docs: tuple[Emulator, Any]) -> None:
    _, index = docs
    ids = [d.id for d in index.documents.list(namespace="ns", prefix="doc#00", limit=3)]
    assert ids == [f"doc#{i:03d}" for i in range(10)]
    assert len(list(index.documents.list(namespace="ns"))) == 30


def test_fetch_by_ids_and_filter(docs: tuple[Emulator, Any]) -> None:
    _, index = docs
    got = index.documents.fetch(namespace="ns", ids=["doc#001", "nope"], include_fields=["year"])
    assert list(got.documents) == ["doc#001"]
    assert got.documents["doc#001"].year == 2001
    seen: list[str] = []
    token = None
    while True:
        page = index.documents.fetch(
            namespace="ns", filter={"year": {"$gte": 2020}}, limit=4, pagination_token=token
        )
        seen += list(page.documents)
        if page.pagination is None:
            break
        token = page.pagination.next
    assert sorted(seen) == [f"doc#{i:03d}" for i in range(20, 30)]


def test_deletes(docs: tuple[Emulator, Any]) -> None:
    emulator, index = docs
    assert index.documents.delete(namespace="ns", ids=["doc#000"]).matched_records is None
    deleted = index.documents.delete(namespace="ns", filter={"year": {"$lt": 2010}})
    assert deleted.matched_records == 9
    assert len(emulator.records("docs", "ns")) == 20
    index.documents.delete(namespace="ns", delete_all=True)
    assert emulator.records("docs", "ns") == {}


def test_refusals_reach_the_sdk(docs: tuple[Emulator, Any]) -> None:
    _, index = docs
    with pytest.raises(ApiError) as caught:
        index.documents.delete(namespace="ns", filter={"title": {"$match_any": "title"}})
    assert caught.value.status_code == 400
    with pytest.raises(PineconeError):  # refused by the SDK itself, before any request
        index.documents.delete(namespace="ns", ids=[f"i{n}" for n in range(1001)])
    with pytest.raises(ApiError) as caught:
        index.upsert(vectors=[{"id": "a", "values": [1.0, 2.0]}], namespace="ns")
    assert "documents API" in str(caught.value)


def test_vector_indexes_still_work_beside_document_ones(docs: tuple[Emulator, Any]) -> None:
    emulator, _ = docs
    pc = sdk(emulator)
    model = pc.indexes.create(
        name="vecs",
        dimension=2,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    vectors = pc.index(host=model.host)
    assert (
        vectors.upsert(vectors=[{"id": "a", "values": [1.0, 0.0]}], namespace="n").upserted_count
        == 1
    )
    assert vectors.query(vector=[1.0, 0.0], top_k=1, namespace="n").matches[0].id == "a"
    with pytest.raises(ApiError) as caught:
        list(vectors.documents.list(namespace="n"))
    assert caught.value.status_code == 400
