"""Sparse indexes: created in both control-plane shapes, written and read like dense ones.

A sparse index has no dimension and scores by dot product; its records carry `sparseValues`
(`indices`, `values`) and no dense values. Pinecone documents at most 1,000 non-zero values
per sparse vector and a sparse dimensionality of 2^32 (DOC:guides/index-data/upsert-data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pinecone import ServerlessSpec
from pinecone.errors import ApiError

from retention.emulator import Emulator, EmulatorConfig
from tests.emulator import openapi
from tests.emulator.conftest import StartEmulator, http, sdk, sdk_index

LEGACY = {
    "name": "sp",
    "vector_type": "sparse",
    "metric": "dotproduct",
    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
}
SCHEMA = {
    "name": "sp",
    "schema": {"fields": {"_sparse_values": {"type": "sparse_vector"}}},
    "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
}


def _sparse(*pairs: tuple[int, float]) -> dict[str, list[Any]]:
    return {"indices": [i for i, _ in pairs], "values": [v for _, v in pairs]}


@pytest.fixture
def sparse_emu(start_emulator: StartEmulator) -> Emulator:
    emulator = start_emulator()
    emulator.create_index("sp", None, sparse=True)
    return emulator


@pytest.mark.parametrize(("version", "body"), [("2025-10", LEGACY), ("2026-07", SCHEMA)])
def test_a_sparse_index_is_created_in_either_shape(
    start_emulator: StartEmulator, version: str, body: dict[str, Any]
) -> None:
    """Both shapes make the same index; each version describes it in its own shape."""
    emulator = start_emulator()
    with http(emulator, version, name=None) as c:
        assert c.post("/indexes", json=body).status_code == 201
    with http(emulator, "2025-10", name=None) as c:
        old = c.get("/indexes/sp").json()
    assert (old["vector_type"], old["metric"], "dimension" in old) == (
        "sparse",
        "dotproduct",
        False,
    )
    with http(emulator, "2026-07", name=None) as c:
        new = c.get("/indexes/sp").json()
    assert new["schema"] == {"fields": {"_sparse_values": {"type": "sparse_vector"}}}
    assert emulator.store.indexes["sp"].info.dimension is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "cosine"}, "Sparse vector indexes must use the metric dotproduct"),
        ({"dimension": 8}, "Sparse vector indexes must not specify a dimension"),
        ({"vector_type": "hybrid"}, "vector_type must be 'dense' or 'sparse'"),
    ],
)
def test_a_sparse_create_with_a_dense_setting_is_refused(
    start_emulator: StartEmulator, change: dict[str, Any], message: str
) -> None:
    emulator = start_emulator()
    with http(emulator, "2025-10", name=None) as c:
        r = c.post("/indexes", json={**LEGACY, **change})
    assert r.status_code == 400 and message in r.json()["error"]["message"]
    assert "sp" not in emulator.store.indexes


def test_metric_defaults_to_dotproduct(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    with http(emulator, "2025-10", name=None) as c:
        body = {k: v for k, v in LEGACY.items() if k != "metric"}
        assert c.post("/indexes", json=body).json()["metric"] == "dotproduct"


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ({"id": "a", "values": [0.1, 0.2], "sparseValues": _sparse((1, 1.0))}, "dense values"),
        ({"id": "a", "values": []}, "needs non-empty sparseValues"),
        ({"id": "a", "sparseValues": _sparse()}, "needs non-empty sparseValues"),
        ({"id": "a", "sparseValues": {"indices": [1, 2], "values": [1.0]}}, "same length"),
        ({"id": "a", "sparseValues": _sparse((3, 1.0), (3, 2.0))}, "must be unique"),
        ({"id": "a", "sparseValues": _sparse((-1, 1.0))}, "between 0 and 4294967295"),
        ({"id": "a", "sparseValues": _sparse((2**32, 1.0))}, "between 0 and 4294967295"),
        (
            {"id": "a", "sparseValues": _sparse(*((i, 1.0) for i in range(1001)))},
            "more than the maximum of 1000",
        ),
    ],
)
def test_an_upsert_pinecone_would_refuse_is_a_400(
    sparse_emu: Emulator, vector: dict[str, Any], message: str
) -> None:
    with http(sparse_emu, name="sp") as c:
        r = c.post("/vectors/upsert", json={"vectors": [vector], "namespace": "ns"})
    assert r.status_code == 400 and r.json()["code"] == 3 and message in r.json()["message"]
    assert "\n" not in r.json()["message"]
    assert sparse_emu.records("sp", "ns") == {}


def test_a_sparse_only_record_is_still_refused_by_a_dense_index(emu: Emulator) -> None:
    with http(emu) as c:
        r = c.post(
            "/vectors/upsert", json={"vectors": [{"id": "a", "sparseValues": _sparse((1, 1.0))}]}
        )
    assert r.status_code == 400


def _load(c: Any) -> None:
    vectors = [
        {
            "id": f"r{i}",
            "values": [],
            "sparseValues": _sparse((i, 1.0), (100, 0.5)),
            "metadata": {"n": i},
        }
        for i in range(6)
    ]
    r = c.post("/vectors/upsert", json={"vectors": vectors, "namespace": "ns"})
    assert r.json() == {"upsertedCount": 6}


@openapi.needs_specs
def test_reads_deletes_and_stats_work_as_for_dense(sparse_emu: Emulator) -> None:
    """fetch, list, fetch_by_metadata, delete (IDs, filter, all), stats and namespaces."""

    def data(path: str, method: str, status: int, body: Any) -> None:
        openapi.check("data", "2025-10", path, method, status, body)

    with http(sparse_emu, name="sp") as c:
        _load(c)
        r = c.get("/vectors/fetch", params={"ids": ["r1"], "namespace": "ns"})
        data("/vectors/fetch", "get", 200, r.json())
        assert r.json()["vectors"]["r1"]["sparseValues"] == _sparse((1, 1.0), (100, 0.5))
        assert r.json()["vectors"]["r1"]["values"] == []
        r = c.get("/vectors/list", params={"namespace": "ns"})
        assert [v["id"] for v in r.json()["vectors"]] == [f"r{i}" for i in range(6)]
        r = c.post(
            "/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": {"n": {"$gte": 4}}}
        )
        data("/vectors/fetch_by_metadata", "post", 200, r.json())
        assert sorted(r.json()["vectors"]) == ["r4", "r5"]
        r = c.post("/describe_index_stats", json={})
        data("/describe_index_stats", "post", 200, r.json())
        assert r.json()["vectorType"] == "sparse" and "dimension" not in r.json()
        assert r.json()["namespaces"] == {"ns": {"vectorCount": 6}}
        assert c.post("/vectors/delete", json={"namespace": "ns", "ids": ["r0"]}).status_code == 200
        r = c.post("/vectors/delete", json={"namespace": "ns", "filter": {"n": {"$lt": 3}}})
        assert r.status_code == 200
        assert sorted(sparse_emu.records("sp", "ns")) == ["r3", "r4", "r5"]
        assert c.get("/namespaces/ns").json()["record_count"] == "3"
        r = c.post("/vectors/delete", json={"namespace": "ns", "deleteAll": True})
        assert r.status_code == 200 and sparse_emu.records("sp", "ns") == {}


def test_query_scores_by_dot_product_and_drops_zeros(sparse_emu: Emulator) -> None:
    with http(sparse_emu, name="sp") as c:
        _load(c)
        body = {"namespace": "ns", "sparseVector": _sparse((2, 3.0), (100, 1.0)), "topK": 3}
        matches = c.post("/query", json=body).json()["matches"]
        assert (matches[0]["id"], matches[0]["score"]) == ("r2", 3.5)
        assert len(matches) == 3
        only = c.post("/query", json={**body, "sparseVector": _sparse((4, 2.0))}).json()
        assert [(m["id"], m["score"]) for m in only["matches"]] == [("r4", 2.0)]
        by_id = c.post("/query", json={"namespace": "ns", "id": "r1", "topK": 1}).json()
        assert by_id["matches"][0]["id"] == "r1"
        r = c.post("/query", json={"namespace": "ns", "vector": [0.1], "topK": 1})
        assert r.status_code == 400
        r = c.post("/query", json={**body, "topK": 1001})
        assert r.status_code == 400


def test_update_takes_sparse_values_and_refuses_dense_ones(sparse_emu: Emulator) -> None:
    with http(sparse_emu, name="sp") as c:
        _load(c)
        new = _sparse((7, 0.7))
        r = c.post("/vectors/update", json={"namespace": "ns", "id": "r1", "sparseValues": new})
        assert r.status_code == 200
        assert sparse_emu.records("sp", "ns")["r1"].sparse == new
        r = c.post("/vectors/update", json={"namespace": "ns", "id": "r1", "values": [1.0]})
        assert r.status_code == 400 and "sparse" in r.json()["message"]


def test_a_sparse_backup_restores_a_sparse_index(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(backup_min_age_s=0, backup_ready_ms=0, restore_ready_ms=0)
    emulator.create_index("sp", None, sparse=True)
    with http(emulator, name="sp") as c:
        _load(c)
    with http(emulator, "2026-07", name=None) as c:
        backup = c.post("/indexes/sp/backups", json={}).json()
        assert backup["schema"] == {"fields": {"_sparse_values": {"type": "sparse_vector"}}}
        c.post(f"/backups/{backup['backup_id']}/create-index", json={"name": "sp2"})
    info = emulator.store.indexes["sp2"].info
    assert (info.vector_type, info.dimension, info.metric) == ("sparse", None, "dotproduct")
    assert emulator.records("sp2", "ns")["r1"].sparse == _sparse((1, 1.0), (100, 0.5))


def test_the_sdk_creates_a_sparse_index_upserts_and_deletes(start_emulator: StartEmulator) -> None:
    """The official SDK, unchanged: create (2026-07 `_sparse_values`), upsert, fetch, query,
    stats, delete by IDs and by filter, and describe."""
    emulator = start_emulator()
    pc = sdk(emulator)
    model = pc.indexes.create(
        name="sp",
        vector_type="sparse",
        metric="dotproduct",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    assert model.status.ready
    index = sdk_index(emulator, "sp")
    vectors = [
        {
            "id": f"d{i}",
            "sparse_values": {"indices": [i, 9], "values": [1.0, 0.5]},
            "metadata": {"n": i},
        }
        for i in range(5)
    ]
    assert index.upsert(vectors=vectors, namespace="ns").upserted_count == 5
    fetched = index.fetch(ids=["d1"], namespace="ns").vectors["d1"]
    assert fetched.sparse_values.indices == [1, 9] and fetched.values == []
    hits = index.query(sparse_vector={"indices": [3], "values": [2.0]}, top_k=2, namespace="ns")
    assert [m.id for m in hits.matches] == ["d3"]
    assert index.describe_index_stats().vector_type == "sparse"
    index.delete(ids=["d0"], namespace="ns")
    index.delete(filter={"n": {"$gte": 3}}, namespace="ns")
    assert sorted(emulator.records("sp", "ns")) == ["d1", "d2"]
    assert index.describe_namespace(name="ns").record_count == 2
    described = pc.indexes.describe("sp")
    assert described.vector_type == "sparse" and described.metric == "dotproduct"
    with pytest.raises(ApiError) as info:
        index.upsert(vectors=[{"id": "x", "values": [0.1, 0.2]}], namespace="ns")
    assert info.value.status_code == 400


def test_a_sparse_index_survives_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(limits="off", data_dir=tmp_path)
    with Emulator.start(config) as first:
        first.create_index("sp", None, sparse=True)
        first.upsert("sp", "ns", [{"id": "a", "sparse_values": _sparse((4, 0.5))}])
    with Emulator.start(config) as second:
        info = second.store.indexes["sp"].info
        assert (info.vector_type, info.dimension, info.metric) == ("sparse", None, "dotproduct")
        assert second.records("sp", "ns")["a"].sparse == _sparse((4, 0.5))


def test_seeding_refuses_what_the_api_would() -> None:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator:
        with pytest.raises(ValueError, match="sparse index has no dimension"):
            emulator.create_index("sp", 4, sparse=True)
        with pytest.raises(ValueError, match="needs a dimension"):
            emulator.create_index("d", None)
