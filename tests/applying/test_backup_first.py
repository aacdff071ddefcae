"""A backup before a large apply (`limits.backupAbove`): taken, awaited, recorded, or nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.errors import Forbidden
from retention.pinecone.control import ControlPlane
from tests.applying.ledger_rows import check_consistent, rows
from tests.applying.world import fresh_index, pointed_at, snapshot
from tests.builders import policy, ttl_rule, write_policies
from tests.cli.helpers import Run, run_cli

DAY = 86_400
OLD = int(time.time()) - 90 * DAY
NEW = int(time.time())
HOUR_AGO = 3600.0
NEEDS_BACKUP = "asks for a backup first (limits.backupAbove), so nothing of it was deleted"


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator, pointed_at(emulator):
        yield emulator


@dataclass(frozen=True)
class World:
    emulator: Emulator
    index: str
    policies: Path
    before: dict[str, set[str]]
    expired: dict[str, set[str]]

    def now(self) -> dict[str, set[str]]:
        return snapshot(self.emulator, self.index, list(self.before))


def _upsert(
    emulator: Emulator, index: str, ns: str, records: Mapping[str, Mapping[str, Any]], age: float
) -> None:
    values = [0.1] * emulator.store.indexes[index].info.dimension
    emulator.upsert(index, ns, [(i, values, m) for i, m in records.items()], age_s=age)


def _world(
    emulator: Emulator,
    tmp_path: Path,
    *,
    backup_above: int | None,
    other: bool = False,
) -> World:
    """Index with namespaces `tickets` (30 expired records and 10 fresh ones written an hour
    ago, 5 fresh ones written just now) and `scratch` (8 expired records written an hour ago,
    4 just now). Policy `tickets` expires `tickets`, with backupAbove when given; with `other`,
    policy `scratch` (no backupAbove) expires `scratch` in the same apply."""
    index = fresh_index(emulator, "backup")
    expired = {
        "tickets": {f"t-old-{i:02d}": {"created_at": OLD} for i in range(30)},
        "scratch": {f"s-old-{i:02d}": {"created_at": OLD} for i in range(8)},
    }
    _upsert(emulator, index, "tickets", expired["tickets"], HOUR_AGO)
    _upsert(emulator, index, "tickets", {f"t-kept-{i}": {"created_at": NEW} for i in range(10)},
            HOUR_AGO)  # fmt: skip
    _upsert(emulator, index, "tickets", {f"t-new-{i}": {"created_at": NEW} for i in range(5)}, 0)
    _upsert(emulator, index, "scratch", expired["scratch"], HOUR_AGO)
    _upsert(emulator, index, "scratch", {f"s-new-{i}": {"created_at": NEW} for i in range(4)}, 0)
    limits: dict[str, Any] = {"maxPercent": 100}
    if backup_above is not None:
        limits["backupAbove"] = backup_above
    docs = [policy("tickets", index, ["tickets"], [ttl_rule("expire", "30d")], limits=limits)]
    if other:
        docs.append(policy("scratch", index, ["scratch"], [ttl_rule("expire", "30d")]))
    policies = write_policies(tmp_path / "policies", docs)
    before = snapshot(emulator, index, ["tickets", "scratch"])
    return World(emulator, index, policies, before, {k: set(v) for k, v in expired.items()})


def _apply(
    capsys: pytest.CaptureFixture[str], world: World, tmp_path: Path, *extra: str
) -> tuple[Run, dict[str, Any], Path]:
    report, ledger = tmp_path / "report.json", tmp_path / "ledger.sqlite"
    run = run_cli(
        capsys, "apply", str(world.policies), "--auto-approve", "--report", str(report),
        "--ledger", str(ledger), *extra,
    )  # fmt: skip
    return run, json.loads(report.read_text()), ledger


def _index_backups(emulator: Emulator, index: str) -> list[Any]:
    return [b for b in emulator.store.backups.values() if b.source_index_name == index]


def test_a_large_apply_backs_the_index_up_first_and_waits_until_ready(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _world(live, tmp_path, backup_above=10)
    run, told, ledger = _apply(capsys, world, tmp_path)
    assert run.code == 0, run.out + run.err

    [backup] = _index_backups(live, world.index)
    old_enough = 30 + 10 + 8  # written an hour ago, in either namespace; not the 9 just now
    assert told["backups"] == [
        {
            "index": world.index,
            "backupId": backup.backup_id,
            "status": "Ready",
            "records": old_enough,
            "policies": ["tickets"],
        }
    ]
    assert backup.outcome == "Ready" and backup.record_count == old_enough
    assert live.store.clock() >= backup.ready_at
    # Taken before the deletes: the backup still holds every record the apply deleted.
    assert world.expired["tickets"] <= set(backup.snapshot["tickets"])
    assert not any(i.startswith("t-new-") for i in backup.snapshot["tickets"])

    [row] = rows(ledger, "SELECT * FROM backups")
    assert (row["index_name"], row["backup_id"], row["status"], row["records"]) == (
        world.index,
        backup.backup_id,
        "Ready",
        old_enough,
    )
    assert json.loads(row["policies"]) == ["tickets"]
    [run_row] = rows(ledger, "SELECT run FROM runs")
    assert run_row["run"] == told["ledgerRun"]
    check_consistent(ledger)

    events = run.events
    assert events.index("backup_started") < events.index("backup_ready")
    assert events.index("backup_ready") < events.index("delete_request")
    assert told["deleted"] == 30
    assert world.now()["tickets"] == world.before["tickets"] - world.expired["tickets"]


@pytest.mark.parametrize(
    ("backup_above", "backed_up"), [(29, True), (30, True), (33, False), (1000, False)]
)
def test_a_backup_is_taken_only_above_backup_above(
    live: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    backup_above: int,
    backed_up: bool,
) -> None:
    """30 records planned, which the default 10% tolerance lets grow to 33: a backup below 33
    (the apply may delete more than backupAbove), none at 33 (not more than) or 1,000."""
    world = _world(live, tmp_path, backup_above=backup_above)
    run, told, ledger = _apply(capsys, world, tmp_path)
    assert run.code == 0, run.out + run.err
    assert len(_index_backups(live, world.index)) == len(told["backups"]) == int(backed_up)
    assert len(rows(ledger, "SELECT * FROM backups")) == int(backed_up)
    assert ("backup_started" in run.events) is backed_up
    assert told["deleted"] == 30


def test_without_backup_above_there_is_no_backup(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _world(live, tmp_path, backup_above=None, other=True)
    run, told, _ = _apply(capsys, world, tmp_path)
    assert run.code == 0, run.out + run.err
    assert told["backups"] == [] and not _index_backups(live, world.index)
    assert told["deleted"] == 38


def test_a_failed_backup_fails_only_its_policy_with_nothing_of_it_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EmulatorConfig(limits="off", backup_outcome="InitializationFailed", backup_ready_ms=50)
    with Emulator.start(config) as emulator, pointed_at(emulator):
        world = _world(emulator, tmp_path, backup_above=10, other=True)
        run, told, ledger = _apply(capsys, world, tmp_path)
        after = world.now()
        [backup] = _index_backups(emulator, world.index)
    assert run.code == 1, run.out + run.err
    by_policy = {a["id"].split("/")[0]: a for a in told["actions"]}
    tickets, scratch = by_policy["tickets"], by_policy["scratch"]
    assert (tickets["status"], tickets["deleted"]) == ("failed", 0)
    assert (
        f"backup {backup.backup_id} of index {world.index} ended InitializationFailed"
        in (tickets["error"])
    )
    assert NEEDS_BACKUP in tickets["error"]
    assert (scratch["status"], scratch["deleted"]) == ("done", 8)
    assert after == {
        "tickets": world.before["tickets"],
        "scratch": world.before["scratch"] - world.expired["scratch"],
    }
    assert told["backups"] == []
    [row] = rows(ledger, "SELECT backup_id, status, policies FROM backups")
    assert (row["backup_id"], row["status"]) == (backup.backup_id, "InitializationFailed")
    assert json.loads(row["policies"]) == ["tickets"]
    errors = [m for m in run.messages if m.startswith("retention: error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"retention: error: tickets/expire/{world.index}"
    )


def test_a_backup_not_ready_in_time_fails_its_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EmulatorConfig(limits="off", backup_ready_ms=600_000)
    with Emulator.start(config) as emulator, pointed_at(emulator):
        world = _world(emulator, tmp_path, backup_above=10, other=True)
        run, told, ledger = _apply(capsys, world, tmp_path, "--backup-timeout", "0.5")
        after = world.now()
        [backup] = _index_backups(emulator, world.index)
    assert run.code == 1, run.out + run.err
    by_policy = {a["id"].split("/")[0]: a for a in told["actions"]}
    assert by_policy["tickets"]["status"] == "failed" and by_policy["tickets"]["deleted"] == 0
    error = by_policy["tickets"]["error"]
    assert f"backup {backup.backup_id} of index {world.index} not Ready after 0.5s" in error
    assert "(still Initializing)" in error and NEEDS_BACKUP in error
    assert by_policy["scratch"]["status"] == "done"
    assert after["tickets"] == world.before["tickets"]
    [row] = rows(ledger, "SELECT status FROM backups")
    assert row["status"] == "Initializing"


def test_the_plan_warns_that_the_backup_keeps_what_is_deleted(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _world(live, tmp_path, backup_above=10, other=True)
    run = run_cli(capsys, "plan", str(world.policies))
    assert run.code == 0, run.err
    [line] = [ln for ln in run.out.splitlines() if "backupAbove" in ln]
    assert line == (
        "! policy 'tickets' deletes 30 records, over its backupAbove 10: the apply first backs "
        f"up index '{world.index}' and waits until the backup is Ready; the backup keeps the "
        "deleted records until the backup itself is deleted, so an erasure must also cover "
        "backups"
    )
    assert not _index_backups(live, world.index)  # planning takes none
    markdown = run_cli(capsys, "plan", str(world.policies), "--format", "markdown")
    assert "so an erasure must also cover backups" in markdown.out


def test_below_backup_above_the_plan_does_not_warn(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _world(live, tmp_path, backup_above=30)
    run = run_cli(capsys, "plan", str(world.policies))
    assert run.code == 0, run.err
    assert "backupAbove" not in run.out and "cover backups" not in run.out


def test_policies_of_one_index_share_one_backup(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _world(live, tmp_path, backup_above=10, other=True)
    docs = [
        policy(name, world.index, [name], [ttl_rule("expire", "30d")],
               limits={"maxPercent": 100, "backupAbove": 5})
        for name in ("tickets", "scratch")
    ]  # fmt: skip
    world = replace(world, policies=write_policies(tmp_path / "both", docs))
    run, told, ledger = _apply(capsys, world, tmp_path)
    assert run.code == 0, run.out + run.err
    [backup] = _index_backups(live, world.index)
    [taken] = told["backups"]
    assert taken["backupId"] == backup.backup_id
    assert sorted(taken["policies"]) == ["scratch", "tickets"]
    assert len(rows(ledger, "SELECT * FROM backups")) == 1
    assert told["deleted"] == 38


def test_a_resumed_apply_backs_up_only_for_what_is_still_to_run(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """60 records in two namespaces, backupAbove 40: the first run backs up, and stops after
    one namespace (--max-records 30); its re-run has 30 left to delete, and takes no backup."""
    world = _world(live, tmp_path, backup_above=None)
    _upsert(live, world.index, "scratch", {f"s-more-{i:02d}": {"created_at": OLD} for i in range(22)},
            HOUR_AGO)  # fmt: skip
    docs = [
        policy("tickets", world.index, ["tickets", "scratch"], [ttl_rule("expire", "30d")],
               limits={"maxPercent": 100, "backupAbove": 40})
    ]  # fmt: skip
    policies = write_policies(tmp_path / "resume", docs)
    planfile, journal = tmp_path / "plan.json", tmp_path / "journal.json"
    assert run_cli(capsys, "plan", str(policies), "--out", str(planfile)).code == 0
    ledger = str(tmp_path / "ledger.sqlite")
    apply = ("apply", str(planfile), str(policies), "--journal", str(journal), "--ledger", ledger)

    first = run_cli(capsys, *apply, "--max-records", "30")
    assert first.code == 1, first.out + first.err
    assert len(_index_backups(live, world.index)) == 1
    assert "30 records deleted by 1 of 2 actions" in first.out

    second = run_cli(capsys, *apply)
    assert second.code == 0, second.out + second.err
    assert "backup_started" not in second.events
    assert len(_index_backups(live, world.index)) == 1
    left = snapshot(live, world.index, ["tickets", "scratch"])
    assert not any("-old-" in i or "-more-" in i for ns in left.values() for i in ns)


def test_a_refused_backup_fails_only_its_policy(
    live: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 403 on create (the project's backup quota): no backup, its policy fails in one line
    that says what to do, the other policy goes on."""

    async def refuse(self: ControlPlane, index_name: str, **_: Any) -> Any:
        raise Forbidden(
            "create_backup: Backup quota exceeded for project", status=403,
            operation="create_backup",
        )  # fmt: skip

    monkeypatch.setattr(ControlPlane, "create_backup", refuse)
    world = _world(live, tmp_path, backup_above=10, other=True)
    run, told, ledger = _apply(capsys, world, tmp_path)
    assert run.code == 1, run.out + run.err
    by_policy = {a["id"].split("/")[0]: a for a in told["actions"]}
    error = by_policy["tickets"]["error"]
    assert error.startswith(
        f"backup of index {world.index} refused: Backup quota exceeded for project (the "
        "project's backup quota is spent"
    ), error
    assert NEEDS_BACKUP in error and by_policy["tickets"]["deleted"] == 0
    assert by_policy["scratch"]["status"] == "done"
    assert world.now()["tickets"] == world.before["tickets"]
    [row] = rows(ledger, "SELECT backup_id, status FROM backups")
    assert row == {"backup_id": "", "status": "refused"}


