"""Document indexes over plain HTTP: the 2026-07 control plane and the documents routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from retention.emulator import Emulator
from retention.emulator.handling import WRONG_PLANE_WRITE
from tests.emulator.conftest import StartEmulator, http

SCHEMA = {
    "fields": {
        "emb": {"type": "dense_vector", "dimension": 2, "metric": "cosine"},
        "body": {"type": "string", "full_text_search": {}},
    }
}


def _create(emu: Emulator, name: str = "docs", schema: object = SCHEMA) -> httpx.Response:
    with http(emu, "2026-07", name=None) as c:
        return c.post("/indexes", json={"name": name, "schema": schema})


def _docs(emu: Emulator, name: str = "docs") -> httpx.Client:
    return http(emu, "2026-07", name=name)


def _doc(i: int, **extra: Any) -> dict[str, Any]:
    return {"_id": f"doc#{i:03d}", "emb": [1.0, float(i)], "body": f"hello world {i}", **extra}


@pytest.fixture
def loaded(emu: Emulator) -> Emulator:
    assert _create(emu).status_code == 201
    with _docs(emu) as c:
        docs = [_doc(i, year=2000 + i, kind="odd" if i % 2 else "even") for i in range(25)]
        r = c.post("/namespaces/ns/documents/upsert", json={"documents": docs})
    assert r.status_code == 202 and r.json() == {"upserted_count": 25}
    assert r.headers["x-pinecone-request-lsn"] == "1"
    assert "x-pinecone-request-id" not in r.headers
    return emu


def test_create_echoes_the_schema_and_says_nothing_else(emu: Emulator) -> None:
    r = _create(emu)
    assert r.status_code == 201
    body = r.json()
    assert body["schema"]["fields"] == {
        "emb": {"type": "dense_vector", "dimension": 2, "metric": "cosine", "description": None},
        "body": {
            "type": "string",
            "full_text_search": {"language": "en", "stemming": False, "stop_words": False},
            "store_text": True,
            "description": None,
        },
    }
    assert "dimension" not in body and "vector_type" not in body and "spec" not in body
    with http(emu, "2026-07", name=None) as c:
        listed = c.get("/indexes").json()["indexes"]
        assert [i["name"] for i in listed] == ["docs", "idx"]
        assert c.get("/indexes/docs").json()["schema"] == body["schema"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "Schema must contain at least one of the following field types"),
        ({"n": {"type": "float"}}, "indexed automatically"),
        ({"t": {"type": "string"}}, "indexed automatically"),
        ({"_x": {"type": "string", "full_text_search": {}}}, "reserved"),
        (
            {
                "a": {"type": "dense_vector", "dimension": 2},
                "b": {"type": "dense_vector", "dimension": 2},
            },
            "at most one dense_vector",
        ),
        ({"s": {"type": "sparse_vector", "metric": "dotproduct"}}, "does not take metric"),
        ({"t": {"type": "string", "full_text_search": {}, "filterable": True}}, "filterable"),
        ({"t": {"type": "string", "full_text_search": {"stop_words": True}}}, "requires stemming"),
    ],
)
def test_create_refuses_what_pinecone_refuses(
    emu: Emulator, fields: dict[str, Any], words: str
) -> None:
    r = _create(emu, schema={"fields": fields})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    assert "docs" not in emu.store.indexes


def test_pod_deployment_is_refused_verbatim(emu: Emulator) -> None:
    with http(emu, "2026-07", name=None) as c:
        r = c.post(
            "/indexes",
            json={"name": "docs", "schema": SCHEMA, "deployment": {"deployment_type": "pod"}},
        )
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "deployment_type 'pod' is not supported on this API version"
    )


def test_old_versions_describe_or_hide_a_document_index(start_emulator: StartEmulator) -> None:
    shown = start_emulator()
    hidden = start_emulator(old_version_documents="hide")
    for emu in (shown, hidden):
        assert _create(emu).status_code == 201
    with http(shown, "2025-10", name=None) as c:
        old = c.get("/indexes/docs").json()
    assert old["dimension"] == 2 and old["metric"] == "cosine" and "spec" in old
    with http(hidden, "2025-10", name=None) as c:
        assert c.get("/indexes/docs").status_code == 404
        assert c.get("/indexes").json() == {"indexes": []}


def test_list_pages_in_bitwise_order_with_prefix(loaded: Emulator) -> None:
    with _docs(loaded) as c:
        c.post("/namespaces/ns/documents/upsert", json={"documents": [_doc(999) | {"_id": "B"}]})
        seen: list[str] = []
        body: dict[str, Any] = {"prefix": "doc#", "limit": 10}
        while True:
            r = c.post("/namespaces/ns/documents/list", json=body)
            assert r.status_code == 200 and "x-pinecone-max-indexed-lsn" not in r.headers
            page = r.json()
            assert page["namespace"] == "ns" and page["usage"] == {"read_units": 1}
            seen += [d["_id"] for d in page["documents"]]
            if "pagination" not in page:
                break
            body = {**body, "pagination_token": page["pagination"]["next"]}
        assert seen == [f"doc#{i:03d}" for i in range(25)]
        everything = c.post("/namespaces/ns/documents/list", json={}).json()["documents"]
        assert everything[0]["_id"] == "B"  # "B" < "d" bitwise
        assert c.post("/namespaces/ns/documents/list", json={"limit": 101}).status_code == 400


def test_fetch_by_ids_and_by_filter_with_pages(loaded: Emulator) -> None:
    with _docs(loaded) as c:
        r = c.post(
            "/namespaces/ns/documents/fetch",
            json={"ids": ["doc#001", "nope"], "include_fields": ["year"]},
        )
        assert r.status_code == 200 and not {"x-pinecone-max-indexed-lsn"} & set(r.headers)
        assert r.json() == {
            "documents": {"doc#001": {"_id": "doc#001", "year": 2001.0}},
            "namespace": "ns",
            "usage": {"read_units": 1},
        }
        full = c.post("/namespaces/ns/documents/fetch", json={"ids": ["doc#002"]}).json()
        assert full["documents"]["doc#002"]["emb"] == [1.0, 2.0]
        assert full["documents"]["doc#002"]["body"] == "hello world 2"
        got: list[str] = []
        body: dict[str, Any] = {"filter": {"kind": "odd", "year": {"$gte": 2005}}, "limit": 4}
        while True:
            page = c.post("/namespaces/ns/documents/fetch", json=body).json()
            got += sorted(page["documents"])
            if "pagination" not in page:
                break
            body = {**body, "pagination_token": page["pagination"]["next"]}
        assert got == [f"doc#{i:03d}" for i in range(5, 25, 2)]


def test_fetch_text_match_follows_the_switch(start_emulator: StartEmulator) -> None:
    for allow in (True, False):
        emu = start_emulator(text_match_in_fetch=allow)
        _create(emu)
        with _docs(emu) as c:
            c.post("/namespaces/ns/documents/upsert", json={"documents": [_doc(1), _doc(2)]})
            f = {"body": {"$match_phrase": "world 2"}}
            r = c.post("/namespaces/ns/documents/fetch", json={"filter": f})
        if allow:
            assert list(r.json()["documents"]) == ["doc#002"]
        else:
            assert r.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"ids": ["a"], "filter": {"year": 1}},
        {},
        {"ids": ["a"], "pagination_token": "x"},
        {"ids": ["a"], "limit": 10_001},
        {"filter": {}},
        {"filter": {"body": {"$eq": "x"}}},  # comparison on a full-text field
        {"filter": {"year": {"$match_any": "x"}}},  # text match on metadata
    ],
)
def test_fetch_refusals(loaded: Emulator, body: dict[str, Any]) -> None:
    with _docs(loaded) as c:
        r = c.post("/namespaces/ns/documents/fetch", json=body)
    assert r.status_code == 400
    assert set(r.json()) == {"error", "status"} and r.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_deletes_by_ids_filter_and_all(loaded: Emulator) -> None:
    with _docs(loaded) as c:
        r = c.post("/namespaces/ns/documents/delete", json={"ids": ["doc#000", "missing"]})
        assert (r.status_code, r.json()) == (202, {})
        assert int(r.headers["x-pinecone-request-lsn"]) == 2
        r = c.post("/namespaces/ns/documents/delete", json={"filter": {"year": {"$lt": 2010}}})
        assert (r.status_code, r.json()) == (202, {"matched_records": 9})
        left = c.post("/namespaces/ns/documents/list", json={}).json()["documents"]
        assert len(left) == 15
        r = c.post("/namespaces/ns/documents/delete", json={"delete_all": True, "ids": None})
        assert (r.status_code, r.json()) == (202, {})
        assert c.post("/namespaces/ns/documents/list", json={}).json()["documents"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"ids": ["a"], "delete_all": True}, "exactly one"),
        ({"ids": ["a"], "filter": {"year": 1}}, "exactly one"),
        ({"delete_all": False}, "exactly one"),
        ({"ids": [f"i{n}" for n in range(1001)]}, "1001 exceeds the maximum amount"),
        ({"filter": {"body": {"$match_all": "hello"}}}, "Text match operators"),
        ({"filter": {"$or": [{"body": {"$match_any": "x"}}, {"year": 1}]}}, "Text match"),
        ({"filter": {}}, "Delete with empty metadata filter is not allowed"),
    ],
)
def test_delete_refusals(loaded: Emulator, body: dict[str, Any], words: str) -> None:
    with _docs(loaded) as c:
        r = c.post("/namespaces/ns/documents/delete", json=body)
    assert r.status_code == 400 and words in r.json()["error"]["message"]
    assert len(loaded.records("docs", "ns")) == 25


def test_upsert_refusals(loaded: Emulator) -> None:
    with _docs(loaded) as c:
        for docs in (
            [{"_id": "a", "year": 1}],  # no schema field
            [{"_id": "a", "body": "x"}],  # the dense field is required
            [{"_id": "a", "emb": [1.0], "body": "x"}],  # wrong dimension
            [_doc(1, _other=1)],
            [_doc(1, meta=None)],
            [_doc(i) for i in range(1001)],
        ):
            r = c.post("/namespaces/ns/documents/upsert", json={"documents": docs})
            assert r.status_code == 400, docs
        big = [_doc(i, pad="x" * 30_000) for i in range(80)]
        r = c.post("/namespaces/ns/documents/upsert", json={"documents": big})
        assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_default_namespace_is_an_ordinary_name(loaded: Emulator) -> None:
    with _docs(loaded) as c:
        assert c.get("/namespaces/__default__").status_code == 404
        c.post("/namespaces/__default__/documents/upsert", json={"documents": [_doc(1)]})
        assert c.get("/namespaces/__default__").json()["record_count"] == "1"
        c.post("/namespaces/a%2Fb%20c/documents/upsert", json={"documents": [_doc(2)]})
        listed = c.get("/namespaces").json()["namespaces"]
        assert {n["name"]: n["record_count"] for n in listed} == {
            "__default__": "1",
            "a/b c": "1",
            "ns": "25",
        }
        stats = c.post("/describe_index_stats", json={}).json()
        assert stats["totalVectorCount"] == 27 and stats["dimension"] == 2
        assert c.post("/namespaces/%20/documents/list", json={}).status_code == 400


def test_wrong_plane_refusals(loaded: Emulator, start_emulator: StartEmulator) -> None:
    with _docs(loaded) as c:
        r = c.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": [1, 2]}]})
        assert r.status_code == 400 and r.json() == {
            "code": 3,
            "message": WRONG_PLANE_WRITE,
            "details": [],
        }
        assert c.get("/vectors/list", params={"namespace": "ns"}).status_code == 400
        assert c.post("/query", json={"vector": [1, 2], "topK": 1}).status_code == 400
    with http(loaded, "2026-07") as c:  # `idx`, a vector index
        r = c.post("/namespaces/ns/documents/list", json={})
        assert r.status_code == 400 and r.json()["status"] == 400
        assert c.post(
            "/vectors/upsert", json={"vectors": [{"id": "a", "values": [1] * 4}]}
        ).is_success
    other = start_emulator(
        indexes=(("idx", 4),), wrong_plane_body="error", documents_on_vector_status=412
    )
    _create(other)
    with _docs(other) as c:
        r = c.post("/vectors/delete", json={"deleteAll": True, "namespace": "ns"})
        assert r.json() == {
            "error": {"code": "INVALID_ARGUMENT", "message": WRONG_PLANE_WRITE},
            "status": 400,
        }
    with http(other, "2026-07") as c:
        assert c.post("/namespaces/ns/documents/list", json={}).status_code == 412


def test_edge_errors_are_plain_text(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key="secret", limits="pinecone")
    headers = {"Api-Key": "secret", "X-Pinecone-Api-Version": "2026-07"}
    with httpx.Client(base_url=emu.controller_url, headers=headers) as c:
        assert c.post("/indexes", json={"name": "docs", "schema": SCHEMA}).status_code == 201
    with httpx.Client(base_url=emu.index_host("docs"), headers=headers) as c:
        r = c.post("/namespaces/ns/documents/list", json={}, headers={"Api-Key": "wrong"})
        assert (r.status_code, r.text) == (401, "Unauthorized")
        c.post("/namespaces/ns/documents/upsert", json={"documents": [_doc(1, year=1)]})
        statuses = [
            c.post("/namespaces/ns/documents/delete", json={"filter": {"year": 1}}).status_code
            for _ in range(6)
        ]
        assert statuses.count(429) >= 1
        r = c.post("/namespaces/ns/documents/delete", json={"filter": {"year": 1}})
        assert r.status_code == 429 and r.text.startswith("Request failed.")
        assert "delete by metadata" in r.text


def test_command_line_sets_every_documents_switch() -> None:
    import argparse

    from retention.emulator.command import add_arguments, config_from

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = config_from(parser.parse_args([]))
    assert (defaults.old_version_documents, defaults.wrong_plane_body) == ("describe", "rpc")
    assert defaults.documents_on_vector_status == 400 and defaults.text_match_in_fetch
    assert defaults.documents_edge_errors == "text" and not defaults.documents_request_id
    flipped = config_from(
        parser.parse_args(
            [
                "--old-version-documents=hide",
                "--wrong-plane-body=error",
                "--documents-on-vector-status=404",
                "--text-match-in-fetch=refuse",
                "--documents-edge-errors=json",
                "--documents-request-id=on",
            ]
        )
    )
    assert (flipped.old_version_documents, flipped.wrong_plane_body) == ("hide", "error")
    assert flipped.documents_on_vector_status == 404 and not flipped.text_match_in_fetch
    assert flipped.documents_edge_errors == "json" and flipped.documents_request_id
