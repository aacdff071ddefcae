"""What a plan costs grows with the namespaces, linearly, and stays near one count per rule.

The planner is driven against the in-memory inventory, which counts the questions it answers:
a plan is priced in requests, never timed. One namespace per tenant, with a TTL rule and a
`where` rule, as Pinecone's multitenancy guidance has it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.filters import Filter
from retention.planning.plan import Plan
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import load_policies
from tests.planning.memory import MemoryInventory

NOW = datetime(2026, 11, 24, tzinfo=UTC)
DAY = 86_400

TWO_RULES = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: tenants}
spec:
  index: idx
  namespaces: {include: ["tenant-*"]}
  limits: {maxPercent: 100}
  rules:
    - {name: expire, olderThan: 30d, field: created_at}
    - {name: drafts, where: {kind: {$eq: draft}}}
"""


def tenants(n: int) -> dict[str, dict[str, dict[str, object]]]:
    """n namespaces of 6 records: 2 expired, 2 drafts (one of them expired), 2 fresh."""
    old, new = NOW.timestamp() - 90 * DAY, NOW.timestamp() - DAY
    return {
        f"tenant-{t:05d}": {
            "a": {"created_at": old, "kind": "ticket"},
            "b": {"created_at": old, "kind": "draft"},
            "c": {"created_at": new, "kind": "draft"},
            "d": {"created_at": new, "kind": "ticket"},
            "e": {"created_at": new, "kind": "ticket"},
            "f": {"created_at": old, "kind": "ticket"},
        }
        for t in range(n)
    }


def planned(tmp_path: Path, n: int, **options: object) -> tuple[Plan, Counter[str]]:
    (tmp_path / "p.yaml").write_text(TWO_RULES)
    inventory = MemoryInventory({"idx": tenants(n)})
    plan = asyncio.run(
        make_plan(
            load_policies([tmp_path]),
            inventory,
            now=NOW,
            options=PlanOptions(tool_version="test", **options),  # type: ignore[arg-type]
        )
    )
    return plan, inventory.calls


def test_requests_grow_linearly_with_the_namespaces(tmp_path: Path) -> None:
    """10, 20 and 40 namespaces: every kind of request grows by the same amount per namespace
    added, and counts stay at two per (rule, namespace), the TTL field check included."""
    calls = {n: planned(tmp_path, n, samples=0)[1] for n in (10, 20, 40)}
    for operation in calls[10].keys() | calls[40].keys():
        step = calls[20][operation] - calls[10][operation]
        assert calls[40][operation] - calls[20][operation] == 2 * step, operation
    for n, counted in calls.items():
        # Per namespace: the rules' counts (2), the TTL field check (1: every record holds a
        # number there) and the union of the two actions (1), which also gives their overlap.
        assert counted["count"] == 4 * n
        assert counted["count"] / (2 * n) <= 2


def test_overlaps_come_from_the_union_without_a_count_of_their_own(tmp_path: Path) -> None:
    """Each namespace's two actions share one record ("b"): the plan says so, and the totals
    count it once, from the counts already made."""
    plan, calls = planned(tmp_path, 3, samples=0)
    assert [(o.namespace, o.records) for o in plan.overlaps] == [
        (f"tenant-{t:05d}", 1) for t in range(3)
    ]
    assert plan.totals.records == 3 * 4  # a, b, f expired; b, c drafts: 4 distinct
    assert calls["count"] == 12


def test_samples_are_bounded_by_the_option(tmp_path: Path) -> None:
    """--samples N: at most N actions fetch sample IDs, however many namespaces there are."""
    plan, calls = planned(tmp_path, 30, samples=5)
    assert calls["sample"] == 5
    assert sum(1 for a in plan.actions if a.samples) == 5
    plan, calls = planned(tmp_path, 30, samples=0)
    assert calls["sample"] == 0


@pytest.mark.parametrize("width", [1, 7, 256])
def test_the_plan_is_the_same_however_many_namespaces_run_at_once(
    tmp_path: Path, width: int
) -> None:
    """The bounded stream changes the order work is done in, never the plan."""
    plan, _ = planned(tmp_path, 25, samples=0, namespaces_at_once=width)
    reference, _ = planned(tmp_path, 25, samples=0, namespaces_at_once=3)
    assert [a.id for a in plan.actions] == [a.id for a in reference.actions]
    assert plan.totals == reference.totals
    assert plan.overlaps == reference.overlaps


def test_namespaces_in_progress_are_bounded(tmp_path: Path) -> None:
    """No more namespaces have a question out at once than the stream allows, and progress
    is reported once per namespace, ending at all of them."""
    outstanding: Counter[str] = Counter()
    peak = 0

    class Watching(MemoryInventory):
        async def count(self, index: str, namespace: str, where: Filter) -> int:
            nonlocal peak
            outstanding[namespace] += 1
            peak = max(peak, sum(1 for n in outstanding.values() if n))
            try:
                await asyncio.sleep(0)
                return await super().count(index, namespace, where)
            finally:
                outstanding[namespace] -= 1

    (tmp_path / "p.yaml").write_text(TWO_RULES)
    done: list[tuple[int, int]] = []
    asyncio.run(
        make_plan(
            load_policies([tmp_path]),
            Watching({"idx": tenants(50)}),
            now=NOW,
            options=PlanOptions(
                tool_version="test",
                samples=0,
                namespaces_at_once=4,
                progress=lambda finished, total: done.append((finished, total)),
            ),
        )
    )
    assert 1 < peak <= 4
    assert done == [(i, 50) for i in range(1, 51)]
