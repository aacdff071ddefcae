"""Apply reports what happened, never what the plan expected: a namespace deleted after planning
is "namespace gone", a filtered delete counts what matched just before it, and a plan applied
earlier is said to be, with nothing deleted or sent again."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.applying.world import cli, fresh_index, pointed_at
from tests.builders import policy, seed, write_policies

DAY = 86_400
OLD, NEW = 20, 40
"""Each namespace holds OLD records `old#…` 100 days old and NEW records `new#…` of today."""

RULES: dict[str, dict[str, Any]] = {
    "deleteByFilter": {"name": "expire", "olderThan": "30d", "field": "created_at"},
    "deleteByIds": {"name": "expire", "idPrefix": "old#"},
    "deleteAll": {"name": "expire", "deleteAll": True},
    "deleteNamespace": {"name": "expire", "deleteNamespace": True},
}
SELECTED = {"deleteByFilter": OLD, "deleteByIds": OLD, "deleteAll": OLD + NEW}
SELECTED["deleteNamespace"] = OLD + NEW
GONE_FIELDS = ("action", "kind", "index", "namespace", "planned", "deleted", "level")


def records(now: float) -> dict[str, dict[str, Any]]:
    old = {f"old#{i:03d}": {"created_at": int(now - 100 * DAY)} for i in range(OLD)}
    return old | {f"new#{i:03d}": {"created_at": int(now)} for i in range(NEW)}


class DeleteSpy:
    """Counts, per namespace, the record-delete requests the emulator accepts."""

    def __init__(self, emulator: Emulator) -> None:
        self.enforcer = emulator.runtime.enforcer
        self.real = self.enforcer.charge
        self.deletes: Counter[str] = Counter()

    def charge(
        self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]], **when: Any
    ) -> Any:
        if ("delete", "requests", 1) in costs:
            self.deletes[namespace] += 1
        return self.real(index, namespace, costs, **when)


@dataclass
class World:
    emulator: Emulator
    index: str
    policies: Path
    planfile: Path
    report: Path
    spy: DeleteSpy

    def plan(self) -> dict[str, Any]:
        code, out, err = cli("plan", str(self.policies), "--out", str(self.planfile))
        assert code == 0, out + err
        return json.loads(self.planfile.read_text())  # type: ignore[no-any-return]

    def apply(self) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        """Apply the plan file: the summary line (seconds as 0.0), the log events, the report."""
        code, out, err = cli(
            "apply", str(self.planfile), str(self.policies), "--report", str(self.report)
        )
        assert code == 0, out + err
        lines = out.splitlines()
        assert len(lines) == 1, out
        events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        return seconds_zeroed(lines[0]), events, json.loads(self.report.read_text())

    def drop_namespace(self, namespace: str) -> None:
        """Delete a namespace the way anyone with the API key can, between plan and apply."""
        url = f"{self.emulator.index_host(self.index)}/namespaces/{namespace}"
        assert httpx.delete(url, headers={"Api-Key": "test-key"}).status_code == 200

    def left(self, namespace: str) -> set[str]:
        return set(self.emulator.records(self.index, namespace))


def seconds_zeroed(line: str) -> str:
    return re.sub(r" in \d+\.\ds;", " in 0.0s;", line)


def by_namespace(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["namespace"]: a for a in report["actions"]}


@pytest.fixture(scope="module", params=["empty", "not_found"])
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """Both readings of a data-plane call on a missing namespace: empty success, or 404."""
    mode: Literal["empty", "not_found"] = request.param
    with Emulator.start(EmulatorConfig(limits="off", missing_namespace=mode)) as running:
        yield running


def make_world(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rule: dict[str, Any]
) -> World:
    index = fresh_index(emulator, "truth")
    now = time.time()
    seed(emulator, index, {"ns-keep": records(now), "ns-gone": records(now)})
    policies = write_policies(tmp_path / "policies", [policy("tidy", index, ["ns-*"], [rule])])
    spy = DeleteSpy(emulator)
    monkeypatch.setattr(spy.enforcer, "charge", spy.charge)
    return World(emulator, index, policies, tmp_path / "plan.json", tmp_path / "report.json", spy)


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with pointed_at(emulator):
        yield make_world(emulator, tmp_path, monkeypatch, RULES["deleteByFilter"])


@pytest.mark.parametrize("kind", sorted(RULES))
def test_a_namespace_deleted_after_planning_is_reported_gone(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Its action says "namespace gone", deletes nothing and sends no delete; the other
    namespace is applied as planned and counted as what it really deleted."""
    with pointed_at(emulator):
        w = make_world(emulator, tmp_path, monkeypatch, RULES[kind])
        doc = w.plan()
        assert {a["kind"] for a in doc["actions"]} == {kind}
        w.drop_namespace("ns-gone")
        summary, events, report = w.apply()
    n = SELECTED[kind]
    assert summary == (
        f"Applied: {n} records deleted by 1 of 2 actions in 0.0s; 1 verified, 0 pending; "
        f"1 action found its namespace gone since planning ({w.index}/ns-gone): nothing "
        "deleted there."
    )
    actions = by_namespace(report)
    gone, kept = actions["ns-gone"], actions["ns-keep"]
    assert (gone["status"], gone["planned"], gone["deleted"], gone["requests"]) == (
        "namespace-gone",
        n,
        0,
        0,
    )
    assert (kept["status"], kept["planned"], kept["deleted"], kept["verification"]) == (
        "done",
        n,
        n,
        "verified",
    )
    assert report["deleted"] == n
    gone_events = [e for e in events if e["event"] == "action_namespace_gone"]
    assert [{k: e[k] for k in GONE_FIELDS} for e in gone_events] == [
        {
            "action": f"tidy/expire/{w.index}/ns-gone",
            "kind": kind,
            "index": w.index,
            "namespace": "ns-gone",
            "planned": n,
            "deleted": 0,
            "level": "warning",
        }
    ]
    sent = {e.get("action") for e in events if e["event"] in ("delete_request", "delete_batch")}
    assert sent == {f"tidy/expire/{w.index}/ns-keep"}
    assert w.spy.deletes["ns-gone"] == 0
    assert w.left("ns-gone") == set()
    if kind == "deleteNamespace" or kind == "deleteAll":
        assert w.left("ns-keep") == set()
    else:
        assert w.left("ns-keep") == {f"new#{i:03d}" for i in range(NEW)}


