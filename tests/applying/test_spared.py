"""A filtered delete is proven to spare its protections again just before it is sent."""

from __future__ import annotations

import json
from pathlib import Path

from retention.emulator import Emulator
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import policy, seed, write_policies


def _drafts_plan(
    emulator: Emulator, data: dict[str, dict[str, object]], tmp_path: Path
) -> tuple[str, Path]:
    """Index with `data` in namespace ns, a policy deleting drafts but sparing tags 'keep',
    and its plan file; returns the index and the plan file."""
    index = fresh_index(emulator, "spared")
    seed(emulator, index, {"ns": data})
    docs = [
        policy(
            "drafts",
            index,
            ["ns"],
            [{"name": "drafts", "where": {"kind": "draft"}}],
            protect=[{"tags": "keep"}],
        )
    ]
    policies = write_policies(tmp_path / "policies", docs)
    planfile = tmp_path / "plan.json"
    with pointed_at(emulator):
        code, _, err = cli("plan", str(policies), "--out", str(planfile))
    assert code == 0, err
    return index, planfile


def test_a_record_written_after_planning_that_the_fold_would_reach_stops_the_apply(
    emulators: tuple[Emulator, Emulator], tmp_path: Path
) -> None:
    """On an index where `$ne` means "some element differs", a held list written after the
    plan matches the folded filter; the apply refuses instead of deleting it."""
    _, other = emulators  # list_negation = any_differs, among the other readings
    drafts = {f"d-{i}": {"kind": "draft", "tags": "x"} for i in range(5)}
    index, planfile = _drafts_plan(other, drafts, tmp_path)
    (action,) = json.loads(planfile.read_text())["actions"]
    assert action["kind"] == "deleteByFilter" and action["records"]["count"] == 5
    seed(other, index, {"ns": {"held": {"kind": "draft", "tags": ["keep", "x"]}}})
    before = snapshot(other, index, ["ns"])
    with pointed_at(other):
        code, _, err = cli("apply", str(planfile), str(planfile.parent / "policies"))
    assert code == 1
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    assert lines == [
        f"retention: error: drafts/drafts/{index}/ns: drafts/drafts in {index}/ns: Pinecone now "
        "counts 1 record matching both the delete filter and a protection, so the filter is "
        "not sent; nothing was deleted there; run `retention plan` again (it checks such "
        "records one by one)"
    ]
    assert snapshot(other, index, ["ns"]) == before


def test_the_same_apply_goes_through_when_nothing_protected_is_reached(
    emulators: tuple[Emulator, Emulator], tmp_path: Path
) -> None:
    """Without such a record the proof passes and the drafts are deleted, the held kept."""
    _, other = emulators
    data: dict[str, dict[str, object]] = {
        f"d-{i}": {"kind": "draft", "tags": "x"} for i in range(5)
    }
    data["held"] = {"kind": "draft", "tags": "keep"}
    index, planfile = _drafts_plan(other, data, tmp_path)
    with pointed_at(other):
        code, _, err = cli("apply", str(planfile), str(planfile.parent / "policies"))
    assert code == 0, err
    assert snapshot(other, index, ["ns"]) == {"ns": {"held"}}
