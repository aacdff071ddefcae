"""Careless and hostile inputs around the ledger, windows, schedules and times: one line, exit
1, nothing deleted, and the evidence never destroyed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from retention.applying.ledger import LEDGER_FILE, Ledger, id_digest
from retention.emulator import Emulator
from tests.builders import policy, seed, where_rule, write_policies
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import run_cli

State = Path


@pytest.fixture
def state() -> State:
    return Path(os.environ["RETENTION_STATE_DIR"])


@pytest.fixture
def folder(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    emulator.create_index("idx", 2)
    seed(emulator, "idx", {"": {f"r{i}": {"kind": "draft" if i else "final"} for i in range(5)}})
    point_cli_at(monkeypatch, emulator)
    docs = [
        policy("drafts", "idx", ["__default__"], [where_rule("drafts", kind="draft")]),
        policy("erase", "idx", ["__default__"], [{"name": "one", "ids": ["r0"]}]),
    ]
    return write_policies(tmp_path / "policies", docs)


def one_line(err: str) -> str:
    [line] = err.strip().splitlines()
    assert line.startswith("retention: error:") or ": error: " in line, err
    return line


def test_no_output_replaces_the_default_ledger(
    emulator: Emulator, folder: Path, state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = state / LEDGER_FILE
    run = run_cli(capsys, "apply", str(folder), "--auto-approve", "--report", str(ledger))
    assert run.code == 1 and "--report and --ledger name the same file" in one_line(run.err)
    assert len(emulator.records("idx", "")) == 5
    assert run_cli(capsys, "apply", str(folder), "--auto-approve").code == 0
    before = ledger.read_bytes()
    run = run_cli(capsys, "plan", str(folder), "--out", str(ledger))
    assert run.code == 1 and "is a SQLite database" in one_line(run.err)
    assert ledger.read_bytes() == before


def test_run_refuses_a_ledger_among_the_state_files(
    folder: Path, state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(
        capsys, "run", str(folder), "--http-port", "0", "--ledger", str(state / "last-success.json")
    )
    assert run.code == 1 and "is in the state directory" in one_line(run.err)


def test_audit_reads_the_default_namespace_however_it_is_spelled(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", str(folder), "--auto-approve").code == 0
    for spelling in ("", "__default__"):
        run = run_cli(capsys, "audit", "--id", "r0", "--namespace", spelling)
        assert run.code == 0, (spelling, run.out, run.err)
        assert "erase, rule one" in run.out


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--since", "0001-01-01T00:00:00+14:00"],
        ["plan", "POLICIES", "--at", "9999-12-30T00:00:00Z"],
        ["explain", "POLICIES", "--at", "1900-01-01T00:00:00Z", "--id", "x"],
    ],
)
def test_times_out_of_range_are_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    run = run_cli(capsys, *[str(folder) if a == "POLICIES" else a for a in argv])
    assert run.code == 1
    assert "out of range; give a time between 1970 and 2999" in one_line(run.err)


def test_a_ledger_with_another_schema_is_refused_and_nothing_deleted(
    emulator: Emulator, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER erased_ids_no_delete")  # what a hostile hand could do
    db.commit()
    db.close()
    run = run_cli(capsys, "apply", str(folder), "--auto-approve", "--ledger", str(path))
    assert run.code == 1
    assert "is not the retention ledger this release writes" in one_line(run.err)
    assert len(emulator.records("idx", "")) == 5


def test_rows_no_apply_writes_make_audit_one_line(
    folder: Path, state: State, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", str(folder), "--auto-approve").code == 0
    db = sqlite3.connect(state / LEDGER_FILE)
    db.execute("INSERT INTO id_batches (action_id, ids, sent) SELECT id, 'many', 'x' FROM actions")
    db.execute("INSERT INTO erased_ids SELECT ?, MAX(id) FROM id_batches", (id_digest("odd"),))
    db.commit()
    db.close()
    run = run_cli(capsys, "audit", "--id", "odd")
    assert run.code == 1, run.out
    assert "holds a row this release did not write" in one_line(run.err)


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("² * * * *", "is not a number"),
        ("0 0 1-31/40 * *", "step '40' must be a number from 1 to 30"),
        ("*/99999999999999999999 * * * *", "step '99999999999999999999'"),
    ],
)
def test_schedules_the_service_could_not_keep_are_refused_by_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule: str, problem: str
) -> None:
    docs = [policy("p", "idx", ["a"], [where_rule("r", kind="x")], schedule=schedule)]
    run = run_cli(capsys, "validate", str(write_policies(tmp_path / "p", docs)))
    assert run.code == 1
    assert problem in run.out


def test_a_state_file_from_the_far_future_or_too_deep_is_a_warning(state: State) -> None:
    from retention.service.state import read_last_success

    (state / "last-success.json").write_text(
        json.dumps({"policies": {"p": "9999-12-31T23:59:59Z"}})
    )
    assert read_last_success(state)[0] == {}
    (state / "last-success.json").write_text("[" * 100_000)
    times, problem = read_last_success(state)
    assert times == {} and problem is not None
