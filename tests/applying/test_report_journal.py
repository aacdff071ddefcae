"""The journal keeps what each finished action deleted, how it ended and when; the report's
summary keeps this run's figures apart from earlier runs' and names vanished namespaces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.applying.journal import Entry, Journal
from retention.applying.report import ActionResult, Report
from retention.errors import PlanError
from retention.planning.plan import Action

T0 = datetime(2027, 1, 1, tzinfo=UTC)
T1 = datetime(2027, 1, 1, 0, 0, 7, tzinfo=UTC)
FP = "sha256:" + "ab" * 32


def action(namespace: str, records: int = 10) -> Action:
    return Action(
        policy="p",
        rule="r",
        index="idx",
        namespace=namespace,
        kind="deleteByFilter",
        records=records,
        count_method="dryRunCount",
        namespace_records=100,
        condition="x",
        filter={"x": {"$eq": 1}},
    )


def test_the_journal_keeps_counts_outcomes_and_times(tmp_path: Path) -> None:
    path = tmp_path / "plan.json.journal"
    journal = Journal(path, FP)
    journal.mark_done("a", 12, finished=T1)
    journal.mark_done("b", 0, finished=T1, outcome="namespace-gone")
    assert json.loads(path.read_text()) == {
        "plan": FP,
        "done": {
            "a": {"deleted": 12, "finished": "2027-01-01T00:00:07Z", "outcome": "done"},
            "b": {"deleted": 0, "finished": "2027-01-01T00:00:07Z", "outcome": "namespace-gone"},
        },
    }
    again = Journal(path, FP)
    assert again.entries == {"a": Entry(12, T1), "b": Entry(0, T1, "namespace-gone")}
    assert again.done == {"a": 12, "b": 0}
    assert Journal(path, "sha256:" + "cd" * 32).entries == {}  # another plan's journal


def test_a_journal_of_counts_only_is_read(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_text(json.dumps({"plan": FP, "done": {"a": 5}}))
    assert Journal(path, FP).entries == {"a": Entry(5, None, "done")}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (json.dumps({"plan": FP, "done": {"a": True}}), "not a journal entry: True"),
        (json.dumps({"plan": FP, "done": {"a": {"deleted": "5"}}}), "not a record count: '5'"),
        (
            json.dumps({"plan": FP, "done": {"a": {"deleted": 5, "outcome": "gone"}}}),
            "unknown outcome 'gone'",
        ),
    ],
)
def test_a_damaged_journal_is_one_line(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "j"
    path.write_text(text)
    with pytest.raises(PlanError) as raised:
        Journal(path, FP)
    assert str(raised.value) == f"cannot read the apply journal {path}: {reason}"


def report(*results: ActionResult) -> Report:
    return Report(FP, started=T0, finished=T1, results=list(results))


def test_gone_namespaces_are_named_then_counted() -> None:
    gone = [ActionResult(action(f"ns-{i}"), status="namespace-gone") for i in range(5)]
    done = ActionResult(action("ns-x"), status="done", deleted=1, verification="verified")
    assert report(done, *gone).summary() == (
        "Applied: 1 record deleted by 1 of 6 actions in 7.0s; 1 verified, 0 pending; 5 actions "
        "found their namespace gone since planning (idx/ns-0, idx/ns-1, idx/ns-2 and 2 more): "
        "nothing deleted there."
    )


def test_records_deleted_before_a_namespace_went_are_not_denied() -> None:
    gone = ActionResult(action("ns-a"), status="namespace-gone", deleted=3)
    assert report(gone).summary() == (
        "Applied: 3 records deleted by 0 of 1 action in 7.0s; 0 verified, 0 pending; 1 action "
        "found its namespace gone since planning (idx/ns-a)."
    )


def test_an_interrupted_resumed_run_says_both() -> None:
    earlier = ActionResult(
        action("ns-a"), status="applied-earlier", earlier=Entry(250, T0), finished=T0
    )
    now = ActionResult(action("ns-b"), status="done", deleted=40, verification="pending")
    stopped = ActionResult(action("ns-c"), status="interrupted")
    r = report(earlier, now, stopped)
    r.interrupted = True
    assert r.summary() == (
        "Applied: 40 records deleted by 1 of 3 actions in 7.0s; 0 verified, 1 pending; earlier "
        "runs of this plan deleted 250 records by 1 action; INTERRUPTED: run the same apply "
        "again to finish."
    )
    doc = r.to_document()
    assert (doc["deleted"], doc["deletedEarlier"], doc["appliedEarlier"]) == (40, 250, False)
    assert [a["status"] for a in doc["actions"]] == ["applied-earlier", "done", "interrupted"]


def test_a_plan_with_nothing_to_delete_is_not_applied_earlier() -> None:
    assert report().summary() == (
        "Applied: 0 records deleted by 0 of 0 actions in 7.0s; 0 verified, 0 pending."
    )
