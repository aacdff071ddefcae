"""Golden tests of the three renderers on a fixed plan, and the plan document's schema."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from retention.filters import And, Compare
from retention.planning.plan import (
    Action,
    ByFilter,
    ByIds,
    EveryRecord,
    Guard,
    IdFile,
    Overlap,
    Plan,
    PolicyResult,
    Sources,
    Totals,
    Window,
    from_document,
    to_document,
)
from retention.planning.render import plan_json, render_json, render_markdown, render_text
from retention.policy.schema import load_schema

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("RETENTION_UPDATE_GOLDEN") == "1"


def fixed_plan() -> Plan:
    """A plan that exercises every part of the renderers."""
    ttl = Action(
        policy="support-tickets",
        rule="expire-tickets",
        index="support-prod",
        namespace="tenant-acme",
        deletes=ByFilter(
            And((Compare("created_at", "$lt", 1787713200), Compare("source", "$eq", "zendesk")))
        ),
        records=45_000,
        count_method="dryRunCount",
        namespace_records=120_000,
        condition='created_at < 2026-08-26T03:00:00Z and source == "zendesk" and '
        "(legal_hold is missing or legal_hold != true)",
        samples=("t-1", "t-2", "t-3"),
        requests=1,
        seconds=0.2,
    )
    erasure = Action(
        policy="gdpr-erasure",
        rule="erasure-requests",
        index="support-prod",
        namespace="tenant-acme",
        deletes=ByIds(
            IdFile("policies/erasure/2026-11.txt", "ab" * 32),
            protect=(Compare("legal_hold", "$eq", True),),
        ),
        records=6,
        count_method="enumeration",
        namespace_records=120_000,
        condition="the 6 IDs in policies/erasure/2026-11.txt",
        samples=("user-1001#msg-1",),
        requests=2,
        seconds=0.0012,
    )
    nothing = Action(
        policy="support-tickets",
        rule="expire-chat",
        index="support-prod",
        namespace="tenant-globex",
        deletes=ByFilter(Compare("created_at", "$lt", 1792810800)),
        records=0,
        count_method="dryRunCount",
        namespace_records=800,
        condition="created_at < 2026-10-25T03:00:00Z",
    )
    scratch = Action(
        policy="scratch-purge",
        rule="purge-scratch",
        index="kb-prod",
        namespace="scratch-7",
        deletes=EveryRecord(),
        records=2_500_000,
        count_method="namespaceStats",
        namespace_records=2_500_000,
        condition="every record: all 2,500,000 records",
        requests=1,
    )
    return Plan(
        as_of=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        tool_version="0.1.0",
        sources=Sources(("policies/support.yaml",), "sha256:" + "1" * 64, "0123456789abcdef"),
        index_hosts={
            "support-prod": "support-prod-abc.svc.pinecone.io",
            "kb-prod": "kb-prod-def.svc.pinecone.io",
        },
        actions=(ttl, erasure, nothing, scratch),
        policies=(
            PolicyResult(
                "support-tickets",
                "ready",
                45_000,
                (Guard("maxRecords", 100_000, 45_000, True),),
                overdue=45_000,
                window=Window(
                    False,
                    opens=datetime(2026, 11, 30, 22, tzinfo=UTC),
                    closes=None,
                    text="allow 0 22 * * * for 6h (UTC)",
                ),
            ),
            PolicyResult("gdpr-erasure", "ready", 6),
            PolicyResult(
                "scratch-purge",
                "blocked",
                2_500_000,
                (Guard("maxPercent", 25, 100, False, "scratch-7"),),
                "it would delete 100% of namespace 'scratch-7', over maxPercent 25",
            ),
        ),
        overlaps=(Overlap("support-prod", "tenant-acme", (ttl.id, erasure.id), 2),),
        unmatched_namespaces=(("support-prod", "archive"),),
        totals=Totals(45_004, 1, 1, 2, 3, 0.2),
    )


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("plan.txt", lambda p: render_text(p)),
        ("plan-color.txt", lambda p: render_text(p, color=True)),
        ("plan.md", render_markdown),
        ("plan.json", render_json),
    ],
)
def test_golden(name: str, render: object) -> None:
    """Each renderer's output for the fixed plan is exactly the reviewed golden file."""
    text = render(fixed_plan())  # type: ignore[operator]
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


def test_the_plan_file_is_its_document_with_one_action_a_line() -> None:
    """The plan file reads back as exactly its document, the top level indented and every
    action, policy and overlap on a line of its own."""
    doc = to_document(fixed_plan())
    text = plan_json(doc)
    assert json.loads(text) == doc
    lines = text.splitlines()
    for action in doc["actions"]:
        assert f"    {json.dumps(action, separators=(', ', ': '))}" in {
            ln.rstrip(",") for ln in lines
        }
    assert lines[0] == "{" and lines[-1] == "}"
    assert all(ln.startswith("  ") for ln in lines[1:-1])
    assert plan_json({"a": [], "b": {"c": [1]}, "d": "x"}) == (
        '{\n  "a": [],\n  "b": {\n    "c": [\n      1\n    ]\n  },\n  "d": "x"\n}\n'
    )


def test_plan_document_matches_its_schema() -> None:
    """The JSON document validates against schemas/plan.v1.json and reads back unchanged."""
    doc = to_document(fixed_plan())
    Draft202012Validator(load_schema("plan.v1.json"), format_checker=FormatChecker()).validate(doc)
    assert to_document(from_document(doc)) == doc
