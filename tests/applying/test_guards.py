"""Stale plans and tripped guards: each refusal is exit 1 and one line on stderr.

A plan that is stale, edited, blocked or made from other policies deletes nothing. A guard
weighed on fresh counts refuses the namespace it is about, just before that namespace's first
delete; the other namespaces go as reviewed, and caps never let the run go past a limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import policy, seed, write_policies

DAY = 86_400
NS = ("ns-a", "ns-b")


def records(start: int, n: int, *, age_days: int, now: float) -> dict[str, dict[str, Any]]:
    return {
        f"doc#{i:05d}": {"created_at": int(now - age_days * DAY), "kind": "ticket"}
        for i in range(start, start + n)
    }


@dataclass
class Setup:
    emulator: Emulator
    index: str
    policies: Path
    planfile: Path
    ids_file: Path

    def plan(self, *args: str) -> dict[str, Any]:
        code, out, err = cli("plan", str(self.policies), "--out", str(self.planfile), *args)
        assert code == 0, out + err
        return json.loads(self.planfile.read_text())  # type: ignore[no-any-return]

    def state(self) -> dict[str, set[str]]:
        return snapshot(self.emulator, self.index, NS)

    def add(self, ns: str, start: int, n: int) -> None:
        seed(self.emulator, self.index, {ns: records(start, n, age_days=100, now=time.time())})

    def refused(self, *args: str, planfile: Path | None = None) -> str:
        """Apply; assert exit 1, one line on stderr and no record deleted; return the line."""
        before = self.state()
        code, out, err = cli("apply", str(planfile or self.planfile), str(self.policies), *args)
        assert code == 1, out + err
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("retention: error: "), err
        assert self.state() == before
        return lines[0]

    def refused_in(self, untouched: str, *args: str) -> tuple[str, dict[str, set[str]]]:
        """Apply; assert exit 1 and one error line; the namespace `untouched` keeps every
        record (its checks refused it just before its first delete), while the others were
        applied. Return the error line and what was there before."""
        before = self.state()
        code, out, err = cli("apply", str(self.planfile), str(self.policies), *args)
        assert code == 1, out + err
        lines = [line for line in err.splitlines() if not line.startswith("{")]
        assert len(lines) == 1 and lines[0].startswith("retention: error: "), err
        after = self.state()
        assert after[untouched] == before[untouched]
        for ns in NS:
            if ns != untouched:
                assert after[ns] < before[ns], ns
        return lines[0], before


def write(setup_dir: Path, index: str, **limits: Any) -> Path:
    """An expiry policy (with optional limits) and an ID-file erasure policy."""
    docs = [
        policy(
            "expire",
            index,
            ["ns-*"],
            [{"name": "old", "olderThan": "30d", "field": "created_at"}],
            **({"limits": limits} if limits else {}),
        ),
        policy("erase", index, ["ns-b"], [{"name": "listed", "idsFile": "erase.txt"}]),
    ]
    return write_policies(setup_dir, docs)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """ns-a: 40 expired and 60 fresh records; ns-b: 10 expired, 40 fresh, 5 listed for erasure."""
    with Emulator.start(EmulatorConfig(limits="off")) as emulator, pointed_at(emulator):
        index = fresh_index(emulator, "guard")
        now = time.time()
        seed(
            emulator,
            index,
            {
                "ns-a": records(0, 40, age_days=100, now=now)
                | records(40, 60, age_days=1, now=now),
                "ns-b": records(0, 10, age_days=100, now=now)
                | records(10, 45, age_days=1, now=now),
            },
        )
        policies = tmp_path / "policies"
        ids_file = policies / "erase.txt"
        write(policies, index)
        ids_file.write_text("".join(f"doc#{i:05d}\n" for i in range(50, 55)))
        yield Setup(emulator, index, policies, tmp_path / "plan.json", ids_file)


def test_a_plan_older_than_max_age(setup: Setup) -> None:
    """A plan made two hours ago is refused with --max-age 1h."""
    then = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
    setup.plan("--at", then)
    line = setup.refused("--max-age", "1h")
    assert "the plan is stale" in line and "expire after 1h" in line


def test_a_plan_dated_in_the_future(setup: Setup) -> None:
    """A plan made with --at in the future is for reading, not applying."""
    setup.plan("--at", "2099-01-01T00:00:00Z")
    assert "the plan is dated in the future (2099-01-01T00:00:00Z)" in setup.refused()


def test_policies_edited_after_planning(setup: Setup) -> None:
    """Editing a policy after planning changes the digest the plan was made from."""
    setup.plan()
    write(setup.policies, setup.index, maxRecords=1_000_000)
    assert "the policies changed since the plan was made" in setup.refused()


def test_an_id_file_changed_after_planning(setup: Setup) -> None:
    """An ID file edited after planning is refused before anything is deleted."""
    setup.plan()
    setup.ids_file.write_text("doc#00050\ndoc#00011\n")
    line = setup.refused()
    assert f"ID file {setup.ids_file} changed since the plan was made" in line


def test_a_tampered_plan_file(setup: Setup) -> None:
    """Raising a count in the plan file breaks its fingerprint."""
    doc = setup.plan()
    doc["actions"][0]["records"]["count"] += 1000
    setup.planfile.write_text(json.dumps(doc))
    assert "the plan file was modified after it was made" in setup.refused()


def test_an_edited_index_host(setup: Setup) -> None:
    """Pointing the plan at another host by editing it is tampering too."""
    doc = setup.plan()
    doc["indexes"][0]["host"] = "https://elsewhere.example.com"
    setup.planfile.write_text(json.dumps(doc))
    assert "the plan file was modified after it was made" in setup.refused()


def test_an_index_that_answers_at_another_host(setup: Setup) -> None:
    """The same index name served from another host (recreated, moved) is refused.

    The emulator derives hosts from the index name, so recreating the index keeps its host; a
    second emulator serving the same index and records stands in for the recreated one.
    """
    setup.plan()
    with Emulator.start(EmulatorConfig(limits="off")) as other:
        other.create_index(setup.index, 2)
        held = {ns: setup.emulator.records(setup.index, ns) for ns in NS}
        seed(
            other,
            setup.index,
            {ns: {i: r.metadata for i, r in rs.items()} for ns, rs in held.items()},
        )
        with pointed_at(other):
            code, out, err = cli("apply", str(setup.planfile), str(setup.policies))
            assert code == 1, out + err
            assert len(err.splitlines()) == 1, err
            assert f"index '{setup.index}' now answers at {other.index_host(setup.index)}" in err
            assert {ns: set(other.records(setup.index, ns)) for ns in NS} == {
                ns: set(setup.emulator.records(setup.index, ns)) for ns in NS
            }


def test_a_selection_that_grew_beyond_tolerance(setup: Setup) -> None:
    """Ten matching records added to ns-a after planning (40 planned, 10% tolerance): ns-a is
    refused just before its first delete, ns-b goes as reviewed."""
    setup.plan()
    setup.add("ns-a", 1000, 10)
    line, _ = setup.refused_in("ns-a")
    assert "expire/old in" in line and "now selects 50 records, 10 more than the 40 planned" in line
    assert "(tolerance 10%); nothing was deleted there" in line


def test_max_records_breached_on_recount(setup: Setup) -> None:
    """Within tolerance, but the recounts take the policy over its maxRecords: the namespace
    that would cross it is not touched, and the policy never deletes more than 52."""
    write(setup.policies, setup.index, maxRecords=52)
    setup.plan()
    setup.add("ns-b", 1000, 5)
    before = setup.state()
    code, out, err = cli("apply", str(setup.planfile), str(setup.policies), "--tolerance", "100")
    assert code == 1, out + err
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, err
    assert "over its maxRecords 52; nothing was deleted there" in lines[0]
    after = setup.state()
    listed = set(setup.ids_file.read_text().split())
    expired = [rid for ns in NS for rid in before[ns] - after[ns] if rid not in listed]
    assert 0 < len(expired) <= 52


def test_max_percent_breached_on_recount(setup: Setup) -> None:
    """ns-a: 40 of 100 planned (40%), 20 more expired records make it 60 of 120 (50%)."""
    write(setup.policies, setup.index, maxPercent=45)
    setup.plan()
    setup.add("ns-a", 1000, 20)
    line, _ = setup.refused_in("ns-a", "--tolerance", "100")
    assert (
        "policy 'expire' would delete" in line
        and "of namespace 'ns-a', over its maxPercent 45" in line
    )


def test_max_records_for_the_run(setup: Setup) -> None:
    """--max-records caps the whole run as it goes (40 + 10 expired + 5 listed = 55 over 54):
    what would cross it is not sent, and the run deletes at most 54."""
    setup.plan()
    before = setup.state()
    code, out, err = cli("apply", str(setup.planfile), str(setup.policies), "--max-records", "54")
    assert code == 1, out + err
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "this apply reached --max-records 54 after" in lines[0], err
    after = setup.state()
    assert 0 < sum(len(before[ns] - after[ns]) for ns in NS) <= 54


def test_a_plan_with_a_blocked_policy(setup: Setup) -> None:
    """A policy over its maxRecords at planning time is BLOCKED, and apply refuses the plan."""
    write(setup.policies, setup.index, maxRecords=10)
    doc = setup.plan()
    assert {p["name"]: p["status"] for p in doc["policies"]}["expire"] == "blocked"
    line = setup.refused()
    assert "policy 'expire' is blocked by its guards in this plan" in line
    assert "nothing was deleted" in line


def test_the_same_plan_applies_when_nothing_changed(setup: Setup) -> None:
    """The control: the unchanged plan applies and deletes the 55 planned records."""
    setup.plan()
    before = setup.state()
    code, out, err = cli("apply", str(setup.planfile), str(setup.policies))
    assert code == 0, out + err
    assert sum(len(before[ns] - setup.state()[ns]) for ns in NS) == 55
