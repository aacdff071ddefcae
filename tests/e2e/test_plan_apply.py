"""Plan and apply the example policies against the emulator, checked against plain Python."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.cli import main
from retention.planning.plan import parse_time
from tests.e2e import dataset
from tests.e2e.conftest import POLICIES, Seeded, remaining


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["plan", str(POLICIES), "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_plan_counts_match_an_independent_computation(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every action's count equals what plain Python computes from the seeded data."""
    doc = plan_json(capsys)
    expect = dataset.expected(seeded.data, parse_time(doc["asOf"]))  # type: ignore[arg-type]
    actions = doc["actions"]
    got = {(a["policy"], a["rule"], a["index"], a["namespace"]): a for a in actions}  # type: ignore[union-attr]
    assert set(got) == set(expect)
    for key, ids in expect.items():
        assert got[key]["records"]["count"] == len(ids), key
        assert set(got[key]["samples"]) <= ids, key
    kinds = {key[:2]: a["kind"] for key, a in got.items()}
    assert kinds[("support-tickets", "expire-tickets")] == "deleteByFilter"
    assert kinds[("gdpr-erasure", "erasure-requests-2026-11")] == "deleteByIds"
    assert kinds[("knowledge-base", "drop-retracted-doc-123")] == "deleteByIds"
    assert kinds[("scratch-purge", "purge-scratch")] == "deleteAll"
    assert kinds[("assistant-transcripts", "expire-transcripts")] == "deleteByFilter"
    methods = {a["index"]: a["records"]["method"] for a in actions if a["kind"] == "deleteByFilter"}  # type: ignore[index]
    assert methods == {
        "support-prod": "dryRunCount",
        "kb-prod": "dryRunCount",
        "assistant-docs": "filteredFetch",
    }
    assert doc["unmatchedNamespaces"] == [{"index": "kb-prod", "namespace": "archive"}]
    assert {p["name"]: p["status"] for p in doc["policies"]} == {  # type: ignore[union-attr]
        "assistant-transcripts": "ready",
        "gdpr-erasure": "ready",
        "knowledge-base": "ready",
        "scratch-purge": "ready",
        "support-tickets": "ready",
    }
    union = set().union(*({(k[2], k[3], i) for i in ids} for k, ids in expect.items()))
    assert doc["totals"]["records"] == len(union)  # type: ignore[index]


def test_apply_deletes_exactly_the_plan_and_replan_is_empty(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After apply the index holds what it held minus the planned set; re-planning finds nothing."""
    planfile = tmp_path / "plan.json"
    assert main(["plan", str(POLICIES), "--out", str(planfile), "--detailed-exitcode"]) == 2
    capsys.readouterr()
    doc = json.loads(planfile.read_text())
    expect = dataset.expected(seeded.data, parse_time(doc["asOf"]))
    before = remaining(seeded.emulator, seeded.data)
    report = tmp_path / "report.json"
    assert main(["apply", str(planfile), str(POLICIES), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out
    after = remaining(seeded.emulator, seeded.data)
    deleted = {key: before[key] - after[key] for key in before}
    for (index, ns), gone in deleted.items():
        wanted = set().union(*(ids for k, ids in expect.items() if (k[2], k[3]) == (index, ns)))
        assert gone == wanted, (index, ns)
    result = json.loads(report.read_text())
    assert all(a["verification"] == "verified" for a in result["actions"])
    on_documents = [a for a in result["actions"] if a["index"] == "assistant-docs"]
    assert on_documents and all(a["countedBy"] == "matched-records" for a in on_documents)
    assert sum(a["deleted"] for a in on_documents) == sum(
        len(ids) for k, ids in expect.items() if k[2] == "assistant-docs"
    )
    assert main(["plan", str(POLICIES), "--detailed-exitcode"]) == 0
    assert "Plan: nothing to delete." in capsys.readouterr().out


def test_plan_at_a_later_time(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    """--at plans what will have expired by then, with that moment as asOf."""
    later = "2099-01-01T00:00:00Z"
    doc = plan_json(capsys, "--at", later)
    assert doc["asOf"] == later
    expect = dataset.expected(seeded.data, datetime(2099, 1, 1, tzinfo=UTC))
    for a in doc["actions"]:  # type: ignore[union-attr]
        assert a["records"]["count"] == len(
            expect[(a["policy"], a["rule"], a["index"], a["namespace"])]
        )
