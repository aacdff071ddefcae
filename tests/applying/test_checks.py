"""The guards on fresh counts weigh what is selected now against the namespace as it is now."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.applying import batches
from retention.applying.batches import file_digest
from retention.applying.checks import namespace_guard_problem
from retention.errors import PlanError
from retention.filters import Compare
from retention.planning.plan import Action, ByFilter, Guard, Plan, PolicyResult, Sources


def _plan(records: int, of: int, guard: Guard) -> tuple[Plan, Action]:
    action = Action(
        policy="p",
        rule="r",
        index="idx",
        namespace="ns",
        deletes=ByFilter(Compare("x", "$eq", 1)),
        records=records,
        count_method="dryRunCount",
        namespace_records=of,
        condition="x",
    )
    plan = Plan(
        as_of=datetime(2026, 12, 1, tzinfo=UTC),
        tool_version="test",
        sources=Sources((), "sha256:" + "0" * 64),
        index_hosts={"idx": "h"},
        actions=(action,),
        policies=(PolicyResult("p", "ready", records, (guard,)),),
    )
    return plan, action


def _problem(plan: Plan, action: Action, now: int, size: int, sent_before: int = 0) -> str | None:
    return namespace_guard_problem(plan.policies[0], [action], now, now, size, sent_before)


def test_a_growing_namespace_keeps_its_share() -> None:
    """5 of 5 planned at 100%, then one more record arrives and is selected: still 100%."""
    plan, action = _plan(5, 5, Guard("maxPercent", 100, 100.0, True, "ns"))
    assert _problem(plan, action, 6, 6) is None


@pytest.mark.parametrize(
    ("default", "message"),
    [
        (
            True,
            "policy 'p' would delete 60.0% of namespace 'ns', over the default guard of 50%; "
            "nothing was deleted there",
        ),
        (
            False,
            "policy 'p' would delete 60.0% of namespace 'ns', over its maxPercent 50; nothing "
            "was deleted there",
        ),
    ],
)
def test_what_is_selected_now_is_weighed_not_the_plan(default: bool, message: str) -> None:
    """The guard's planned value says 1%; 60 of 100 are selected now: refused."""
    plan, action = _plan(40, 100, Guard("maxPercent", 50, 1.0, True, "ns", default))
    assert _problem(plan, action, 60, 100) == message


def test_the_default_guard_lets_a_small_namespace_be() -> None:
    """99 records now: the default guard does not weigh the namespace; an explicit one does."""
    plan, action = _plan(99, 99, Guard("maxPercent", 50, 100.0, True, "ns", True))
    assert _problem(plan, action, 99, 99) is None
    plan, action = _plan(99, 99, Guard("maxPercent", 50, 100.0, False, "ns", False))
    assert _problem(plan, action, 99, 99) is not None


def test_max_records_counts_what_the_run_deleted_for_the_policy_before() -> None:
    """maxRecords is weighed on this namespace's fresh count plus what earlier namespaces of
    the same run deleted for the policy, whatever the plan's totals say."""
    plan, action = _plan(10, 100, Guard("maxRecords", 20, 10.0, True))
    assert _problem(plan, action, 15, 100) is None
    assert _problem(plan, action, 15, 100, sent_before=10) == (
        "policy 'p' would delete 25 records with those of idx/ns, over its maxRecords 20; "
        "nothing was deleted there"
    )


@pytest.mark.timeout(10)
def test_an_id_file_swapped_for_a_fifo_after_planning_is_refused(tmp_path: Path) -> None:
    """Checking the pinned digest never blocks on a named pipe put in the file's place."""
    os.mkfifo(tmp_path / "erase.txt")
    with pytest.raises(PlanError) as refused:
        file_digest(str(tmp_path / "erase.txt"))
    assert str(refused.value) == (
        f"ID file {tmp_path / 'erase.txt'} is a named pipe (FIFO), not a regular file"
    )


def test_ids_appended_to_an_id_file_during_an_apply_are_never_read(tmp_path: Path) -> None:
    """The apply reads the pinned content once: lines added while it deletes are not read."""
    path = tmp_path / "erase.txt"
    path.write_text("".join(f"id-{i}\n" for i in range(2500)))
    pinned = hashlib.sha256(path.read_bytes()).hexdigest()

    async def read() -> list[str]:
        seen: list[str] = []
        async for batch in batches._read_file(str(path), pinned):
            seen.extend(batch)
            with path.open("a") as handle:  # another writer, mid-apply
                handle.write("".join(f"late-{i}\n" for i in range(1000)))
        return seen

    assert asyncio.run(read()) == [f"id-{i}" for i in range(2500)]


def test_an_id_file_changed_before_its_action_yields_nothing(tmp_path: Path) -> None:
    """A file that no longer holds the pinned content is refused before any ID is handed out."""
    path = tmp_path / "erase.txt"
    path.write_text("a\nb\n")

    async def read() -> list[list[str]]:
        return [batch async for batch in batches._read_file(str(path), "0" * 64)]

    with pytest.raises(PlanError, match="changed since the plan was made"):
        asyncio.run(read())
