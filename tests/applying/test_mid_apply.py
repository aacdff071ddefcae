"""What arrives in the index while an apply runs is held to the plan: caps, re-proof, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator
from retention.pinecone import IndexClient
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import policy, seed, write_policies

OLD = time.time() - 90 * 86_400


def _during_the_ids(monkeypatch: pytest.MonkeyPatch, write: Callable[[], None]) -> None:
    """Run `write` once, as the apply sends its first ID batch (the ID action runs first)."""
    real = IndexClient.delete_batch
    done: list[bool] = []

    async def delete_batch(self: IndexClient, ids: Any, namespace: str) -> Any:
        if not done:
            done.append(True)
            write()
        return await real(self, ids, namespace)

    monkeypatch.setattr(IndexClient, "delete_batch", delete_batch)


def _plan(emulator: Emulator, tmp_path: Path, **spec: Any) -> tuple[str, Path, Path]:
    index = fresh_index(emulator, "mid")
    data = {f"e-{i}": {"created_at": OLD} for i in range(3)}
    data |= {f"t-{i}": {"created_at": OLD, "kind": "ttl"} for i in range(10)}
    data |= {f"keep-{i}": {"created_at": time.time()} for i in range(100)}
    seed(emulator, index, {"ns": data})
    rules = [
        {"name": "erase", "ids": ["e-0", "e-1", "e-2"]},
        {"name": "ttl", "olderThan": "30d", "field": "created_at", "where": {"kind": "ttl"}},
    ]
    policies = write_policies(tmp_path / "policies", [policy("p", index, ["ns"], rules, **spec)])
    planfile = tmp_path / "plan.json"
    with pointed_at(emulator):
        code, _, err = cli("plan", str(policies), "--out", str(planfile))
    assert code == 0, err
    return index, policies, planfile


def test_a_filtered_delete_that_grew_past_its_tolerance_mid_apply_is_not_sent(
    emulators: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 expired records arrive after the checks: the TTL delete would take 30 of 10 planned."""
    emulator, _ = emulators
    index, policies, planfile = _plan(emulator, tmp_path)
    late = {f"late-{i}": {"created_at": OLD, "kind": "ttl"} for i in range(20)}
    _during_the_ids(monkeypatch, lambda: seed(emulator, index, {"ns": late}))
    with pointed_at(emulator):
        code, out, err = cli("apply", str(planfile), str(policies))
    assert code == 1
    assert "Applied: 3 records deleted by 1 of 2 actions" in out
    lines = [line for line in err.splitlines() if line.startswith("retention:")]
    assert lines == [
        f"retention: error: p/ttl/{index}/ns: p/ttl in {index}/ns now selects more than the 10 "
        "records planned allow (tolerance 10%: at most 11); it stopped after 0; run "
        "`retention plan` again"
    ]
    left = snapshot(emulator, index, ["ns"])["ns"]
    assert {f"t-{i}" for i in range(10)} | set(late) <= left


def test_max_records_caps_the_whole_run_as_it_goes(
    emulators: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """13 planned under --max-records 13; one more expired record arrives mid-apply, within
    the action's tolerance but over the run's cap: the TTL delete is held back."""
    emulator, _ = emulators
    index, policies, planfile = _plan(emulator, tmp_path)
    one = {"late-0": {"created_at": OLD, "kind": "ttl"}}
    _during_the_ids(monkeypatch, lambda: seed(emulator, index, {"ns": one}))
    with pointed_at(emulator):
        code, _, err = cli("apply", str(planfile), str(policies), "--max-records", "13")
    assert code == 1
    assert (
        f"retention: error: p/ttl/{index}/ns: this apply reached --max-records 13 after 3 "
        f"records; p/ttl in {index}/ns stopped there; run `retention plan` again"
    ) in err.splitlines()
    assert {f"t-{i}" for i in range(10)} <= snapshot(emulator, index, ["ns"])["ns"]


def test_matches_written_after_a_filtered_delete_do_not_hold_up_its_verification(
    emulators: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record matching the filter arrives just after the delete: the count that has indexed
    past the delete's LSN shows it done (no 60 s wait), and the newcomer is left for next time."""
    emulator, _ = emulators
    index, policies, planfile = _plan(emulator, tmp_path)
    real = IndexClient.delete_by_filter

    async def delete_by_filter(self: IndexClient, flt: Any, namespace: str) -> Any:
        done = await real(self, flt, namespace)
        seed(emulator, index, {"ns": {"newcomer": {"created_at": OLD, "kind": "ttl"}}})
        return done

    monkeypatch.setattr(IndexClient, "delete_by_filter", delete_by_filter)
    with pointed_at(emulator):
        code, out, err = cli(
            "apply",
            str(planfile),
            str(policies),
            "--verify-timeout",
            "5",
            "--report",
            str(tmp_path / "report.json"),
        )
    assert code == 0, err
    assert "2 verified, 0 pending" in out
    assert "newcomer" in snapshot(emulator, index, ["ns"])["ns"]