def test_a_backup_deleted_while_awaited_fails_only_its_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone deletes the new backup while it is Initializing: the backup failed, so its
    policy fails with nothing of it deleted, and the other policy of the apply goes on."""
    config = EmulatorConfig(limits="off", backup_ready_ms=60_000)
    with Emulator.start(config) as emulator, pointed_at(emulator):
        real = ControlPlane.create_backup

        async def create_then_lose(self: ControlPlane, index_name: str, **kwargs: Any) -> Any:
            info = await real(self, index_name, **kwargs)
            with emulator.store.lock:
                emulator.store.drop_backup(info.backup_id)
            return info

        monkeypatch.setattr(ControlPlane, "create_backup", create_then_lose)
        world = _world(emulator, tmp_path, backup_above=10, other=True)
        report, ledger = tmp_path / "report.json", tmp_path / "ledger.sqlite"
        run = run_cli(
            capsys, "apply", str(world.policies), "--auto-approve", "--report", str(report),
            "--ledger", str(ledger),
        )  # fmt: skip
        after = world.now()
    assert run.code == 1, run.out + run.err
    assert after["tickets"] == world.before["tickets"]
    assert after["scratch"] == world.before["scratch"] - world.expired["scratch"], run.err
    told = json.loads(report.read_text())
    by_policy = {a["id"].split("/")[0]: a for a in told["actions"]}
    assert by_policy["tickets"]["status"] == "failed"
    assert NEEDS_BACKUP in by_policy["tickets"]["error"]
    assert by_policy["scratch"]["status"] == "done"
