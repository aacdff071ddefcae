"""`retention plan` and `apply` on a document index (API 2026-07), under each setting of the
documents API's undocumented corners: exactly the expected documents go, every protected and
held one stays, and the report says how each count is known."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.planning.plan import parse_time
from tests.applying.conftest import OTHER_READINGS
from tests.builders import DOCUMENT_SCHEMA, hold, policy, ttl_rule, write_policies
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import DAY, run_cli

BASE = EmulatorConfig(limits="off")
SETTINGS: dict[str, EmulatorConfig] = {
    "defaults": BASE,
    "pinecone-limits": replace(BASE, limits="pinecone"),
    "matched-records-omitted": replace(BASE, matched_records="omitted"),
    "json-edge-errors-and-faults": replace(
        BASE, documents_edge_errors="json", fault_rate=0.15, seed=7, retry_after=True
    ),
    "plain-text-faults": replace(BASE, fault_rate=0.15, seed=11),
    "other-filter-readings": replace(BASE, readings=OTHER_READINGS),
    "never-created-namespaces-404": replace(BASE, missing_namespace="never_created"),
    "emptied-namespaces-404": replace(BASE, missing_namespace="not_found"),
    "visibility-lag": replace(BASE, lag_ms=300),
    "request-ids": replace(BASE, documents_request_id=True),
    "old-versions-hide-documents": replace(BASE, old_version_documents="hide"),
}


def transcripts(region: str, n: int) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for i in range(n):
        meta: dict[str, Any] = {"ended_at": int(NOW - (i % 60 + 0.5) * DAY)}
        if i % 7 == 0:
            meta["review"] = True
        if i % 5 == 0:
            meta["case"] = "C-1" if i % 2 else "C-2"
        if i % 31 == 0:
            del meta["ended_at"]
        docs[f"{region}-{i:04d}"] = meta
    return docs


NOW = time.time()
"""Documents end relative to the start of the run: an apply takes only plans of the present."""
DATA = {"conv-eu": transcripts("eu", 240), "conv-us": transcripts("us", 120)}


def expected_kept(as_of: float) -> dict[str, set[str]]:
    """Plain Python: older than 30 days, not under review, not held (case C-1 in conv-eu)."""
    kept: dict[str, set[str]] = {}
    for ns, docs in DATA.items():
        kept[ns] = {
            rid
            for rid, m in docs.items()
            if not isinstance(m.get("ended_at"), int)
            or m["ended_at"] >= as_of - 30 * DAY
            or m.get("review") is True
            or (ns == "conv-eu" and m.get("case") == "C-1")
        }
    kept["conv-us"] -= {"us-0001", "us-0002"}  # named by the erasure rule
    return kept


def policies(tmp_path: Path) -> Path:
    docs = [
        policy(
            "transcripts",
            "docs",
            ["conv-*"],
            [
                ttl_rule("expire", "30d", field="ended_at"),
                {"name": "erase", "ids": ["us-0001", "us-0002", "us-0007"]},
            ],
            protect=[{"review": True}],
        ),
        hold("case-c1", "docs", ["conv-eu"], [{"case": {"$in": ["C-1"]}}]),
    ]
    return write_policies(tmp_path / "policies", docs)


def seeded(emulator: Emulator) -> None:
    emulator.create_document_index("docs", DOCUMENT_SCHEMA)
    for ns, docs in DATA.items():
        emulator.upsert_documents(
            "docs",
            ns,
            (
                {"_id": rid, "emb": [0.1, 0.2], "body": "a conversation", **m}
                for rid, m in docs.items()
            ),
        )


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_plan_and_apply_a_document_index(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
) -> None:
    with Emulator.start(SETTINGS[setting]) as emulator:
        seeded(emulator)
        point_cli_at(monkeypatch, emulator)
        folder = policies(tmp_path)
        planfile, report = tmp_path / "plan.json", tmp_path / "report.json"
        made = run_cli(capsys, "plan", str(folder), "--out", str(planfile))
        assert made.code == 0, made.err
        plan = json.loads(planfile.read_text())
        filtered = [a for a in plan["actions"] if a["kind"] == "deleteByFilter"]
        assert filtered and all(a["records"]["method"] == "filteredFetch" for a in filtered)
        run = run_cli(
            capsys, "apply", str(planfile), str(folder), "--report", str(report), "--ignore-windows"
        )
        assert run.code == 0, run.err
        left = {ns: set(emulator.records("docs", ns)) for ns in DATA}
    assert left == expected_kept(parse_time(plan["asOf"]).timestamp())
    assert plan["totals"]["records"] == sum(len(d) for d in DATA.values()) - sum(
        len(k) for k in left.values()
    )
    done = json.loads(report.read_text())["actions"]
    by_filter = {a["countedBy"] for a in done if a["kind"] == "deleteByFilter"}
    omitted = setting == "matched-records-omitted"
    assert by_filter == ({"count-before-delete"} if omitted else {"matched-records"})
    assert all(a["verification"] == "verified" for a in done)


def test_a_rule_on_a_schema_field_is_one_line_and_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TTL on the searchable text (a careless copy from a vector index's policy): refused at
    its line, before anything is counted, for plan and apply alike."""
    with Emulator.start(BASE) as emulator:
        seeded(emulator)
        point_cli_at(monkeypatch, emulator)
        folder = write_policies(
            tmp_path / "policies",
            [policy("bad", "docs", ["conv-*"], [ttl_rule("expire", "1d", field="body")])],
        )
        for argv in (["plan", str(folder)], ["apply", str(folder), "--auto-approve"]):
            run = run_cli(capsys, *argv)
            assert run.code == 1
            [line] = run.messages
            assert "policies.yaml:" in line and "'body', a string field" in line
            assert "Traceback" not in run.err
        assert sum(len(emulator.records("docs", ns)) for ns in DATA) == 360
