"""The journal keeps what each finished action deleted, how it ended and when; the report's
summary keeps this run's figures apart from earlier runs' and names vanished namespaces."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.applying.journal import MAX_JOURNAL_BYTES, Entry, Journal
from retention.applying.report import ActionResult, Report
from retention.errors import PlanError
from retention.filters import Compare
from retention.host import NotWritable, replace_atomically
from retention.planning.plan import Action, ByFilter

T0 = datetime(2027, 1, 1, tzinfo=UTC)
T1 = datetime(2027, 1, 1, 0, 0, 7, tzinfo=UTC)
FP = "sha256:" + "ab" * 32


def action(namespace: str, records: int = 10) -> Action:
    return Action(
        policy="p",
        rule="r",
        index="idx",
        namespace=namespace,
        deletes=ByFilter(Compare("x", "$eq", 1)),
        records=records,
        count_method="dryRunCount",
        namespace_records=100,
        condition="x",
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


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "it is a named pipe (FIFO), not a regular file"),
        (lambda p: p.symlink_to("/dev/zero"), "it is a symbolic link; name the file itself"),
        (lambda p: p.mkdir(), "it is a directory, not a regular file"),
    ],
    ids=["fifo", "symlink", "directory"],
)
def test_a_journal_that_is_no_regular_file_is_refused_unread(
    tmp_path: Path, make: Callable[[Path], None], reason: str
) -> None:
    """Opening a FIFO would block the apply forever; a link would be replaced by a file."""
    path = tmp_path / "j"
    make(path)
    with pytest.raises(PlanError) as raised:
        Journal(path, FP)
    assert str(raised.value) == f"cannot read the apply journal {path}: {reason}"


def test_dev_zero_is_refused_unread() -> None:
    """/dev/zero never ends: it is refused by its type, before a byte is read."""
    with pytest.raises(PlanError) as raised:
        Journal(Path("/dev/zero"), FP)
    assert str(raised.value) == (
        "cannot read the apply journal /dev/zero: it is a character device, not a regular file"
    )


def test_a_journal_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with path.open("wb") as handle:
        handle.truncate(MAX_JOURNAL_BYTES + 1)  # sparse: no disk is used
    with pytest.raises(PlanError) as raised:
        Journal(path, FP)
    assert str(raised.value) == (
        f"cannot read the apply journal {path}: it has 67,108,865 bytes; apply journals are at "
        "most 64 MiB (67,108,864 bytes)"
    )
    assert MAX_JOURNAL_BYTES == 64 << 20


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000, "it nests too deeply to be an apply journal"),
        ("[]", "it is not an apply journal (a JSON object)"),
        ('"done"', "it is not an apply journal (a JSON object)"),
    ],
    ids=["deep", "list", "string"],
)
def test_a_journal_of_the_wrong_shape(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "j"
    path.write_text(text)
    with pytest.raises(PlanError) as raised:
        Journal(path, FP)
    assert str(raised.value) == f"cannot read the apply journal {path}: {reason}"


def test_a_journal_that_could_not_be_saved_is_refused_at_once(tmp_path: Path) -> None:
    """Refused when the journal is opened, before any action: never after a delete."""
    path = tmp_path / "missing" / "j"
    with pytest.raises(PlanError) as raised:
        Journal(path, FP)
    assert str(raised.value) == (
        f"cannot write the apply journal {path}: the directory {path.parent} does not exist"
    )
    assert not path.parent.exists()


def test_a_journal_swapped_for_a_fifo_is_not_replaced(tmp_path: Path) -> None:
    """A save never renames a file over anything but a regular file: it says why instead."""
    path = tmp_path / "j"
    journal = Journal(path, FP)
    journal.mark_done("a", 1)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(PlanError) as raised:
        journal.mark_done("b", 2)
    assert str(raised.value) == (
        f"cannot write the apply journal {path}: it is a named pipe (FIFO), not a regular file"
    )
    assert stat.S_ISFIFO(path.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["j"]


def test_each_save_is_fsynced_then_renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new journal is on disk before it takes the old one's name: always old or new."""
    path = tmp_path / "j"
    journal = Journal(path, FP)
    seen: list[object] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        seen.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        seen.append(("replace", Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    journal.mark_done("a", 1, finished=T1)
    size = path.stat().st_size
    assert seen == [("fsync", size), ("replace", ".j.tmp", "j")]
    assert Journal(path, FP).entries == {"a": Entry(1, T1)}


def test_a_temporary_file_left_by_a_killed_save_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "j"
    (tmp_path / ".j.tmp").write_text('{"plan": "sha')
    Journal(path, FP).mark_done("a", 1)
    assert Journal(path, FP).done == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["j"]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: os.mkfifo(p),
        lambda p: p.symlink_to("elsewhere"),
        lambda p: os.link(p.parent / "other", p),
    ],
    ids=["fifo", "symlink", "hard-link"],
)
def test_something_else_at_the_temporary_name_is_never_opened(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    """The temporary file is created anew: a FIFO there would block, a link would write
    through to another file; each is refused and left alone."""
    (tmp_path / "other").write_text("mine")
    tmp = tmp_path / ".j.tmp"
    make(tmp)
    with pytest.raises(PlanError) as raised:
        Journal(tmp_path / "j", FP)
    assert str(raised.value) == (
        f"cannot write the apply journal {tmp_path / 'j'}: {tmp}, its temporary file, is in the "
        "way; remove it"
    )
    assert os.path.lexists(tmp)
    assert (tmp_path / "other").read_text() == "mine"
    assert not (tmp_path / "j").exists()


def test_replace_atomically_refuses_a_link_and_keeps_its_target(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("mine")
    (tmp_path / "link").symlink_to("target")
    with pytest.raises(NotWritable) as raised:
        replace_atomically(tmp_path / "link", b"new")
    assert raised.value.reason == "it is a symbolic link; name the file itself"
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "target").read_text() == "mine"


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
