"""Planning on a document index: counts are named for how they are made, and a rule, a
protection or a hold that filters on a field of the index's schema is refused at its line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from retention.errors import PolicyErrors
from retention.planning.inventory import IndexKind
from retention.planning.plan import Plan
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import load_policies
from tests.builders import hold, policy, ttl_rule, where_rule, write_policies
from tests.planning.memory import MemoryInventory

from .test_planner import DAY, NOW

DOCUMENTS = IndexKind(documents=True, data_fields={"emb": "dense_vector", "body": "string"})


def inventory() -> MemoryInventory:
    records = {
        f"r{i}": {"created_at": NOW.timestamp() - i * DAY, "source": "chat"} for i in range(40)
    }
    return MemoryInventory({"docs": {"t-1": records}}, kinds={"docs": DOCUMENTS})


def plan_of(tmp_path: Path, *docs: dict[str, object], inv: MemoryInventory | None = None) -> Plan:
    loaded = load_policies([write_policies(tmp_path / "policies", docs)])
    return asyncio.run(
        make_plan(loaded, inv or inventory(), now=NOW, options=PlanOptions(tool_version="test"))
    )


def test_a_filtered_delete_on_a_document_index_is_counted_by_filtered_fetch(
    tmp_path: Path,
) -> None:
    plan = plan_of(tmp_path, policy("p", "docs", ["t-*"], [ttl_rule("old", "10d")]))
    [action] = plan.actions
    assert (action.kind, action.records, action.count_method) == (
        "deleteByFilter",
        29,
        "filteredFetch",
    )


@pytest.mark.parametrize(
    ("doc", "field", "what"),
    [
        (policy("p", "docs", ["t-*"], [ttl_rule("old", "10d", field="body")]), "body", "rule"),
        (policy("p", "docs", ["t-*"], [where_rule("w", emb=1)]), "emb", "rule"),
        (
            policy("p", "docs", ["t-*"], [ttl_rule("old", "10d")], protect=[{"body": "x"}]),
            "body",
            "protection",
        ),
    ],
)
def test_a_filter_on_a_schema_field_is_refused_at_its_line(
    tmp_path: Path, doc: dict[str, object], field: str, what: str
) -> None:
    with pytest.raises(PolicyErrors) as raised:
        plan_of(tmp_path, doc)
    [problem] = raised.value.errors
    assert problem.location.path.endswith(".yaml") and problem.location.line > 1
    assert f"this {what} filters on '{field}'" in problem.message
    assert "document index 'docs'" in problem.message


def test_a_hold_on_a_schema_field_is_refused(tmp_path: Path) -> None:
    docs = (
        policy("p", "docs", ["t-*"], [ttl_rule("old", "10d")]),
        hold("h", "docs", ["t-*"], [{"body": {"$eq": "secret"}}]),
    )
    with pytest.raises(PolicyErrors, match="this hold filters on 'body'"):
        plan_of(tmp_path, *docs)


def test_the_same_fields_are_metadata_on_a_vector_index(tmp_path: Path) -> None:
    """Only a document index's schema reserves names: elsewhere `body` is plain metadata."""
    inv = MemoryInventory({"vec": {"t-1": {"a": {"body": "x"}}}})
    plan = plan_of(tmp_path, policy("p", "vec", ["t-*"], [where_rule("w", body="x")]), inv=inv)
    assert [a.count_method for a in plan.actions] == ["dryRunCount"]
