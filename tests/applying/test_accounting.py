"""Every record deleted counts once: in the summary line, the report and the journal.

Two rules of a namespace often select some of the same records (an expiry and a cleanup of
drafts, an erasure list and a prefix). Pinecone's filtered delete answers `{}`, so the count
of what both select together is taken once, as their union, and the later action is credited
only with what the earlier one did not take; an ID sent by one action is not sent again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator
from tests.applying.world import cli, fresh_index, pointed_at
from tests.builders import policy, seed, write_policies

OLD = time.time() - 90 * 86_400
NEW = time.time()


def _world(emulator: Emulator, tmp_path: Path, rules: list[dict[str, Any]]) -> tuple[str, Path]:
    index = fresh_index(emulator, "acct")
    data: dict[str, dict[str, Any]] = {}
    data |= {f"old-{i}": {"created_at": OLD, "kind": "ticket"} for i in range(30)}
    data |= {f"old-draft-{i}": {"created_at": OLD, "kind": "draft"} for i in range(12)}
    data |= {f"new-draft-{i}": {"created_at": NEW, "kind": "draft"} for i in range(8)}
    data |= {f"keep-{i}": {"created_at": NEW, "kind": "ticket"} for i in range(50)}
    seed(emulator, index, {"ns": data})
    return index, write_policies(tmp_path / "policies", [policy("p", index, ["ns"], rules)])


FILTERS = [
    {"name": "ttl", "olderThan": "30d", "field": "created_at"},
    {"name": "drafts", "where": {"kind": {"$eq": "draft"}}},
]


@pytest.mark.parametrize("mode", ["planfile", "auto-approve"])
def test_two_filters_that_share_records_count_them_once(
    emulators: tuple[Emulator, Emulator], tmp_path: Path, mode: str
) -> None:
    """42 expired + 20 drafts, 12 of them both: 50 records, in every figure."""
    emulator, _ = emulators
    index, policies = _world(emulator, tmp_path, FILTERS)
    report = tmp_path / "report.json"
    with pointed_at(emulator):
        if mode == "planfile":
            planfile = tmp_path / "plan.json"
            code, out, err = cli("plan", str(policies), "--out", str(planfile))
            assert code == 0, err
            assert "Plan: 50 records to delete" in out
            code, out, err = cli("apply", str(planfile), str(policies), "--report", str(report))
            journal = json.loads((tmp_path / "plan.json.journal").read_text())
            assert sum(e["deleted"] for e in journal["done"].values()) == 50
        else:
            code, out, err = cli("apply", str(policies), "--auto-approve", "--report", str(report))
    assert code == 0, err
    assert "Applied: 50 records deleted by 2 of 2 actions" in out
    doc = json.loads(report.read_text())
    assert doc["deleted"] == 50
    assert sorted(a["deleted"] for a in doc["actions"]) == [8, 42]
    counted = "count-before-delete" if mode == "planfile" else "plan-moments-before"
    assert [a["countedBy"] for a in doc["actions"]] == [counted, counted]
    assert [a["verifiedRecords"] for a in doc["actions"]] == [a["deleted"] for a in doc["actions"]]
    assert set(emulator.records(index, "ns")) == {f"keep-{i}" for i in range(50)}


def test_an_id_two_actions_select_is_sent_and_counted_once(
    emulators: tuple[Emulator, Emulator], tmp_path: Path
) -> None:
    """An erasure list naming five of the prefix's records: 30 records, each sent once."""
    emulator, _ = emulators
    rules = [
        {"name": "listed", "ids": [f"old-{i}" for i in range(5)]},
        {"name": "prefix", "idPrefix": "old-"},
    ]
    index, policies = _world(emulator, tmp_path, rules)
    planfile, report = tmp_path / "plan.json", tmp_path / "report.json"
    with pointed_at(emulator):
        code, out, err = cli("plan", str(policies), "--out", str(planfile))
        assert code == 0, err
        code, out, err = cli("apply", str(planfile), str(policies), "--report", str(report))
    assert code == 0, err
    doc = json.loads(report.read_text())
    assert doc["deleted"] == 42
    assert [a["countedBy"] for a in doc["actions"]] == ["ids-sent", "ids-sent"]
    assert "Applied: 42 records deleted by 2 of 2 actions" in out
    assert not any(i.startswith("old-") for i in emulator.records(index, "ns"))
