"""Plain HTTP in the 2025-10 and 2026-04 shapes, checked against Pinecone's OpenAPI files."""

from __future__ import annotations

from typing import Any

import pytest

from retention.emulator import Emulator
from tests.emulator import openapi
from tests.emulator.conftest import http, vec

VERSIONS = ("2025-10", "2026-04")


def _record_counts_as_ints(body: Any) -> Any:
    """Pinecone sends record_count as a protojson string; the spec says integer."""
    if isinstance(body, dict):
        return {
            k: int(v) if k == "record_count" else _record_counts_as_ints(v) for k, v in body.items()
        }
    if isinstance(body, list):
        return [_record_counts_as_ints(v) for v in body]
    return body


@openapi.needs_specs
@pytest.mark.parametrize("version", VERSIONS)
def test_data_plane_responses_match_the_spec(emu: Emulator, version: str) -> None:
    """Every data-plane answer validates against that version's response schema."""

    def data(path: str, method: str, status: int, body: Any) -> None:
        openapi.check("data", version, path, method, status, body)

    with http(emu, version) as c:
        vectors = [
            {"id": f"p#{i}", "values": vec(i), "metadata": {"n": i, "g": ["a"]}} for i in range(30)
        ]
        r = c.post("/vectors/upsert", json={"vectors": vectors, "namespace": "ns"})
        data("/vectors/upsert", "post", 200, r.json())
        assert r.json() == {"upsertedCount": 30}
        r = c.get("/vectors/list", params={"namespace": "ns", "prefix": "p#", "limit": 10})
        data("/vectors/list", "get", 200, r.json())
        assert r.json()["pagination"]["next"] and len(r.json()["vectors"]) == 10
        r = c.get("/vectors/fetch", params=[("ids", "p#1"), ("ids", "p#2"), ("namespace", "ns")])
        data("/vectors/fetch", "get", 200, r.json())
        assert r.json()["vectors"]["p#1"]["metadata"] == {"n": 1.0, "g": ["a"]}
        r = c.post(
            "/vectors/fetch_by_metadata",
            json={"namespace": "ns", "filter": {"n": {"$gte": 25}}, "limit": 3},
        )
        data("/vectors/fetch_by_metadata", "post", 200, r.json())
        assert len(r.json()["vectors"]) == 3 and r.json()["pagination"]["next"]
        r = c.post(
            "/vectors/update",
            json={
                "namespace": "ns",
                "filter": {"n": {"$lt": 5}},
                "setMetadata": {"x": 1},
                "dryRun": True,
            },
        )
        data("/vectors/update", "post", 200, r.json())
        assert r.json() == {"matchedRecords": 5}
        r = c.post(
            "/query", json={"namespace": "ns", "vector": vec(3), "topK": 2, "includeMetadata": True}
        )
        data("/query", "post", 200, r.json())
        assert r.json()["matches"][0]["id"] in {f"p#{i}" for i in range(30)}
        r = c.post("/describe_index_stats", json={})
        data("/describe_index_stats", "post", 200, r.json())
        assert r.json()["namespaces"] == {"ns": {"vectorCount": 30}}
        r = c.post("/namespaces", json={"name": "made"})
        data("/namespaces", "post", 200, _record_counts_as_ints(r.json()))
        r = c.get("/namespaces", params={"limit": 1})
        data("/namespaces", "get", 200, _record_counts_as_ints(r.json()))
        assert r.json()["total_count"] == 2 and r.json()["namespaces"][0]["record_count"] == "0"
        r = c.get("/namespaces/ns")
        data("/namespaces/{namespace}", "get", 200, _record_counts_as_ints(r.json()))
        assert r.json() == {"name": "ns", "record_count": "30"}
        r = c.post("/vectors/delete", json={"namespace": "ns", "ids": ["p#1"]})
        data("/vectors/delete", "post", 200, r.json())
        assert r.json() == {}
        r = c.post("/vectors/delete", json={"namespace": "ns", "ids": ["x"] * 1001})
        data("/vectors/delete", "post", 400, r.json())
        r = c.delete("/namespaces/made")
        assert r.status_code == 200 and r.json() == {}


