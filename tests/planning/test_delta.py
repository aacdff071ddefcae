"""The change a policy edit makes to the plan, as a reviewer reads it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from retention.planning.delta import delta, render_delta
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import load_policies
from tests.builders import yaml_text
from tests.planning.memory import MemoryInventory
from tests.planning.test_planner import NOW, TTL, expected_ttl, policy, tickets


def test_shorter_ttl_shows_the_added_records(tmp_path: Path) -> None:
    """Changing 90d to 30d reports the extra records per namespace with the reason."""
    base_dir, head_dir = tmp_path / "base", tmp_path / "head"
    base_dir.mkdir()
    head_dir.mkdir()
    (base_dir / "p.yaml").write_text(yaml_text(policy(TTL)))
    (head_dir / "p.yaml").write_text(
        yaml_text(policy({**TTL, "olderThan": "30d"}, {"name": "x", "ids": ["ticket-0001"]}))
    )
    base, head = load_policies([base_dir]), load_policies([head_dir])
    data = {"t-a": tickets(200)}
    inv = MemoryInventory({"idx": data})
    options = PlanOptions(tool_version="test")
    head_plan = asyncio.run(make_plan(head, inv, now=NOW, options=options))
    base_plan = asyncio.run(make_plan(base, inv, now=NOW, options=options))
    changes = delta(head_plan, base_plan, head, base)
    more = len(expected_ttl(data["t-a"], 30, held=False)) - len(
        expected_ttl(data["t-a"], 90, held=False)
    )
    assert [(c.rule, c.records, c.why) for c in changes] == [
        ("ttl", more, "90d -> 30d"),
        ("x", 1, "(new rule)"),
    ]
    assert render_delta(changes, "origin/main") == (
        "Compared with origin/main:\n"
        f"+{more:,} records in t-a: p/ttl 90d -> 30d\n"
        "+1 records in t-a: p/x (new rule)\n"
        f"Net: +{more + 1:,} records.\n"
    )


def test_no_change() -> None:
    """An identical plan says so in one line."""
    assert (
        render_delta([], "HEAD~1") == "Compared with HEAD~1: no change in what would be deleted.\n"
    )
