"""Killed and interrupted applies: a re-run finishes the plan and nothing extra is deleted."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.applying.ledger_rows import check_consistent, check_records_every_erasure, rows
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import policy, seed, write_policies

ROOT = Path(__file__).resolve().parents[2]
NS = ("ns-a", "ns-b", "scratch-1")
DAY = 86_400


@dataclass
class Run:
    emulator: Emulator
    env: dict[str, str]
    index: str
    planfile: Path
    before: dict[str, set[str]]
    after: dict[str, set[str]]  # what must remain once the plan is applied

    def apply(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "retention",
                "apply",
                str(self.planfile),
                str(self.planfile.parent / "policies"),
                "--ledger",
                str(self.ledger),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def ledger(self) -> Path:
        return self.planfile.parent / "ledger.sqlite"

    def gone(self) -> set[str]:
        now = self.state()
        return {i for ns in NS for i in self.before[ns] - now[ns]}

    def check_ledger(self) -> None:
        """Whole, and holding every ID erased so far (sent before it was deleted); every
        filtered delete that took records recorded before its request."""
        check_consistent(self.ledger)
        gone = self.gone()
        check_records_every_erasure(self.ledger, {i for i in gone if i.startswith("del#")})
        started = {r["namespace"] for r in rows(self.ledger, "SELECT namespace FROM actions")}
        for ns in ("ns-b", "scratch-1"):
            if self.before[ns] - self.state()[ns]:
                assert ns in started, ns

    def state(self) -> dict[str, set[str]]:
        return snapshot(self.emulator, self.index, NS)

    def nothing_extra(self) -> None:
        """Every record the plan spares is still there."""
        now = self.state()
        for ns in NS:
            assert self.after[ns] <= now[ns], ns


def dataset(now: float) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, set[str]]]:
    """6,000 ID-prefix deletions (some held) in ns-a, a TTL filter in ns-b, a scratch purge."""
    ns_a = {f"del#{i:05d}": {"hold": i % 97 == 0} for i in range(6000)}
    ns_a |= {f"keep#{i:04d}": {"hold": False} for i in range(500)}
    ns_b = {f"t{i:04d}": {"created_at": int(now - (i % 60 + 0.5) * DAY)} for i in range(1200)}
    scratch = {f"s{i:04d}": {"x": i} for i in range(300)}
    data: dict[str, dict[str, dict[str, Any]]] = {"ns-a": ns_a, "ns-b": ns_b, "scratch-1": scratch}
    after = {
        "ns-a": {i for i, m in ns_a.items() if not i.startswith("del#") or m["hold"]},
        "ns-b": {i for i, m in ns_b.items() if m["created_at"] >= now - 30 * DAY},
        "scratch-1": set(),
    }
    return data, after


@pytest.fixture(scope="module")
def slow_deletes() -> Iterator[tuple[Emulator, dict[str, str]]]:
    """An emulator at Pinecone's limits but 2,000 deleted records/s, so an apply takes seconds."""
    config = EmulatorConfig(limit_overrides={"delete_records_per_s": 2000})
    with Emulator.start(config) as emulator, pointed_at(emulator) as env:
        yield emulator, env


def prepare(emulator: Emulator, env: dict[str, str], work: Path) -> Run:
    index = fresh_index(emulator, "kill")
    data, after = dataset(time.time())
    seed(emulator, index, data)
    docs = [
        policy(
            "drop",
            index,
            ["ns-*"],
            [
                {"name": "dels", "idPrefix": "del#"},
                {"name": "old", "olderThan": "30d", "field": "created_at"},
            ],
            protect=[{"hold": True}],
        ),
        policy("scratch", index, ["scratch-*"], [{"name": "purge", "deleteAll": True}]),
    ]
    policies = write_policies(work / "policies", docs)
    planfile = work / "plan.json"
    code, out, err = cli("plan", str(policies), "--out", str(planfile))
    assert code == 0, out + err
    before = snapshot(emulator, index, NS)
    assert json.loads(planfile.read_text())["totals"]["records"] == sum(
        len(before[ns] - after[ns]) for ns in NS
    )
    return Run(emulator, env, index, planfile, before, after)


def has_schema(path: Path) -> bool:
    """Whether the ledger at `path` holds its tables: its schema is created in one transaction,
    so a kill before that commits leaves no file, an empty one, or one with a journal to roll
    back (which a read-only reader cannot)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        found = rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'")
    except sqlite3.OperationalError:
        return False
    return bool(found)


def kill_and_rerun(slow_deletes: tuple[Emulator, dict[str, str]], work: Path, delay: float) -> None:
    run = prepare(*slow_deletes, work)
    proc = run.apply()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    run.nothing_extra()
    if has_schema(run.ledger):
        run.check_ledger()
    else:  # killed before the ledger's schema was committed: nothing may have been deleted
        assert run.gone() == set()
    planned = sum(len(run.before[ns] - run.after[ns]) for ns in NS)
    gone = sum(len(run.before[ns] - run.state()[ns]) for ns in NS)
    print(f"killed after {delay:.2f}s: {gone} of {planned} planned deletions done")
    again = run.apply()
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert run.state() == run.after
    run.check_ledger()
    last = rows(run.ledger, "SELECT outcome FROM run_ends ORDER BY run_id DESC LIMIT 1")
    # killed while verifying, the journal has every action done: the re-run has nothing to do
    assert last in ([{"outcome": "applied"}], [{"outcome": "applied-earlier"}])


@pytest.mark.parametrize("n", range(2))
def test_sigkill_then_rerun(
    slow_deletes: tuple[Emulator, dict[str, str]], tmp_path: Path, n: int
) -> None:
    """kill -9 at a seeded random moment, then the same apply: the planned end state, no more."""
    kill_and_rerun(slow_deletes, tmp_path, random.Random(n).uniform(0.8, 3.5))


@pytest.mark.slow
@pytest.mark.parametrize("n", range(12))
def test_sigkill_then_rerun_many(
    slow_deletes: tuple[Emulator, dict[str, str]], tmp_path: Path, n: int
) -> None:
    """Twelve kills spread over the whole apply, from start-up to verification."""
    kill_and_rerun(slow_deletes, tmp_path, random.Random(100 + n).uniform(0.3, 4.2))


def test_sigterm_finishes_the_batch_in_flight(
    slow_deletes: tuple[Emulator, dict[str, str]], tmp_path: Path
) -> None:
    """SIGTERM mid-way: the summary says INTERRUPTED and counts exactly what went; exit 143."""
    run = prepare(*slow_deletes, tmp_path)
    proc = run.apply()
    deadline = time.monotonic() + 30
    while len(run.state()["ns-a"]) > len(run.before["ns-a"]) - 1000:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "INTERRUPTED: run the same apply again to finish" in out, out
    run.nothing_extra()
    now = run.state()
    gone = sum(len(run.before[ns] - now[ns]) for ns in NS)
    assert gone < sum(len(run.before[ns] - run.after[ns]) for ns in NS)
    assert f"Applied: {gone:,} records deleted" in out, (gone, out)
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "stop_requested" in events and "apply_finished" in events
    run.check_ledger()
    [end] = rows(run.ledger, "SELECT outcome, deleted FROM run_ends")
    assert end == {"outcome": "interrupted", "deleted": gone}
    again = run.apply()
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert run.state() == run.after