@openapi.needs_specs
@pytest.mark.parametrize("version", VERSIONS)
def test_control_plane_responses_match_the_spec(emu: Emulator, version: str) -> None:
    """Index and backup answers validate against the control-plane spec of that version."""

    def ctrl(path: str, method: str, status: int, body: Any) -> None:
        openapi.check("control", version, path, method, status, body)

    with http(emu, version, name=None) as c:
        r = c.post(
            "/indexes",
            json={
                "name": "made",
                "dimension": 8,
                "metric": "dotproduct",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            },
        )
        ctrl("/indexes", "post", 201, r.json())
        assert r.json()["host"] == emu.index_host("made") and r.json()["metric"] == "dotproduct"
        ctrl("/indexes", "get", 200, c.get("/indexes").json())
        ctrl("/indexes/{index_name}", "get", 200, c.get("/indexes/made").json())
        r = c.patch("/indexes/made", json={"deletion_protection": "enabled", "tags": {"team": "a"}})
        ctrl("/indexes/{index_name}", "patch", 202, r.json())
        r = c.delete("/indexes/made")
        ctrl("/indexes/{index_name}", "delete", 403, r.json())
        r = c.get("/indexes/nope")
        ctrl("/indexes/{index_name}", "get", 404, r.json())
        assert r.json() == {
            "error": {"code": "NOT_FOUND", "message": "Index nope not found."},
            "status": 404,
        }
        r = c.post("/indexes/made/backups", json={"name": "b1", "description": "before"})
        ctrl("/indexes/{index_name}/backups", "post", 201, r.json())
        ctrl("/indexes/{index_name}/backups", "get", 200, c.get("/indexes/made/backups").json())
        ctrl("/backups/{backup_id}", "get", 200, c.get(f"/backups/{r.json()['backup_id']}").json())


def test_snake_case_bodies_are_accepted(emu: Emulator) -> None:
    """Proto (snake_case) field names work like the JSON (camelCase) ones."""
    emu.upsert("idx", "ns", ((f"r{i}", vec(i), {"n": i}) for i in range(10)))
    with http(emu) as c:
        r = c.post(
            "/vectors/update",
            json={
                "namespace": "ns",
                "filter": {"n": {"$lt": 3}},
                "set_metadata": {"x": 1},
                "dry_run": True,
            },
        )
        assert r.json() == {"matchedRecords": 3}
        assert "x" not in emu.records("idx", "ns")["r0"].metadata
        r = c.post(
            "/vectors/fetch_by_metadata",
            json={"namespace": "ns", "filter": {"n": {"$lt": 4}}, "limit": 2},
        )
        r = c.post(
            "/vectors/fetch_by_metadata",
            json={
                "namespace": "ns",
                "filter": {"n": {"$lt": 4}},
                "limit": 2,
                "pagination_token": r.json()["pagination"]["next"],
            },
        )
        assert sorted(r.json()["vectors"]) == ["r2", "r3"]
        assert (
            c.post("/vectors/delete", json={"namespace": "ns", "delete_all": True}).status_code
            == 200
        )
        assert emu.records("idx", "ns") == {}


def test_default_namespace_spellings(emu: Emulator) -> None:
    """`""`, an omitted namespace and `__default__` are one namespace, named per API version."""
    with http(emu, "2025-10") as c:
        c.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": vec(1)}]})
        c.post(
            "/vectors/upsert", json={"namespace": "", "vectors": [{"id": "b", "values": vec(2)}]}
        )
        c.post(
            "/vectors/upsert",
            json={"namespace": "__default__", "vectors": [{"id": "c", "values": vec(3)}]},
        )
        assert c.post("/describe_index_stats", json={}).json()["namespaces"] == {
            "__default__": {"vectorCount": 3}
        }
        assert c.get("/vectors/list", params={"namespace": ""}).json()["namespace"] == ""
        assert c.get("/namespaces/__default__").json()["record_count"] == "3"
        assert c.post("/namespaces", json={"name": "__default__"}).status_code == 400
    with http(emu, "2025-01") as c:
        assert c.post("/describe_index_stats", json={}).json()["namespaces"] == {
            "": {"vectorCount": 3}
        }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ids": ["a"], "deleteAll": True}, "No explicit IDs allowed when delete_all=true"),
        ({"filter": {"n": 1}, "deleteAll": True}, "No filter allowed when delete_all=true"),
        ({"filter": {}}, "Delete with empty metadata filter is not allowed"),
    ],
)
def test_delete_selector_rules(emu: Emulator, body: dict[str, Any], message: str) -> None:
    """Mixed or empty delete selectors get Pinecone's 400 wording."""
    with http(emu) as c:
        r = c.post("/vectors/delete", json={"namespace": "ns", **body})
    assert r.status_code == 400 and r.json() == {"code": 3, "message": message, "details": []}


