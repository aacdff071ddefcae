"""A backup holds only records last written at least `backup_min_age_s` (15 minutes) before it.

Pinecone documents that backups hold only records at least 15 minutes old
(DOC:guides/manage-data/backups-overview). Time is the emulator's `ManualClock`; records are
written over HTTP so that the write path (upsert, update, lag) is what sets their age.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig, ManualClock
from retention.emulator.command import add_arguments, check_arguments, config_from, main
from retention.emulator.model import Backup
from retention.errors import RetentionError
from tests.emulator.conftest import StartEmulator, http, vec

MINUTE = 60.0


def _upsert(client: httpx.Client, ns: str, *ids: str, **metadata: Any) -> None:
    vectors = [
        {"id": i, "values": vec(n), "metadata": metadata or {"k": 1}} for n, i in enumerate(ids)
    ]
    r = client.post("/vectors/upsert", json={"namespace": ns, "vectors": vectors})
    assert r.status_code == 200, r.text


def _back_up(emulator: Emulator, version: str = "2025-10") -> tuple[dict[str, Any], Backup]:
    """Create a backup of `idx` over HTTP; return its answer and what the emulator keeps."""
    with http(emulator, version, name=None) as client:
        r = client.post("/indexes/idx/backups", json={"name": "before-retention"})
    assert r.status_code == 201, r.text
    body = r.json()
    return body, emulator.store.backups[body["backup_id"]]


def _held(backup: Backup) -> dict[str, set[str]]:
    return {ns: set(records) for ns, records in backup.snapshot.items()}


def test_a_record_written_14_minutes_before_is_left_out_and_one_16_minutes_before_is_held(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """At 15 minutes (the default), a 16-minute-old record is held, a 14-minute-old one not;
    a namespace whose records are all too young is no namespace of the backup."""
    emulator = start_emulator(indexes=(("idx", 4),), clock=clock)
    assert emulator.config.backup_min_age_s == 900.0
    with http(emulator) as client:
        _upsert(client, "a", "old")
        clock.advance(2 * MINUTE)
        _upsert(client, "a", "young")
        _upsert(client, "b", "young-too")
    clock.advance(14 * MINUTE)
    body, backup = _back_up(emulator)
    assert _held(backup) == {"a": {"old"}}
    assert (body["record_count"], body["namespace_count"]) == (1, 1)
    assert emulator.records("idx", "a").keys() == {"old", "young"}  # the index keeps both


def test_an_update_or_a_re_upsert_is_a_new_write(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Updating a record by ID or by filter, or upserting it again, makes it young again."""
    emulator = start_emulator(indexes=(("idx", 4),), clock=clock)
    with http(emulator) as client:
        _upsert(client, "ns", "by-id", "again", "untouched")
        _upsert(client, "ns", "by-filter", k=5)
        clock.advance(20 * MINUTE)
        r = client.post(
            "/vectors/update", json={"namespace": "ns", "id": "by-id", "setMetadata": {"k": 2}}
        )
        assert r.status_code == 200
        r = client.post(
            "/vectors/update",
            json={"namespace": "ns", "filter": {"k": {"$eq": 5}}, "setMetadata": {"k": 6}},
        )
        assert r.json() == {"matchedRecords": 1}
        _upsert(client, "ns", "again", k=9)
    clock.advance(14 * MINUTE)
    body, backup = _back_up(emulator)
    assert _held(backup) == {"ns": {"untouched"}} and body["record_count"] == 1
    clock.advance(2 * MINUTE)
    _, later = _back_up(emulator)
    assert _held(later) == {"ns": {"by-id", "by-filter", "again", "untouched"}}
    assert later.snapshot["ns"]["again"].metadata == {"k": 9.0}
    assert later.snapshot["ns"]["by-filter"].metadata == {"k": 6.0}


