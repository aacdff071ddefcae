"""The schema given at index creation is echoed by describe and list, in each version's shape.

2025-10: `spec.serverless.schema` (`MetadataSchema`, SPEC-2025-10 `ServerlessSpecResponse`);
2026-07: `schema.fields` with the vector field, plus the metadata fields untyped, as SDK 10
decodes fields "from indexes created before typed schemas".
"""

from __future__ import annotations

from typing import Any

import pytest

from retention.emulator import Emulator
from tests.emulator import openapi
from tests.emulator.conftest import StartEmulator, http, sdk, vec

METADATA = {"fields": {"genre": {"filterable": True}, "year": {"filterable": True}}}
LEGACY = {
    "name": "films",
    "dimension": 4,
    "metric": "euclidean",
    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1", "schema": METADATA}},
}


@openapi.needs_specs
@pytest.mark.parametrize("version", ["2025-10", "2026-04"])
def test_a_metadata_schema_is_echoed_in_the_spec_shape(
    start_emulator: StartEmulator, version: str
) -> None:
    emulator = start_emulator()
    with http(emulator, version, name=None) as c:
        created = c.post("/indexes", json=LEGACY).json()
        described = c.get("/indexes/films").json()
        listed = c.get("/indexes").json()
    openapi.check("control", version, "/indexes/{index_name}", "get", 200, described)
    openapi.check("control", version, "/indexes", "get", 200, listed)
    for model in (created, described, listed["indexes"][0]):
        assert model["spec"]["serverless"]["schema"] == METADATA


def test_the_2026_07_shape_lists_the_metadata_fields_untyped(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    with http(emulator, "2025-10", name=None) as c:
        c.post("/indexes", json=LEGACY)
    with http(emulator, "2026-07", name=None) as c:
        described = c.get("/indexes/films").json()
        listed = c.get("/indexes").json()["indexes"][0]
    expected = {
        "fields": {
            "_values": {"type": "dense_vector", "dimension": 4, "metric": "euclidean"},
            "genre": {"filterable": True},
            "year": {"filterable": True},
        }
    }
    assert described["schema"] == expected and listed["schema"] == expected


def test_the_sdk_reads_an_index_with_a_metadata_schema(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    with http(emulator, "2025-10", name=None) as c:
        c.post("/indexes", json=LEGACY)
    model = sdk(emulator).indexes.describe("films")
    assert model.dimension == 4 and model.metric == "euclidean"
    assert {"_values", "genre", "year"} <= set(model.schema.fields)


def test_a_2026_07_schema_is_echoed_with_its_description(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    field = {"type": "dense_vector", "dimension": 3, "metric": "dotproduct", "description": "e5"}
    body = {
        "name": "v",
        "schema": {"fields": {"_values": field}},
        "deployment": {"deployment_type": "managed", "cloud": "gcp", "region": "us-central1"},
    }
    with http(emulator, "2026-07", name=None) as c:
        assert c.post("/indexes", json=body).json()["schema"] == {"fields": {"_values": field}}
        described = c.get("/indexes/v").json()
    assert described["schema"] == {"fields": {"_values": field}}
    assert described["deployment"]["region"] == "us-central1"
    with http(emulator, "2025-10", name=None) as c:
        old = c.get("/indexes/v").json()
    assert (old["dimension"], old["metric"], "schema" in old["spec"]["serverless"]) == (
        3,
        "dotproduct",
        False,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"_values": {"type": "dense_vector", "dimension": 2}, "title": {"type": "string"}},
        {
            "_values": {"type": "dense_vector", "dimension": 2},
            "_sparse_values": {"type": "sparse_vector"},
        },
        {"_values": {"type": "sparse_vector"}},
    ],
)
def test_schemas_pinecone_refuses_at_create_are_refused_in_one_line(
    emu: Emulator, fields: dict[str, Any]
) -> None:
    with http(emu, "2026-07", name=None) as c:
        r = c.post("/indexes", json={"name": "doc", "schema": {"fields": fields}})
    assert r.status_code == 400 and "\n" not in r.json()["error"]["message"]
    assert "doc" not in emu.store.indexes


def test_filters_see_only_the_index_schemas_fields(start_emulator: StartEmulator) -> None:
    """An unindexed field behaves as if absent, as for a namespace schema; a namespace's own
    schema takes precedence."""
    emulator = start_emulator()
    with http(emulator, "2025-10", name=None) as c:
        c.post("/indexes", json=LEGACY)
    emulator.upsert("films", "ns", [("a", vec(1), {"genre": "drama", "rating": 5})])
    with http(emulator, name="films") as c:

        def count(flt: dict[str, Any]) -> int:
            r = c.post("/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": flt})
            return len(r.json()["vectors"])

        assert count({"genre": "drama"}) == 1
        assert count({"rating": 5}) == 0


def test_a_bad_metadata_schema_is_refused(emu: Emulator) -> None:
    body = {**LEGACY, "spec": {"serverless": {"schema": {"fields": {"g": {"filterable": False}}}}}}
    with http(emu, "2025-10", name=None) as c:
        r = c.post("/indexes", json=body)
    assert r.status_code == 400 and "Only filterable: true" in r.json()["error"]["message"]


def test_a_backup_keeps_and_a_restore_brings_back_the_schema(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(backup_min_age_s=0, backup_ready_ms=0, restore_ready_ms=0)
    with http(emulator, "2025-10", name=None) as c:
        c.post("/indexes", json=LEGACY)
        backup = c.post("/indexes/films/backups", json={}).json()
        assert backup["schema"] == METADATA
        c.post(f"/backups/{backup['backup_id']}/create-index", json={"name": "films-2"})
        restored = c.get("/indexes/films-2").json()
    assert restored["spec"]["serverless"]["schema"] == METADATA
    assert (restored["dimension"], restored["metric"]) == (4, "euclidean")