def test_a_filtered_delete_counts_what_matched_before_it(world: World) -> None:
    """Five of the 20 planned records were deleted by someone else first: 15 are reported."""
    world.plan()
    url = f"{world.emulator.index_host(world.index)}/vectors/delete"
    ids = [f"old#{i:03d}" for i in range(5)]
    response = httpx.post(
        url, json={"namespace": "ns-keep", "ids": ids}, headers={"Api-Key": "test-key"}
    )
    assert response.status_code == 200
    summary, events, report = world.apply()
    assert (
        summary == "Applied: 35 records deleted by 2 of 2 actions in 0.0s; 2 verified, 0 pending."
    )
    actions = by_namespace(report)
    assert (actions["ns-keep"]["planned"], actions["ns-keep"]["deleted"]) == (OLD, OLD - 5)
    assert (actions["ns-gone"]["planned"], actions["ns-gone"]["deleted"]) == (OLD, OLD)
    applied = {
        e["action"]: (e["planned"], e["deleted"]) for e in events if e["event"] == "action_applied"
    }
    assert applied[f"tidy/expire/{world.index}/ns-keep"] == (OLD, OLD - 5)


def test_a_finished_plan_applied_again_deletes_nothing_and_says_so(world: World) -> None:
    """The second apply sends no delete, prints when the plan finished, and exits 0."""
    world.plan()
    first, _, _ = world.apply()
    assert first == "Applied: 40 records deleted by 2 of 2 actions in 0.0s; 2 verified, 0 pending."
    sent = sum(world.spy.deletes.values())
    journal = json.loads(Path(str(world.planfile) + ".journal").read_text())
    finished = max(entry["finished"] for entry in journal["done"].values())
    fingerprint = journal["plan"]

    second, events, report = world.apply()
    assert second == (
        f"Applied earlier: this plan ({fingerprint[:19]}) finished at {finished}, deleting 40 "
        "records; nothing to do."
    )
    assert sum(world.spy.deletes.values()) == sent
    names = [e["event"] for e in events]
    assert "apply_already_done" in names
    assert not {"apply_started", "delete_request", "delete_batch", "action_applied"} & set(names)
    assert (report["appliedEarlier"], report["deleted"], report["deletedEarlier"]) == (
        True,
        0,
        40,
    )
    assert {a["status"] for a in report["actions"]} == {"applied-earlier"}
    assert {a["earlier"]["finished"] for a in report["actions"]} <= {finished}


def test_a_partly_finished_plan_reports_this_run_and_earlier_runs_apart(world: World) -> None:
    """One action journaled as done by an earlier run: this run does and counts only the
    other one, and names what the earlier runs deleted separately."""
    doc = world.plan()
    keep = f"tidy/expire/{world.index}/ns-keep"
    journal = Path(str(world.planfile) + ".journal")
    journal.write_text(
        json.dumps(
            {
                "plan": doc["fingerprint"],
                "done": {
                    keep: {"deleted": 20, "finished": "2027-01-01T00:00:00Z", "outcome": "done"}
                },
            }
        )
    )
    summary, _, report = world.apply()
    assert summary == (
        "Applied: 20 records deleted by 1 of 2 actions in 0.0s; 1 verified, 0 pending; "
        "earlier runs of this plan deleted 20 records by 1 action."
    )
    assert world.spy.deletes["ns-keep"] == 0
    assert len(world.left("ns-keep")) == OLD + NEW  # the journal is trusted: not redone
    actions = by_namespace(report)
    assert actions["ns-keep"]["status"] == "applied-earlier"
    assert actions["ns-keep"]["earlier"] == {
        "outcome": "done",
        "deleted": 20,
        "finished": "2027-01-01T00:00:00Z",
    }
    assert (report["deleted"], report["deletedEarlier"], report["appliedEarlier"]) == (
        20,
        20,
        False,
    )


def test_a_journal_of_an_earlier_release_still_means_applied_earlier(world: World) -> None:
    """Journals that stored only counts (no finish times) are read; the time is not invented."""
    doc = world.plan()
    done = {a["id"]: a["records"]["count"] for a in doc["actions"]}
    Path(str(world.planfile) + ".journal").write_text(
        json.dumps({"plan": doc["fingerprint"], "done": done})
    )
    summary, _, _ = world.apply()
    assert summary == (
        f"Applied earlier: this plan ({doc['fingerprint'][:19]}) finished earlier, deleting 40 "
        "records; nothing to do."
    )
    assert sum(world.spy.deletes.values()) == 0


def test_a_plan_whose_namespace_went_is_applied_earlier_on_the_next_run(world: World) -> None:
    """A gone namespace is journaled as finished: the next run says so instead of retrying."""
    doc = world.plan()
    world.drop_namespace("ns-gone")
    world.apply()
    summary, _, _ = world.apply()
    journal = json.loads(Path(str(world.planfile) + ".journal").read_text())
    finished = max(entry["finished"] for entry in journal["done"].values())
    assert summary == (
        f"Applied earlier: this plan ({doc['fingerprint'][:19]}) finished at {finished}, deleting "
        "20 records, 1 namespace found gone; nothing to do."
    )