def test_age_counts_from_when_a_write_was_accepted(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Under a lag the record becomes visible later, but its age runs from the write."""
    emulator = start_emulator(indexes=(("idx", 4),), clock=clock, lag_ms=60_000)
    with http(emulator) as client:
        _upsert(client, "ns", "lagged")
    clock.advance(15 * MINUTE)
    _, backup = _back_up(emulator)
    assert _held(backup) == {"ns": {"lagged"}}


def test_min_age_zero_holds_every_record_as_a_copy(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """With backup_min_age_s=0 a backup holds everything, just written or not: ids, values,
    sparse values and metadata, copied so that later writes leave the snapshot alone."""
    emulator = start_emulator(indexes=(("idx", 4),), clock=clock, backup_min_age_s=0)
    with http(emulator) as client:
        sparse = {"indices": [1, 5], "values": [0.5, 0.25]}
        r = client.post(
            "/vectors/upsert",
            json={
                "namespace": "a",
                "vectors": [
                    {"id": "s", "values": vec(1), "sparseValues": sparse, "metadata": {"t": ["x"]}}
                ],
            },
        )
        assert r.status_code == 200
        _upsert(client, "b", "p", "q")
        body, backup = _back_up(emulator, "2026-07")
        r = client.post("/vectors/update", json={"namespace": "a", "id": "s", "values": vec(3)})
        assert r.status_code == 200
        client.post("/vectors/delete", json={"namespace": "b", "ids": ["p"]})
    assert (body["record_count"], body["namespace_count"]) == (3, 2)
    assert _held(backup) == {"a": {"s"}, "b": {"p", "q"}}
    held = backup.snapshot["a"]["s"]
    assert (held.values, held.sparse, held.metadata) == (vec(1), sparse, {"t": ["x"]})
    assert emulator.records("idx", "a")["s"].values == vec(3)


def test_seeded_records_can_be_given_an_age(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """`Emulator.upsert(..., age_s=...)` seeds records as if written that long ago."""
    emulator = start_emulator(indexes=(("idx", 4),), clock=clock)
    emulator.upsert("idx", "ns", [("now", vec(1), {})])
    emulator.upsert("idx", "ns", [("earlier", vec(2), {})], age_s=16 * MINUTE)
    _, backup = _back_up(emulator)
    assert _held(backup) == {"ns": {"earlier"}}


def test_a_failing_backup_reports_initializing_then_initialization_failed(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """backup_outcome=InitializationFailed: Initializing for backup_ready_ms, then failed."""
    emulator = start_emulator(
        indexes=(("idx", 4),),
        clock=clock,
        backup_ready_ms=1000,
        backup_outcome="InitializationFailed",
    )
    body, _ = _back_up(emulator)
    assert body["status"] == "Initializing"
    with http(emulator, name=None) as client:
        clock.advance(0.5)
        assert client.get(f"/backups/{body['backup_id']}").json()["status"] == "Initializing"
        clock.advance(0.5)
        assert client.get(f"/backups/{body['backup_id']}").json()["status"] == (
            "InitializationFailed"
        )
        listed = client.get("/indexes/idx/backups").json()["data"]
    assert [b["status"] for b in listed] == ["InitializationFailed"]


def test_a_backup_and_its_snapshot_survive_a_restart(
    start_emulator: StartEmulator, clock: ManualClock, tmp_path: Path
) -> None:
    """With --data, a backup keeps its outcome and records; records loaded from disk have no
    write time left (the clock is gone) and count as old."""
    first = start_emulator(
        indexes=(("idx", 4),), clock=clock, data_dir=tmp_path, backup_outcome="InitializationFailed"
    )
    first.upsert("idx", "ns", [("a", vec(1), {"k": "v"})], age_s=MINUTE * 20)
    first.upsert("idx", "ns", [("b", vec(2), {})])
    body, _ = _back_up(first)
    first.stop()
    second = start_emulator(indexes=(("idx", 4),), clock=clock, data_dir=tmp_path)
    kept = second.store.backups[body["backup_id"]]
    assert kept.outcome == "InitializationFailed" and _held(kept) == {"ns": {"a"}}
    assert kept.snapshot["ns"]["a"].metadata == {"k": "v"}
    _, fresh = _back_up(second)
    assert _held(fresh) == {"ns": {"a", "b"}}


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--port", "0", *argv])


def test_the_backup_flags_reach_the_config() -> None:
    """Defaults are Pinecone's 15 minutes and Ready; the flags set both."""
    default = config_from(_args())
    assert (default.backup_min_age_s, default.backup_outcome) == (900.0, "Ready")
    args = _args("--backup-min-age", "0", "--backup-outcome", "InitializationFailed")
    check_arguments(args)
    config = config_from(args)
    assert (config.backup_min_age_s, config.backup_outcome) == (0.0, "InitializationFailed")


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_min_age_that_is_no_finite_non_negative_number_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--backup-min-age` takes a finite number of seconds >= 0: one line, exit 1."""
    with pytest.raises(RetentionError) as info:
        check_arguments(_args("--backup-min-age", value))
    shown = f"{float(value):g}"
    assert str(info.value) == (
        f"--backup-min-age must be a non-negative number of seconds, got: {shown}"
    )
    assert main(["--port", "0", "--backup-min-age", value]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"retention: error: {info.value}\n")


def test_an_unknown_outcome_is_refused() -> None:
    """--backup-outcome takes Ready or InitializationFailed; the config checks in process."""
    with pytest.raises(SystemExit):
        _args("--backup-outcome", "Failed")
    with pytest.raises(ValueError) as info:
        EmulatorConfig(backup_outcome="Failed")  # type: ignore[arg-type]
    assert str(info.value) == "backup_outcome must be Ready or InitializationFailed, got: Failed"
    with pytest.raises(ValueError) as info:
        EmulatorConfig(backup_min_age_s=float("nan"))
    assert str(info.value) == "backup_min_age_s must be a non-negative number, got: nan"
