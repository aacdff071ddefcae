"""Reliability switches: injected faults, eventual consistency with LSNs, latency, API keys."""

from __future__ import annotations

import time

from retention.emulator import ManualClock
from tests.emulator.conftest import StartEmulator, http, vec


def _statuses(emulator: object, n: int) -> list[int]:
    with http(emulator) as client:  # type: ignore[arg-type]
        return [client.post("/describe_index_stats", json={}).status_code for _ in range(n)]


def test_a_fifth_of_requests_fail_reproducibly(start_emulator: StartEmulator) -> None:
    """--fault-rate 0.2 --fault-status 503 fails about 20% of requests, the same ones per seed."""
    first = _statuses(
        start_emulator(indexes=(("idx", 4),), fault_rate=0.2, fault_statuses=(503,), seed=7), 400
    )
    again = _statuses(
        start_emulator(indexes=(("idx", 4),), fault_rate=0.2, fault_statuses=(503,), seed=7), 400
    )
    other = _statuses(
        start_emulator(indexes=(("idx", 4),), fault_rate=0.2, fault_statuses=(503,), seed=8), 400
    )
    assert set(first) == {200, 503}
    assert 0.14 < first.count(503) / 400 < 0.26
    assert first == again
    assert first != other


def test_faults_use_the_plane_error_shape(start_emulator: StartEmulator) -> None:
    """An injected fault looks like Pinecone's error body and leaves the store untouched."""
    emulator = start_emulator(indexes=(("idx", 4),), fault_rate=1.0, fault_statuses=(500,))
    with http(emulator) as client:
        r = client.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": vec(1)}]})
    assert r.status_code == 500 and r.json()["code"] == 13 and r.json()["details"] == []
    with http(emulator, name=None) as client:
        r = client.get("/indexes")
    assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL"
    assert emulator.records("idx") == {}


def test_lag_keeps_a_deleted_record_listed_until_it_passes(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """With --lag-ms 500 a deleted record is listed right after the delete and gone 500 ms later."""
    emulator = start_emulator(indexes=(("idx", 4),), lag_ms=500, clock=clock)
    emulator.upsert("idx", "ns", [("a", vec(1), {"k": 1}), ("b", vec(2), {"k": 2})])
    with http(emulator) as client:
        deleted = client.post("/vectors/delete", json={"ids": ["a"], "namespace": "ns"})
        write_lsn = int(deleted.headers["x-pinecone-request-lsn"])
        listed = client.get("/vectors/list", params={"namespace": "ns"})
        assert [v["id"] for v in listed.json()["vectors"]] == ["a", "b"]
        assert int(listed.headers["x-pinecone-max-indexed-lsn"]) < write_lsn
        fetched = client.get("/vectors/fetch", params={"ids": "a", "namespace": "ns"})
        assert "a" in fetched.json()["vectors"]
        stats = client.post("/describe_index_stats", json={})
        assert stats.json()["namespaces"]["ns"]["vectorCount"] == 2
        dry = client.post(
            "/vectors/update",
            json={
                "namespace": "ns",
                "filter": {"k": {"$gte": 0}},
                "setMetadata": {"z": 1},
                "dryRun": True,
            },
        )
        assert dry.json() == {"matchedRecords": 2}
        clock.advance(0.499)
        assert len(client.get("/vectors/list", params={"namespace": "ns"}).json()["vectors"]) == 2
        clock.advance(0.001)
        listed = client.get("/vectors/list", params={"namespace": "ns"})
        assert [v["id"] for v in listed.json()["vectors"]] == ["b"]
        assert int(listed.headers["x-pinecone-max-indexed-lsn"]) >= write_lsn


def test_lag_applies_to_upserts_and_filtered_deletes(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Writes become visible in order once due; a filtered delete sees the writes before it."""
    emulator = start_emulator(indexes=(("idx", 4),), lag_ms=100, clock=clock)
    with http(emulator) as client:
        client.post(
            "/vectors/upsert",
            json={
                "namespace": "ns",
                "vectors": [{"id": "x", "values": vec(1), "metadata": {"k": 1}}],
            },
        )
        client.post("/vectors/delete", json={"namespace": "ns", "filter": {"k": 1}})
        assert (
            client.get("/vectors/fetch", params={"ids": "x", "namespace": "ns"}).json()["vectors"]
            == {}
        )
        clock.advance(0.1)
        assert (
            client.get("/vectors/fetch", params={"ids": "x", "namespace": "ns"}).json()["vectors"]
            == {}
        )
        assert emulator.records("idx", "ns") == {}


def test_lsns_increase_per_namespace(emu: object) -> None:
    """Each write returns the next LSN of its namespace; reads report the indexed LSN."""
    with http(emu) as client:  # type: ignore[arg-type]
        lsns = [
            int(
                client.post(
                    "/vectors/upsert",
                    json={"namespace": ns, "vectors": [{"id": "a", "values": vec(1)}]},
                ).headers["x-pinecone-request-lsn"]
            )
            for ns in ("one", "one", "two")
        ]
        assert lsns == [1, 2, 1]
        r = client.get("/vectors/list", params={"namespace": "one"})
        assert r.headers["x-pinecone-max-indexed-lsn"] == "2"


def test_latency_is_added(start_emulator: StartEmulator) -> None:
    """--latency-ms delays every answer."""
    emulator = start_emulator(indexes=(("idx", 4),), latency_ms=80)
    with http(emulator) as client:
        began = time.monotonic()
        client.post("/describe_index_stats", json={})
        assert time.monotonic() - began >= 0.08


def test_wrong_api_key_gets_401(start_emulator: StartEmulator) -> None:
    """With --api-key set, a wrong key gets 401 in each plane's shape; the right one passes."""
    emulator = start_emulator(indexes=(("idx", 4),), api_key="secret")
    with http(emulator, name=None) as client:
        r = client.get("/indexes")
        assert r.status_code == 401
        assert r.json() == {
            "error": {"code": "UNAUTHENTICATED", "message": "Invalid API key."},
            "status": 401,
        }
        assert client.get("/indexes", headers={"Api-Key": "secret"}).status_code == 200
    with http(emulator) as client:
        r = client.post("/describe_index_stats", json={})
        assert r.status_code == 401 and r.json()["code"] == 16
