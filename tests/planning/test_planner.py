"""The planner against an in-memory index: strategies, exact counts, guards and overlaps."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from retention.errors import NotFound, PlanError
from retention.filters import Filter, Semantics
from retention.planning.forms import FALLBACK_NOTE
from retention.planning.plan import (
    InvalidTimestamps,
    Plan,
    deletion_document,
    from_document,
    to_document,
)
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import PolicySet, load_policies
from tests import builders
from tests.builders import yaml_text
from tests.planning.memory import MemoryInventory

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
DAY = 86400


def policies(tmp_path: Path, *docs: Mapping[str, Any]) -> PolicySet:
    for i, doc in enumerate(docs):
        (tmp_path / f"p{i}.yaml").write_text(yaml_text(doc))
    return load_policies([tmp_path])


def plan(inv: MemoryInventory, loaded: PolicySet, now: datetime = NOW) -> Plan:
    return asyncio.run(make_plan(loaded, inv, now=now, options=PlanOptions(tool_version="test")))


def policy(
    *rules: Mapping[str, Any], name: str = "p", include: Sequence[str] = ("t-*",), **spec: Any
) -> dict[str, Any]:
    """A policy on index `idx`, under the default guard unless `limits` is given."""
    return builders.policy(name, "idx", include, rules, limits=spec.pop("limits", None), **spec)


def tickets(n: int, *, start: float = 0) -> dict[str, dict[str, object]]:
    """n records, one a day back from NOW; every 10th held, every 7th without a timestamp."""
    records: dict[str, dict[str, object]] = {}
    for i in range(n):
        meta: dict[str, object] = {
            "source": "zendesk" if i % 2 else "chat",
            "tags": ["a", f"t{i % 3}"],
        }
        if i % 7:
            meta["created_at"] = NOW.timestamp() - (start + i) * DAY
        if i % 10 == 0:
            meta["legal_hold"] = True
        records[f"ticket-{i:04d}"] = meta  # type: ignore[assignment]
    return records


TTL = {"name": "ttl", "olderThan": "90d", "field": "created_at"}
CHAT = {"name": "chat", "where": {"source": "chat"}}
HELD = [{"legal_hold": True}]


def expected_ttl(
    records: dict[str, dict[str, object]], days: int = 90, held: bool = True
) -> set[str]:
    cutoff = (NOW - timedelta(days=days)).timestamp()
    return {
        i
        for i, m in records.items()
        if isinstance(m.get("created_at"), float)
        and m["created_at"] < cutoff  # type: ignore[operator]
        and not (held and m.get("legal_hold") is True)
    }


def test_ttl_with_protection_is_one_filtered_delete_with_an_exact_count(tmp_path: Path) -> None:
    """A TTL rule with a protection becomes one deleteByFilter whose count matches the data."""
    data = {"t-a": tickets(200), "t-b": tickets(50)}
    inv = MemoryInventory({"idx": data})
    loaded = policies(tmp_path, policy(TTL, protect=[{"legal_hold": True}]))
    result = plan(inv, loaded)
    assert [(a.namespace, a.kind, a.records) for a in result.actions] == [
        ("t-a", "deleteByFilter", len(expected_ttl(data["t-a"]))),
        ("t-b", "deleteByFilter", 0),
    ]
    action = result.actions[0]
    assert action.condition == (
        "created_at < 2026-08-26T03:00:00Z and (legal_hold is missing or legal_hold != true)"
    )
    assert deletion_document(action.deletes)["filter"] == {
        "$and": [
            {"created_at": {"$lt": int((NOW - timedelta(days=90)).timestamp())}},
            {"$or": [{"legal_hold": {"$exists": False}}, {"legal_hold": {"$ne": True}}]},
        ]
    }
    assert set(action.samples) <= expected_ttl(data["t-a"]) and len(action.samples) == 5
    assert result.totals.records == len(expected_ttl(data["t-a"]))
    assert result.totals.namespaces == 1 and result.totals.indexes == 1


def test_at_plans_for_another_moment(tmp_path: Path) -> None:
    """Planning as of a later time selects what will have expired by then."""
    data = {"t-a": tickets(200)}
    loaded = policies(tmp_path, policy(TTL, protect=[{"legal_hold": True}]))
    later = NOW + timedelta(days=30)
    result = plan(MemoryInventory({"idx": data}), loaded, now=later)
    cutoff = (later - timedelta(days=90)).timestamp()
    expected = {
        i
        for i, m in data["t-a"].items()
        if "created_at" in m and m["created_at"] < cutoff and "legal_hold" not in m  # type: ignore[operator]
    }
    assert result.actions[0].records == len(expected)
    assert result.as_of == later


def test_string_protection_on_a_list_field_falls_back_to_ids(tmp_path: Path) -> None:
    """When $ne on a list field would leak protected records, the planner proves it and
    enumerates instead; protected records are never in the plan."""
    data = {"t-a": tickets(100)}
    inv = MemoryInventory({"idx": data}, semantics=Semantics(list_negation="any_differs"))
    loaded = policies(tmp_path, policy(TTL, protect=[{"tags": "t1"}]))
    action = plan(inv, loaded).actions[0]
    assert action.kind == "deleteByIds"
    assert action.notes == (FALLBACK_NOTE,)
    expected = {
        i for i in expected_ttl(data["t-a"], held=False) if "t1" not in data["t-a"][i]["tags"]
    }  # type: ignore[operator]
    assert action.records == len(expected)
    assert deletion_document(action.deletes)["clientCheck"]["protect"] == [{"tags": {"$eq": "t1"}}]


def test_string_protection_folds_when_pinecone_proves_it_exact(tmp_path: Path) -> None:
    """With list semantics where the fold is exact, the same policy stays one filtered delete."""
    data = {"t-a": tickets(100)}
    inv = MemoryInventory({"idx": data}, semantics=Semantics(list_negation="none_equal"))
    loaded = policies(tmp_path, policy(TTL, protect=[{"tags": "t1"}]))
    action = plan(inv, loaded).actions[0]
    assert action.kind == "deleteByFilter"
    expected = {
        i for i in expected_ttl(data["t-a"], held=False) if "t1" not in data["t-a"][i]["tags"]
    }  # type: ignore[operator]
    assert action.records == len(expected)


def test_id_rules_enumerate_and_respect_protections(tmp_path: Path) -> None:
    """ID lists, files and prefixes count only existing, unprotected records."""
    records = {f"doc-1#{i}": {"pinned": i == 3} for i in range(5)} | {"doc-2#0": {}}
    inv = MemoryInventory({"idx": {"t-a": records}}, ids_files={})
    (tmp_path / "ids.txt").write_text("doc-1#0\ndoc-1#1\nmissing\n")
    rules = (
        {"name": "prefix", "idPrefix": "doc-1#"},
        {"name": "listed", "ids": ["doc-2#0", "doc-1#3", "nope"]},
        {"name": "file", "idsFile": "ids.txt"},
    )
    loaded = policies(tmp_path, policy(*rules, protect=[{"pinned": True}]))
    inv.ids_files = {str(tmp_path / "ids.txt"): ["doc-1#0", "doc-1#1", "missing"]}
    result = plan(inv, loaded)
    by_rule = {a.rule: a for a in result.actions}
    assert by_rule["prefix"].records == 4  # doc-1#3 is pinned
    assert by_rule["listed"].records == 1  # doc-1#3 pinned, "nope" absent
    assert by_rule["file"].records == 2
    assert {a.kind for a in result.actions} == {"deleteByIds"}
    # doc-1#0 and doc-1#1 are selected by both the prefix and the file: counted once.
    assert result.totals.records == 5
    assert [(o.actions, o.records) for o in result.overlaps] == [
        (("p/prefix/idx/t-a", "p/file/idx/t-a"), 2)
    ]


def test_guards_block_a_policy(tmp_path: Path) -> None:
    """maxRecords and maxPercent breaches mark the policy blocked with the reason."""
    data = {"t-a": tickets(300)}
    limits = {"maxRecords": 10, "maxPercent": 50}
    result = plan(MemoryInventory({"idx": data}), policies(tmp_path, policy(TTL, limits=limits)))
    status = result.policy("p")
    n = len(expected_ttl(data["t-a"], held=False))
    assert status.status == "blocked"
    assert status.reason == f"it would delete {n:,} records, over maxRecords 10"
    assert [(g.name, g.ok) for g in status.guards] == [("maxRecords", False), ("maxPercent", False)]
    assert result.totals.records == 0  # a blocked policy deletes nothing


def test_delete_all_with_a_hold_becomes_a_filtered_delete(tmp_path: Path) -> None:
    """deleteAll in a namespace under a legal hold deletes only what the hold does not cover."""
    hold = builders.hold("h", "idx", ["t-held"], [{"case": "C-1"}])
    data = {
        "t-held": {"a": {"case": "C-1"}, "b": {"case": "C-2"}, "c": {}},
        "t-free": {"x": {}, "y": {}},
    }
    loaded = policies(tmp_path, policy({"name": "purge", "deleteAll": True}), hold)
    result = plan(MemoryInventory({"idx": data}), loaded)
    by_ns = {a.namespace: a for a in result.actions}
    assert by_ns["t-free"].kind == "deleteAll" and by_ns["t-free"].records == 2
    assert by_ns["t-held"].kind == "deleteByFilter" and by_ns["t-held"].records == 2
    assert deletion_document(by_ns["t-held"].deletes)["filter"] == {
        "$or": [{"case": {"$exists": False}}, {"case": {"$ne": "C-1"}}]
    }
    assert by_ns["t-held"].notes[0] == (
        "1 protection(s) apply here, so instead of deleteAll only unprotected records are deleted"
    )
    assert result.totals.records == 4


def test_unmatched_namespaces_and_policies_are_reported(tmp_path: Path) -> None:
    """A namespace no policy covers is listed, never guessed; a policy that matches nothing warns."""
    data = {"t-a": tickets(10), "other": tickets(10)}
    loaded = policies(
        tmp_path,
        policy(TTL),
        policy(TTL, name="q", include=["nothing-*"]),
    )
    result = plan(MemoryInventory({"idx": data}), loaded)
    assert result.unmatched_namespaces == (("idx", "other"),)
    assert result.warnings == ("policy 'q' matches no namespace of index 'idx'",)


def test_overlapping_filter_rules_are_counted_once(tmp_path: Path) -> None:
    """Two rules selecting the same records add up to the union, and the overlap is reported."""
    data = {"t-a": tickets(200)}
    loaded = policies(tmp_path, policy(TTL, CHAT, limits={"maxPercent": 100}))
    result = plan(MemoryInventory({"idx": data}), loaded)
    ttl = expected_ttl(data["t-a"], held=False)
    chat = {i for i, m in data["t-a"].items() if m["source"] == "chat"}
    assert result.totals.records == len(ttl | chat)
    assert [o.records for o in result.overlaps] == [len(ttl & chat)]


def test_missing_index_fails_closed(tmp_path: Path) -> None:
    """An index that does not exist raises; no partial plan comes back."""
    with pytest.raises(NotFound, match="Index idx not found"):
        plan(MemoryInventory({}), policies(tmp_path, policy(TTL)))


def test_ttl_field_with_non_numbers_is_reported_and_the_rest_expires(tmp_path: Path) -> None:
    """A TTL field holding strings in some records: the others still expire, and the plan
    says how many records never will under the rule."""
    data = {"t-a": {"a": {"created_at": "2026-01-01"}, "b": {"created_at": 1.0}}}
    result = plan(MemoryInventory({"idx": data}), policies(tmp_path, policy(TTL)))
    assert [a.records for a in result.actions] == [1]
    assert result.invalid_timestamps == (
        InvalidTimestamps("p", "ttl", "idx", "t-a", "created_at", 1),
    )
    assert result.warnings == (
        "policy 'p' rule 'ttl': 1 record of namespace 't-a' (index 'idx') holds a non-numeric "
        "created_at and never expires under this rule",
    )


def test_invalid_timestamps_outside_where_are_not_counted(tmp_path: Path) -> None:
    """Malformed records that the rule's `where` excludes are none of the rule's business."""
    data = {
        "t-a": {
            "a": {"created_at": "2026-01-01", "source": "chat"},
            "b": {"created_at": 1.0, "source": "zendesk"},
        }
    }
    rule = {**TTL, "where": {"source": "zendesk"}}
    result = plan(MemoryInventory({"idx": data}), policies(tmp_path, policy(rule)))
    assert result.invalid_timestamps == ()
    assert [a.records for a in result.actions] == [1]


def test_on_invalid_timestamps_fail_refuses_the_plan(tmp_path: Path) -> None:
    """`onInvalidTimestamps: fail` keeps the old fail-closed behaviour."""
    data = {"t-a": {"a": {"created_at": "2026-01-01"}, "b": {"created_at": 1.0}}}
    loaded = policies(tmp_path, policy(TTL, onInvalidTimestamps="fail"))
    with pytest.raises(
        PlanError,
        match="1 records of namespace 't-a' \\(index 'idx'\\) hold a value in 'created_at' that "
        "is not an epoch number in s \\(onInvalidTimestamps: fail\\)",
    ):
        plan(MemoryInventory({"idx": data}), loaded)


class ChurningInventory(MemoryInventory):
    """Adds a well-formed record before every count, as a writer does during a plan."""

    async def count(self, index: str, namespace: str, where: Filter) -> int:
        ns = self.data[index][namespace]
        ns[f"new-{len(ns)}"] = {"created_at": NOW.timestamp()}
        return await super().count(index, namespace, where)


def test_concurrent_writes_never_fail_or_invent_invalid_timestamps(tmp_path: Path) -> None:
    """Two counts taken while records arrive disagree; that is not a malformed record."""
    data = {"t-a": {f"r{i}": {"created_at": 1.0} for i in range(10)}}
    data["t-a"].update({f"untimed-{i}": {"source": "chat"} for i in range(5)})
    loaded = policies(tmp_path, policy(TTL, onInvalidTimestamps="fail"))
    result = plan(ChurningInventory({"idx": data}), loaded)
    assert result.invalid_timestamps == (
        InvalidTimestamps("p", "ttl", "idx", "t-a", "created_at", None),
    )
    assert "changed too fast while they were counted" in result.warnings[0]


def test_plan_document_round_trips_and_detects_tampering(tmp_path: Path) -> None:
    """A plan written as JSON reads back equal; an edited count breaks the fingerprint."""
    data = {"t-a": tickets(120)}
    result = plan(MemoryInventory({"idx": data}), policies(tmp_path, policy(TTL)))
    doc = to_document(result)
    again = from_document(doc)
    assert again.fingerprint == result.fingerprint == doc["fingerprint"]
    assert again.actions == result.actions
    doc["actions"][0]["records"]["count"] += 1
    with pytest.raises(PlanError, match="modified after it was made"):
        from_document(doc)


def test_calls_do_not_grow_with_records_for_filter_rules(tmp_path: Path) -> None:
    """Filter-expressible rules cost the same number of calls for 100 or 10,000 records."""
    loaded = policies(tmp_path, policy(TTL, CHAT))
    small, large = (
        MemoryInventory({"idx": {"t-a": tickets(100)}}),
        MemoryInventory({"idx": {"t-a": tickets(10_000)}}),
    )
    plan(small, loaded)
    plan(large, loaded)
    assert small.calls == large.calls


def test_holds_that_protect_nothing_are_named(tmp_path: Path) -> None:
    """A hold on a missing index, or whose patterns match no namespace, is a warning; so is
    one mistyped pattern among good ones, though that hold still protects something."""
    data = {"t-a": tickets(10), "t-b": tickets(10)}
    loaded = policies(
        tmp_path,
        policy(TTL),
        builders.hold("gone", "no-such-index", ["t-a"], HELD),
        builders.hold("typo", "idx", ["t-aa"], HELD),
        builders.hold("half", "idx", ["t-a", "t-bb"], HELD),
    )
    result = plan(MemoryInventory({"idx": data}), loaded)
    assert result.unmatched_holds == ("gone", "typo")
    assert [w for w in result.warnings if "legal hold" in w] == [
        "legal hold 'gone' protects nothing: index 'no-such-index' does not exist "
        "(namespaces: t-a); check its spec.index and spec.namespaces",
        "legal hold 'typo' protects nothing: no namespace of index 'idx' matches its patterns "
        "(namespaces: t-aa); check its spec.index and spec.namespaces",
        "legal hold 'half': pattern 't-bb' matches no namespace of index 'idx'; check "
        "spec.namespaces.include",
    ]
