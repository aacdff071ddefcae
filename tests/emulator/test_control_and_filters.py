"""Control plane through the SDK (2026-07 shapes, protection, backups) and filter semantics."""

from __future__ import annotations

import pytest
from pinecone import ServerlessSpec
from pinecone.errors import ForbiddenError, NotFoundError

from retention.emulator import ManualClock
from retention.emulator.filtering import Readings
from tests.emulator.conftest import StartEmulator, http, sdk, vec


def test_deletion_protection_and_index_lifecycle(start_emulator: StartEmulator) -> None:
    """Protected indexes refuse deletion with Pinecone's 403; unprotected ones go away."""
    emulator = start_emulator()
    pc = sdk(emulator)
    pc.indexes.create(
        name="p",
        dimension=3,
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        deletion_protection="enabled",
    )
    with pytest.raises(ForbiddenError) as info:
        pc.indexes.delete("p")
    assert "Deletion protection is enabled for this index" in str(info.value)
    pc.indexes.configure("p", deletion_protection="disabled")
    pc.indexes.delete("p")
    with pytest.raises(NotFoundError):
        pc.indexes.describe("p")


def test_2026_07_shape_when_asked(start_emulator: StartEmulator) -> None:
    """2026-07 describes an index by schema and deployment; older versions by dimension and spec."""
    emulator = start_emulator(indexes=(("idx", 4),))
    with http(emulator, "2026-07", name=None) as c:
        body = c.get("/indexes/idx").json()
    assert body["schema"] == {
        "fields": {"_values": {"type": "dense_vector", "dimension": 4, "metric": "cosine"}}
    }
    assert body["deployment"] == {
        "deployment_type": "managed",
        "cloud": "aws",
        "region": "us-east-1",
    }
    assert "dimension" not in body and "spec" not in body
    with http(emulator, "2026-04", name=None) as c:
        old = c.get("/indexes/idx").json()
    assert old["dimension"] == 4 and old["spec"]["serverless"]["region"] == "us-east-1"
    with http(emulator, "2026-04", name=None) as c:
        assert (
            c.post(
                "/indexes", json={"name": "idx", "dimension": 4, "spec": {"serverless": {}}}
            ).status_code
            == 409
        )
        r = c.post(
            "/indexes", json={"name": "Bad_Name", "dimension": 4, "spec": {"serverless": {}}}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_backup_is_initializing_then_ready(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """A new backup reports Initializing, then Ready, with the index's record counts."""
    emulator = start_emulator(
        indexes=(("idx", 4),), clock=clock, backup_ready_ms=1000, backup_min_age_s=0
    )
    emulator.upsert("idx", "a", ((f"r{i}", vec(i), {}) for i in range(7)))
    emulator.upsert("idx", "b", [("x", vec(1), {})])
    pc = sdk(emulator)
    backup = pc.backups.create(index_name="idx", name="nightly", description="before retention")
    assert backup.status == "Initializing"
    clock.advance(1.0)
    ready = pc.backups.describe(backup_id=backup.backup_id)
    assert ready.status == "Ready" and ready.record_count == 8 and ready.namespace_count == 2
    assert [b.backup_id for b in pc.backups.list(index_name="idx")] == [backup.backup_id]
    with pytest.raises(NotFoundError):
        pc.backups.describe(backup_id="nope")


RECORDS = [
    ("plain", {"genre": "drama", "year": 2001}),
    ("listed", {"genre": ["comedy", "documentary"], "year": 2010}),
    ("bare", {"year": 1999}),
]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"genre": "comedy"}, {"listed"}),
        ({"$and": [{"genre": "comedy"}, {"genre": "documentary"}]}, {"listed"}),
        ({"genre": {"$ne": "drama"}}, {"listed"}),  # $ne never matches a missing field
        ({"genre": {"$exists": False}}, {"bare"}),
        ({"year": {"$gte": 2000, "$lte": 2005}}, {"plain"}),
        ({"$or": [{"year": {"$lt": 2000}}, {"genre": "drama"}]}, {"bare", "plain"}),
        ({"genre": {"$nin": ["drama"]}}, {"listed", "bare"}),
    ],
)
def test_filter_semantics(
    start_emulator: StartEmulator, flt: dict[str, object], expected: set[str]
) -> None:
    """Filters match as FACTS.md describes, through the emulator's own evaluator."""
    emulator = start_emulator(indexes=(("idx", 4),))
    emulator.upsert("idx", "ns", ((rid, vec(1), meta) for rid, meta in RECORDS))
    with http(emulator) as c:
        body = c.post("/vectors/fetch_by_metadata", json={"namespace": "ns", "filter": flt}).json()
    assert set(body["vectors"]) == expected


def test_nin_on_missing_field_is_a_switch(start_emulator: StartEmulator) -> None:
    """With nin_matches_missing off, $nin skips records without the field."""
    emulator = start_emulator(indexes=(("idx", 4),), readings=Readings(nin_on_missing=False))
    emulator.upsert("idx", "ns", ((rid, vec(1), meta) for rid, meta in RECORDS))
    with http(emulator) as c:
        r = c.post(
            "/vectors/update",
            json={"namespace": "ns", "filter": {"genre": {"$nin": ["drama"]}}, "dryRun": True},
        )
    assert r.json() == {"matchedRecords": 1}


def test_namespace_schema_limits_filterable_fields(start_emulator: StartEmulator) -> None:
    """In a namespace created with a schema, unindexed fields behave as if absent."""
    emulator = start_emulator(indexes=(("idx", 4),))
    with http(emulator) as c:
        assert (
            c.post(
                "/namespaces",
                json={"name": "s", "schema": {"fields": {"genre": {"filterable": True}}}},
            ).status_code
            == 200
        )
        assert c.post("/namespaces", json={"name": "s"}).status_code == 409
        emulator.upsert("idx", "s", ((rid, vec(1), meta) for rid, meta in RECORDS))
        by_year = c.post(
            "/vectors/update",
            json={"namespace": "s", "filter": {"year": {"$gt": 0}}, "dryRun": True},
        )
        by_genre = c.post(
            "/vectors/update", json={"namespace": "s", "filter": {"genre": "drama"}, "dryRun": True}
        )
        bad = c.post(
            "/namespaces", json={"name": "t", "schema": {"fields": {"a": {"filterable": False}}}}
        )
    assert by_year.json() == {"matchedRecords": 0} and by_genre.json() == {"matchedRecords": 1}
    assert bad.status_code == 400 and "Only filterable: true is supported" in bad.json()["message"]


def test_not_only_from_2026_07(start_emulator: StartEmulator) -> None:
    """$not is accepted under API 2026-07 and refused by older versions."""
    emulator = start_emulator(indexes=(("idx", 4),))
    emulator.upsert("idx", "ns", ((rid, vec(1), meta) for rid, meta in RECORDS))
    flt = {"year": {"$not": {"$lt": 2000}}}
    with http(emulator, "2026-07") as c:
        r = c.post("/vectors/update", json={"namespace": "ns", "filter": flt, "dryRun": True})
        assert r.json() == {"matchedRecords": 2}
    with http(emulator, "2025-10") as c:
        assert (
            c.post(
                "/vectors/update", json={"namespace": "ns", "filter": flt, "dryRun": True}
            ).status_code
            == 400
        )
