"""A bad day: 429s, 503s, latency and eventual consistency change nothing about the end state."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.applying import model
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import seed, write_policies

BAD_DAY = EmulatorConfig(
    fault_rate=0.05, fault_statuses=(429, 503), latency_ms=3, lag_ms=300, seed=7
)


def final_state(
    config: EmulatorConfig, world: model.World, data: model.Data, work: Path
) -> tuple[dict[str, set[str]], str]:
    """Plan and apply `world` with the CLI on a fresh emulator; what remains, and stderr."""
    with Emulator.start(config) as emulator, pointed_at(emulator):
        index = fresh_index(emulator, "bad")
        seed(emulator, index, data)
        policies = write_policies(work / "policies", model.documents(world, index))
        planfile = work / "plan.json"
        code, _, err = cli("plan", str(policies), "--out", str(planfile))
        assert code == 0, err
        code, out, err_apply = cli(
            "apply", str(planfile), str(policies), "--report", str(work / "report.json")
        )
        assert code == 0, err_apply
        assert ", 0 pending" in out, out
        code, out, err = cli("plan", str(policies), "--detailed-exitcode")
        assert code == 0, out + err
        return snapshot(emulator, index, model.NAMESPACES), err_apply


@pytest.mark.parametrize(
    "n", [pytest.param(300, id="300"), pytest.param(3000, id="3000", marks=pytest.mark.slow)]
)
def test_faults_latency_and_lag_end_in_the_clean_state(tmp_path: Path, n: int) -> None:
    """The same world applied cleanly and on a bad day leaves the same records."""
    world = model.random_world(random.Random(n), n)
    data = model.build(world, time.time())
    clean, _ = final_state(EmulatorConfig(limits="off"), world, data, tmp_path / "clean")
    bad, log = final_state(BAD_DAY, world, data, tmp_path / "bad")
    assert bad == clean
    assert '"pinecone_retry"' in log  # the faults did happen
    originally = {ns: set(data[ns]) for ns in model.NAMESPACES}
    assert clean != originally  # and something was deleted
