"""Features newer than the request's `X-Pinecone-Api-Version` answer as that version would.

A route the version lacks is its unknown path (404 `Not Found`); a body field it lacks is an
unknown field, ignored; a create body in the other version's shape lacks the field that
version requires (422). `version_gates=False` (`--version-gates off`) serves everything.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from retention.emulator import Emulator
from retention.emulator.command import add_arguments, config_from
from tests.emulator.conftest import StartEmulator, http, vec

ROUTE_NOT_FOUND = {"code": 5, "message": "Not Found", "details": []}
FILTER = {"k": {"$gte": 1}}


@pytest.fixture
def loaded(emu: Emulator) -> Emulator:
    emu.upsert("idx", "ns", ((f"r{i}", vec(i), {"k": i}) for i in range(4)))
    return emu


@pytest.mark.parametrize(
    ("version", "status"), [("2025-04", 404), ("2025-10", 200), ("2026-07", 200)]
)
def test_fetch_by_metadata_arrived_with_2025_10(
    loaded: Emulator, version: str, status: int
) -> None:
    with http(loaded, version) as c:
        r = c.post("/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": FILTER})
    assert r.status_code == status
    if status == 404:
        assert r.json() == ROUTE_NOT_FOUND


def test_update_by_filter_is_unknown_before_2025_10(loaded: Emulator) -> None:
    """Under 2025-04 `filter` and `dryRun` are ignored: alone they leave no `id` (400), next to
    an `id` the update is by that ID and answers no count."""
    with http(loaded, "2025-04") as c:
        body = {"namespace": "ns", "filter": FILTER, "setMetadata": {"x": 1}, "dryRun": True}
        r = c.post("/vectors/update", json=body)
        assert r.status_code == 400 and "must specify an id" in r.json()["message"]
        r = c.post("/vectors/update", json={**body, "id": "r0"})
        assert r.status_code == 200 and r.json() == {}
    assert loaded.records("idx", "ns")["r0"].metadata == {"k": 0.0, "x": 1.0}
    assert loaded.records("idx", "ns")["r1"].metadata == {"k": 1.0}
    with http(loaded, "2025-10") as c:
        r = c.post("/vectors/update", json={"namespace": "ns", "filter": FILTER, "dryRun": True})
        assert r.json() == {"matchedRecords": 3}


def test_creating_a_namespace_arrived_with_2025_10(emu: Emulator) -> None:
    """Create (with its schema) from 2025-10; listing is not gated (no date is recorded)."""
    with http(emu, "2025-01") as c:
        assert c.get("/namespaces").status_code == 200
    with http(emu, "2025-04") as c:
        assert c.get("/namespaces").status_code == 200
        assert c.post("/namespaces", json={"name": "made"}).json() == ROUTE_NOT_FOUND
    with http(emu, "2025-10") as c:
        assert c.post("/namespaces", json={"name": "made"}).status_code == 200


def test_no_version_header_is_the_oldest_version(loaded: Emulator) -> None:
    """Without the header Pinecone serves its oldest supported version (FACTS §6)."""
    with http(loaded) as c:
        del c.headers["X-Pinecone-Api-Version"]
        r = c.post("/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": FILTER})
        assert r.status_code == 404
        assert c.get("/vectors/list", params={"namespace": "ns"}).status_code == 200


@pytest.mark.parametrize(
    ("version", "body", "field"),
    [
        ("2026-04", {"name": "x", "schema": {"fields": {}}, "deployment": {}}, "spec"),
        ("2026-07", {"name": "x", "dimension": 4, "spec": {"serverless": {}}}, "schema"),
    ],
)
def test_a_create_body_in_the_other_shape_is_a_422(
    emu: Emulator, version: str, body: dict[str, Any], field: str
) -> None:
    with http(emu, version, name=None) as c:
        r = c.post("/indexes", json=body)
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "UNPROCESSABLE_ENTITY",
        "message": f"Failed to deserialize the JSON body into the target type: missing field `{field}`",
    }


def test_sparse_indexes_and_index_schemas_are_unknown_fields_before_their_versions(
    emu: Emulator,
) -> None:
    """Before 2025-01 `vector_type` is ignored (a dense index then needs a dimension); before
    2025-10 `spec.serverless.schema` is ignored."""
    sparse = {
        "name": "sp",
        "vector_type": "sparse",
        "metric": "dotproduct",
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    }
    with http(emu, "2024-10", name=None) as c:
        r = c.post("/indexes", json=sparse)
        assert r.status_code == 400 and "Dimension must be" in r.json()["error"]["message"]
    schema = {"fields": {"genre": {"filterable": True}}}
    dense = {"name": "d", "dimension": 4, "spec": {"serverless": {"schema": schema}}}
    with http(emu, "2025-04", name=None) as c:
        assert "schema" not in c.post("/indexes", json=dense).json()["spec"]["serverless"]
    with http(emu, "2025-01", name=None) as c:
        assert c.post("/indexes", json=sparse).json()["vector_type"] == "sparse"


def test_not_is_refused_before_2026_07_unless_gates_are_off(start_emulator: StartEmulator) -> None:
    body = {"namespace": "ns", "filter": {"k": {"$not": {"$eq": 1}}}}
    gated = start_emulator(indexes=(("idx", 4),))
    with http(gated, "2025-10") as c:
        assert c.post("/vectors/fetch_by_metadata", json=body).status_code == 400
    open_ = start_emulator(indexes=(("idx", 4),), version_gates=False)
    with http(open_, "2025-10") as c:
        assert c.post("/vectors/fetch_by_metadata", json=body).status_code == 200


def test_gates_off_serves_every_feature_under_any_version(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(indexes=(("idx", 4),), version_gates=False)
    emulator.upsert("idx", "ns", ((f"r{i}", vec(i), {"k": i}) for i in range(4)))
    with http(emulator, "2024-04") as c:
        r = c.post("/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": FILTER})
        assert r.status_code == 200 and len(r.json()["vectors"]) == 3
        r = c.post("/vectors/update", json={"namespace": "ns", "filter": FILTER, "dryRun": True})
        assert r.json() == {"matchedRecords": 3}
        assert c.post("/namespaces", json={"name": "made"}).status_code == 200
    with http(emulator, "2024-04", name=None) as c:
        legacy = {"name": "d", "dimension": 4, "spec": {"serverless": {}}}
        assert c.post("/indexes", json=legacy).status_code == 201
        schema = {"fields": {"_values": {"type": "dense_vector", "dimension": 2}}}
        assert c.post("/indexes", json={"name": "e", "schema": schema}).status_code == 201


@pytest.mark.parametrize(("flag", "gates"), [([], True), (["--version-gates", "off"], False)])
def test_the_flag(flag: list[str], gates: bool) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from(parser.parse_args(flag)).version_gates is gates
