"""The apply answers to the policies it is given, not to whoever hands it a plan.

The executor itself checks that the plan was made from `policies` (digest) and that they yield
each of its actions (sealing), so a caller that builds or edits a plan in memory, without the
`apply PLANFILE` command's checks, still cannot delete what the policies do not select.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from retention.applying.executor import ApplySettings, Stop
from retention.emulator import Emulator
from retention.errors import PlanError
from retention.filters import Compare
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import ByFilter, Plan
from retention.policy import PolicySet, load_policies
from tests.applying.world import fresh_index, snapshot, unpaced_client
from tests.builders import policy, seed, write_policies


def _world(emulator: Emulator, tmp_path: Path) -> tuple[str, PolicySet]:
    index = fresh_index(emulator)
    seed(emulator, index, {"t-a": {"chat-1": {"source": "chat"}, "mail-1": {"source": "mail"}}})
    rules = [{"name": "chat", "where": {"source": "chat"}}]
    return index, load_policies(
        [str(write_policies(tmp_path / "p", [policy("p", index, ["t-*"], rules)]))]
    )


def _apply(emulator: Emulator, loaded: PolicySet, edit: Callable[[Plan], Plan]) -> None:
    log = structlog.wrap_logger(structlog.ReturnLogger())
    now = datetime.now(UTC).replace(microsecond=0)

    async def run() -> None:
        async with unpaced_client(emulator) as client:
            plan = await plan_live(client, loaded, now=now, log=log)
            plan = edit(plan)
            await apply_live(
                client, plan, loaded, now=now, settings=ApplySettings(), log=log, stop=Stop()
            )

    asyncio.run(run())


def test_an_action_edited_in_memory_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    index, loaded = _world(emulator, tmp_path)

    def widen(plan: Plan) -> Plan:
        action = dataclasses.replace(
            plan.actions[0], deletes=ByFilter(Compare("source", "$exists", True))
        )
        return dataclasses.replace(plan, actions=(action,))

    with pytest.raises(PlanError, match="its filter is not what policy 'p' rule 'chat' says"):
        _apply(emulator, loaded, widen)
    assert snapshot(emulator, index, ["t-a"]) == {"t-a": {"chat-1", "mail-1"}}


def test_a_plan_of_other_policies_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    index, loaded = _world(emulator, tmp_path)

    def elsewhere(plan: Plan) -> Plan:
        sources = dataclasses.replace(plan.sources, digest="sha256:" + "0" * 64)
        return dataclasses.replace(plan, sources=sources)

    with pytest.raises(PlanError, match="the policies changed since the plan was made"):
        _apply(emulator, loaded, elsewhere)
    assert snapshot(emulator, index, ["t-a"]) == {"t-a": {"chat-1", "mail-1"}}


def test_the_unedited_plan_deletes_what_it_says(emulator: Emulator, tmp_path: Path) -> None:
    index, loaded = _world(emulator, tmp_path)
    _apply(emulator, loaded, lambda plan: plan)
    assert snapshot(emulator, index, ["t-a"]) == {"t-a": {"mail-1"}}
