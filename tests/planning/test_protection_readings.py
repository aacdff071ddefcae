"""Protections hold under every reading of Pinecone's undocumented filter corners.

For each combination of the switches (`$ne` and `$nin` on a missing field, `$ne`/`$nin` on a
list field) an index evaluates filters that way; random records, rules, protections and legal
holds are planned against it and the apply's decisions are played out: a filtered delete is
re-proven (`check_spared`'s count) and then deletes what the server's reading matches, an ID
action deletes what the apply's client-side check allows. No deleted record may be one that the
server's own reading counts as protected.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from retention.errors import PolicyErrors
from retention.filters import (
    SEMANTICS_VARIANTS,
    Filter,
    Metadata,
    Semantics,
    compile_filter,
    or_,
    to_json,
)
from retention.planning.plan import (
    Action,
    ByFilter,
    EveryRecord,
    IdPrefix,
    InlineIds,
    MatchingIds,
    Plan,
    WholeNamespace,
)
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import PolicySet, load_policies
from tests.filters.test_negation import FIELDS, filters, values
from tests.planning.memory import MemoryInventory

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NAMESPACES = ("ns-a", "ns-b")

record_maps = st.dictionaries(
    st.sampled_from([f"r-{i}" for i in range(16)]),
    st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values)),
    max_size=16,
)
worlds = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries({ns: record_maps for ns in NAMESPACES}),
        "rules": st.lists(
            st.one_of(
                filters(2).map(lambda f: {"where": to_json(f)}),
                st.just({"deleteAll": True}),
                st.just({"idPrefix": "r-1"}),
                st.lists(st.sampled_from([f"r-{i}" for i in range(20)]), min_size=1).map(
                    lambda ids: {"ids": sorted(set(ids))}
                ),
            ),
            min_size=1,
            max_size=3,
        ),
        "protect": st.lists(filters(2), max_size=2),
        "holds": st.lists(st.tuples(st.sampled_from(NAMESPACES), filters(1)), max_size=2),
    }
)


def _dump(docs: list[dict[str, Any]], root: Path) -> PolicySet | None:
    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    (root / "p.yaml").write_text(yaml.dump_all(docs, Dumper=Plain, sort_keys=False))
    try:
        return load_policies([root])
    except PolicyErrors:
        return None  # a random filter the linter refuses (an empty $in, a tautology, ...)


def _documents(world: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [{"name": f"r{i}", **r} for i, r in enumerate(world["rules"])]
    spec: dict[str, Any] = {
        "index": "idx",
        "namespaces": {"include": ["ns-*"]},
        "limits": {"maxPercent": 100},
        "rules": rules,
    }
    if world["protect"]:
        spec["protect"] = [to_json(p) for p in world["protect"]]
    docs = [
        {
            "apiVersion": "retention/v1",
            "kind": "RetentionPolicy",
            "metadata": {"name": "p"},
            "spec": spec,
        }
    ]
    for i, (ns, f) in enumerate(world["holds"]):
        docs.append(
            {
                "apiVersion": "retention/v1",
                "kind": "LegalHold",
                "metadata": {"name": f"h{i}"},
                "spec": {"index": "idx", "namespaces": {"include": [ns]}, "protect": [to_json(f)]},
            }
        )
    return docs


def _deleted(plan: Plan, inv: MemoryInventory, sem: Semantics) -> dict[str, set[str]]:
    """What an apply of `plan` deletes from an index that reads filters as `sem`."""
    gone: dict[str, set[str]] = {ns: set() for ns in NAMESPACES}
    for action in plan.actions:
        records = inv.data["idx"].get(action.namespace, {})
        if not action.records:
            continue
        gone[action.namespace] |= _selected(action, records, sem)
    return gone


def _selected(action: Action, records: dict[str, Metadata], sem: Semantics) -> set[str]:
    d = action.deletes
    if isinstance(d, EveryRecord | WholeNamespace):
        return set(records)
    if isinstance(d, ByFilter):
        if d.protections:
            both = compile_filter(d.filter, sem)
            held = compile_filter(or_(*d.protections), sem)
            if any(both(m) and held(m) for m in records.values()):
                return set()  # check_spared refuses the apply
        match = compile_filter(d.filter, sem)
        return {i for i, m in records.items() if match(m)}
    source = d.source
    if isinstance(source, InlineIds):
        candidates = [i for i in source.ids if i in records]
    elif isinstance(source, IdPrefix):
        candidates = [i for i in records if i.startswith(source.prefix)]
    else:
        assert isinstance(source, MatchingIds)
        match = compile_filter(source.filter, sem)
        candidates = [i for i, m in records.items() if match(m)]
    allowed = d.allows()
    return {i for i in candidates if allowed(records[i])}


def _protections(loaded: PolicySet, namespace: str) -> list[Filter]:
    (policy,) = loaded.policies
    return list(loaded.protections_for(policy, namespace))


SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@pytest.mark.parametrize("sem", SEMANTICS_VARIANTS, ids=repr)
@SETTINGS
@given(world=worlds)
def test_no_protected_record_is_ever_deleted(sem: Semantics, world: dict[str, Any]) -> None:
    """Under this reading, nothing the server counts as protected is in what apply deletes."""
    with tempfile.TemporaryDirectory() as scratch:
        loaded = _dump(_documents(world), Path(scratch))
        assume(loaded is not None)
        assert loaded is not None
        inv = MemoryInventory({"idx": world["data"]}, semantics=sem)
        plan = asyncio.run(
            make_plan(loaded, inv, now=NOW, options=PlanOptions(tool_version="test"))
        )
        gone = _deleted(plan, inv, sem)
    for ns in NAMESPACES:
        held = [compile_filter(p, sem) for p in _protections(loaded, ns)]
        for record_id in gone[ns]:
            metadata = world["data"][ns][record_id]
            assert not any(h(metadata) for h in held), (ns, record_id, metadata)