def test_ids_are_ignored_next_to_a_filter(emu: Emulator) -> None:
    """With both ids and a filter, Pinecone deletes by the filter alone."""
    emu.upsert("idx", "ns", [("a", vec(1), {"k": 1}), ("b", vec(2), {"k": 2})])
    with http(emu) as c:
        assert (
            c.post(
                "/vectors/delete", json={"namespace": "ns", "ids": ["a"], "filter": {"k": 2}}
            ).status_code
            == 200
        )
    assert list(emu.records("idx", "ns")) == ["a"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/vectors/update",
            {"filter": {}, "setMetadata": {"a": 1}},
            "Update with empty metadata filter is not allowed",
        ),
        (
            "/vectors/update",
            {"filter": {"a": 1}, "values": [1, 2, 3, 4]},
            "Update by metadata request does not support updating vector values.",
        ),
        (
            "/vectors/fetch_by_metadata",
            {"filter": {}},
            "Empty filter provided for fetch by metadata request",
        ),
    ],
)
def test_empty_filters_and_values_by_filter(
    emu: Emulator, path: str, body: dict[str, Any], message: str
) -> None:
    """Empty filters and vector values in an update by filter are refused as Pinecone does."""
    with http(emu) as c:
        r = c.post(path, json={"namespace": "ns", **body})
    assert r.status_code == 400 and r.json()["message"] == message


def test_filter_as_list_and_bad_operator(emu: Emulator) -> None:
    """A filter given as a list, or with an unknown operator, gets a 400 with code 3."""
    with http(emu) as c:
        r = c.post("/vectors/delete", json={"namespace": "ns", "filter": [{"a": 1}]})
        assert r.json()["message"] == "Proto field is not repeating, cannot start list"
        r = c.post("/vectors/delete", json={"namespace": "ns", "filter": {"a": {"eq": 1}}})
        assert r.status_code == 400 and r.json()["message"].startswith(
            "illegal condition for field a"
        )
        r = c.post("/describe_index_stats", json={"filter": {"a": 1}})
        assert r.status_code == 400


@pytest.mark.parametrize(
    "metadata",
    [{"a": None}, {"a": {"b": 1}}, {"a": [1, 2]}, {"$a": 1}, {"big": "x" * 41_000}],
)
def test_metadata_rules_on_upsert(emu: Emulator, metadata: dict[str, Any]) -> None:
    """Null, nested, non-string lists, `$` keys and over-40-KB metadata are refused."""
    with http(emu) as c:
        r = c.post(
            "/vectors/upsert",
            json={"vectors": [{"id": "a", "values": vec(1), "metadata": metadata}]},
        )
    assert r.status_code == 400 and r.json()["code"] == 3
    assert emu.records("idx") == {}


def test_missing_namespace_switch(start_emulator: Any) -> None:
    """Reads of a namespace that never existed are empty, or 404 when so configured."""
    lenient = start_emulator(indexes=(("idx", 4),))
    with http(lenient) as c:
        assert c.get("/vectors/list", params={"namespace": "ghost"}).json()["vectors"] == []
        assert c.get("/namespaces/ghost").status_code == 404
    strict = start_emulator(indexes=(("idx", 4),), missing_namespace="not_found")
    with http(strict) as c:
        r = c.post("/vectors/delete", json={"namespace": "ghost", "ids": ["a"]})
        assert r.status_code == 404 and r.json() == {
            "code": 5,
            "message": "Namespace not found",
            "details": [],
        }


def test_a_trailing_slash_is_an_unknown_path_not_a_redirect(emu: Emulator) -> None:
    """`/vectors/delete/` and `/indexes/` are not Pinecone's paths: 404, never a 307 that a
    client would follow to the real one."""
    with http(emu) as data:
        assert data.post("/vectors/delete/", json={"ids": ["a"]}).status_code == 404
    with http(emu, name=None) as control:
        assert control.get("/indexes/").status_code == 404
        assert control.get("/indexes").status_code == 200
