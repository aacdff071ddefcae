"""Random datasets and policies: apply deletes exactly the plan, spares the protected, converges."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from retention.emulator import Emulator
from retention.planning.plan import parse_time
from tests.applying import model
from tests.applying.world import cli, fill, fresh_index, plan_and_apply, pointed_at, snapshot
from tests.builders import write_policies


def check_world_live(
    emulator: Emulator, world: model.World, work: Path, *, documents: bool = False
) -> None:
    """`plan_live`/`apply_live` on `world`: exactly the unplanned records remain; re-plan empty.
    On a vector index, or a document index (`documents`) holding the same records."""
    index = fresh_index(emulator, "prop", documents=documents)
    data = model.build(world, time.time())
    fill(emulator, index, data, documents=documents)
    policies = write_policies(work / "policies", model.documents(world, index))
    before = snapshot(emulator, index, model.NAMESPACES)
    plan, report, again = asyncio.run(plan_and_apply(emulator, policies))
    want = model.expected(world, data, plan.as_of.timestamp())
    assert plan.totals.records == sum(len(v) for v in want.values())
    assert not report.failed and not report.pending and not report.interrupted
    assert report.deleted >= plan.totals.records  # overlapping actions count shared records twice
    after = snapshot(emulator, index, model.NAMESPACES)
    shielded = model.protected(world, data)
    for ns in model.NAMESPACES:
        assert before[ns] - after[ns] == want[ns], ns
        assert shielded[ns] <= after[ns], ns
    assert again.totals.records == 0
    assert all(p.status == "ready" for p in again.policies)


def check_world(
    emulator: Emulator, world: model.World, work: Path, *, documents: bool = False
) -> None:
    """Plan, apply and re-plan `world` with the CLI; exactly the unplanned records remain."""
    index = fresh_index(emulator, "prop", documents=documents)
    data = model.build(world, time.time())
    fill(emulator, index, data, documents=documents)
    policies = write_policies(work / "policies", model.documents(world, index))
    planfile = work / "plan.json"
    with pointed_at(emulator):
        code, out, err = cli("plan", str(policies), "--out", str(planfile), "--format", "json")
        assert code == 0, err
        doc = json.loads(planfile.read_text())
        want = model.expected(world, data, parse_time(doc["asOf"]).timestamp())
        assert doc["totals"]["records"] == sum(len(v) for v in want.values()), out
        before = snapshot(emulator, index, model.NAMESPACES)
        code, out, err = cli("apply", str(planfile), str(policies))
        assert code == 0, err
        after = snapshot(emulator, index, model.NAMESPACES)
        shielded = model.protected(world, data)
        for ns in model.NAMESPACES:
            assert before[ns] - after[ns] == want[ns], (ns, out, err)
            assert shielded[ns] <= after[ns], ns
        code, out, err = cli("plan", str(policies), "--detailed-exitcode")
        assert code == 0, out + err
        assert "Plan: nothing to delete." in out


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=model.worlds())
def test_apply_deletes_exactly_the_plan(
    emulators: tuple[Emulator, Emulator], world: model.World
) -> None:
    """Random records and policies: the index ends as it was minus the planned set, re-plan empty."""
    with tempfile.TemporaryDirectory() as work:
        check_world_live(emulators[world.semantics], world, Path(work))


@pytest.mark.slow
@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=model.worlds(max_records=60))
def test_apply_deletes_exactly_the_plan_many(
    emulators: tuple[Emulator, Emulator], world: model.World
) -> None:
    """The same property over more and larger examples."""
    with tempfile.TemporaryDirectory() as work:
        check_world_live(emulators[world.semantics], world, Path(work))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=model.worlds())
def test_apply_deletes_exactly_the_plan_on_a_document_index(
    emulators: tuple[Emulator, Emulator], world: model.World
) -> None:
    """The same property on a document index: counts by filtered fetch, deletes by the
    documents API, the schema's vector and text beside the metadata."""
    with tempfile.TemporaryDirectory() as work:
        check_world_live(emulators[world.semantics], world, Path(work), documents=True)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=model.worlds(max_records=60))
def test_apply_deletes_exactly_the_plan_on_a_document_index_many(
    emulators: tuple[Emulator, Emulator], world: model.World
) -> None:
    with tempfile.TemporaryDirectory() as work:
        check_world_live(emulators[world.semantics], world, Path(work), documents=True)


@pytest.mark.parametrize(
    ("seed_", "documents"),
    [
        (1, False),
        (3, True),
        pytest.param(2, False, marks=pytest.mark.slow),
    ],
)
def test_apply_on_a_larger_random_world(
    emulators: tuple[Emulator, Emulator], tmp_path: Path, seed_: int, documents: bool
) -> None:
    """A seeded world of 1,500 records with every rule kind, protection and hold at once, in a
    vector index or a document index."""
    world = model.random_world(random.Random(seed_), 1500)
    check_world(emulators[seed_ % 2], world, tmp_path, documents=documents)
