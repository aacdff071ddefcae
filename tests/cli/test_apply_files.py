"""The files `plan` and `apply` write, and the apply's numeric options: each mistake is one line
and exit 1 before anything is planned or deleted, and nothing but a regular file is replaced.

A rename onto a FIFO, a symbolic link or a device would silently put a regular file in its
place (as root even /dev/null), so such a target is refused, and the journal, which apply also
reads, is never opened in a way that could block or read without end.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders import policy, where_rule, yaml_text
from tests.cli.conftest import SMALL, Live
from tests.cli.helpers import Run, drafts, run_cli

pytestmark = pytest.mark.usefixtures("fast_retries")

DRAFTS = where_rule("drafts", kind="draft")
JOURNAL_CAP = 64 << 20


def counts(live: Live) -> dict[str, int]:
    return {ns: len(live.emulator.records("support", ns)) for ns in SMALL}


def assert_refused(run: Run, line: str, live: Live) -> None:
    """Exit 1, `line` alone on stderr, nothing printed, and every seeded record still there."""
    assert run.code == 1, run
    assert "Traceback" not in run.err
    assert run.messages == [line]
    assert run.out == ""
    assert counts(live) == SMALL


@dataclass(frozen=True)
class Planned:
    """A reviewed plan file and the policy folder it was made from."""

    file: Path
    policies: Path

    @property
    def args(self) -> list[str]:
        """`apply`'s arguments for it: PLANFILE PATH."""
        return [str(self.file), str(self.policies)]

    @property
    def journal(self) -> Path:
        return Path(f"{self.file}.journal")


@pytest.fixture
def planned(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Planned:
    """A reviewed plan file that deletes the drafts of both namespaces (300 records)."""
    (policies / "drafts.yaml").write_text(yaml_text(policy("drafts", "support", ["*"], [DRAFTS])))
    plan = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(policies), "--out", str(plan))
    assert run.code == 0, run.err
    assert json.loads(plan.read_text())["totals"]["records"] == sum(map(drafts, SMALL.values()))
    return Planned(plan, policies)


def make_fifo(where: Path) -> Path:
    os.mkfifo(where)
    return where


def make_device(where: Path) -> Path:
    """A null device: made at `where` when this process may (as root), so that a failure could
    only ever replace that copy; otherwise /dev/null itself, which this process cannot replace."""
    try:
        os.mknod(where, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        if os.geteuid() == 0:
            pytest.skip("cannot make a device node here")
        return Path("/dev/null")
    return where


def make_link(where: Path) -> Path:
    """A symbolic link to a regular file beside it that holds `mine`."""
    (where.parent / f"{where.name}.target").write_text("mine")
    where.symlink_to(f"{where.name}.target")
    return where


def make_directory(where: Path) -> Path:
    where.mkdir()
    return where


KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (make_fifo, "it is a named pipe (FIFO), not a regular file"),
    "device": (make_device, "it is a character device, not a regular file"),
    "symlink": (make_link, "it is a symbolic link; name the file itself"),
    "directory": (make_directory, "it is a directory; name a file in it"),
}


def assert_still_there(path: Path, kind: str) -> None:
    """What was at `path` is still there, as it was."""
    mode = path.lstat().st_mode
    expected = {
        "fifo": stat.S_ISFIFO,
        "device": stat.S_ISCHR,
        "symlink": stat.S_ISLNK,
        "directory": stat.S_ISDIR,
    }
    assert expected[kind](mode)
    if kind == "symlink":
        assert path.read_text() == "mine"
    assert not (path.parent / f".{path.name}.tmp").exists()


# -- what --journal, --report and --out may name


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_journal_that_is_no_regular_file(
    small: Live, planned: Planned, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--journal naming a FIFO (which reading would hang on), a device, a link or a directory
    is refused before anything is deleted, and left as it was."""
    make, reason = KINDS[kind]
    journal = make(tmp_path / "journal")
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(journal))
    assert_refused(run, f"retention: error: cannot write {journal}: {reason}", small)
    assert_still_there(journal, kind)


def test_the_default_journal_that_is_a_fifo(
    small: Live, planned: Planned, capsys: pytest.CaptureFixture[str]
) -> None:
    """PLANFILE.journal is checked the same way when --journal is left out."""
    journal = make_fifo(planned.journal)
    run = run_cli(capsys, "apply", *planned.args)
    assert_refused(
        run,
        f"retention: error: cannot write {journal}: it is a named pipe (FIFO), not a regular file",
        small,
    )
    assert_still_there(journal, "fifo")


def test_a_journal_on_dev_zero(
    small: Live, planned: Planned, capsys: pytest.CaptureFixture[str]
) -> None:
    """/dev/zero, which reading would never finish, is refused unread and unwritten."""
    run = run_cli(capsys, "apply", *planned.args, "--journal", "/dev/zero")
    assert_refused(
        run,
        "retention: error: cannot write /dev/zero: it is a character device, not a regular file",
        small,
    )
    assert stat.S_ISCHR(os.lstat("/dev/zero").st_mode)


def test_a_journal_in_a_missing_directory(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal that could not be written after the first delete is refused before it."""
    journal = tmp_path / "missing" / "journal"
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(journal))
    assert_refused(
        run,
        f"retention: error: cannot write {journal}: the directory {journal.parent} does not exist",
        small,
    )
    assert not journal.parent.exists()


def test_a_journal_over_its_size_cap(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal larger than 64 MiB is refused unread (a sparse file: no disk is used)."""
    journal = tmp_path / "journal"
    with journal.open("wb") as handle:
        handle.truncate(JOURNAL_CAP + 1)
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(journal))
    assert_refused(
        run,
        f"retention: error: cannot read the apply journal {journal}: it has 67,108,865 bytes; "
        "apply journals are at most 64 MiB (67,108,864 bytes)",
        small,
    )
    assert journal.stat().st_size == JOURNAL_CAP + 1


def test_a_journal_that_is_not_json(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged journal is one line naming it, and it is kept for a look."""
    journal = tmp_path / "journal"
    journal.write_text("done: everything\n")
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(journal))
    assert_refused(
        run,
        f"retention: error: cannot read the apply journal {journal}: "
        "Expecting value: line 1 column 1 (char 0)",
        small,
    )
    assert journal.read_text() == "done: everything\n"


def test_a_fifo_where_the_journal_writes_its_temporary_file(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The temporary file is only ever created anew: a FIFO in its place is refused, not
    opened (which would hang), and kept."""
    journal = tmp_path / "journal"
    tmp = make_fifo(tmp_path / ".journal.tmp")
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(journal))
    assert_refused(
        run,
        f"retention: error: cannot write {journal}: {tmp}, its temporary file, is in the way; "
        "remove it",
        small,
    )
    assert stat.S_ISFIFO(tmp.lstat().st_mode)
    assert not journal.exists()


def test_a_temporary_file_left_by_a_killed_apply_is_no_obstacle(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A half-written temporary journal of an apply killed mid-save is replaced; the apply, its
    journal and its report are written in full, and no temporary file is left."""
    journal = tmp_path / "journal"
    (tmp_path / ".journal.tmp").write_text('{"plan": "sha')
    report = tmp_path / "report.json"
    run = run_cli(
        capsys, "apply", *planned.args, "--journal", str(journal), "--report", str(report)
    )
    assert run.code == 0, run.err
    planned_records = sum(map(drafts, SMALL.values()))
    assert sum(counts(small).values()) == sum(SMALL.values()) - planned_records
    assert sum(e["deleted"] for e in json.loads(journal.read_text())["done"].values()) == (
        planned_records
    )
    assert json.loads(report.read_text())["deleted"] == planned_records
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_report_that_is_no_regular_file(
    small: Live, planned: Planned, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--report is refused the same way, before anything is deleted, and left as it was."""
    make, reason = KINDS[kind]
    report = make(tmp_path / "report")
    run = run_cli(capsys, "apply", *planned.args, "--report", str(report))
    assert_refused(run, f"retention: error: cannot write {report}: {reason}", small)
    assert_still_there(report, kind)
    assert not planned.journal.exists()


@pytest.mark.parametrize("kind", list(KINDS))
def test_plan_out_that_is_no_regular_file(
    small: Live, policies: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan --out is refused before planning: no plan is printed, the target is left alone."""
    (policies / "drafts.yaml").write_text(yaml_text(policy("drafts", "support", ["*"], [DRAFTS])))
    make, reason = KINDS[kind]
    out = make(tmp_path / "plan.json")
    run = run_cli(capsys, "plan", str(policies), "--out", str(out))
    assert_refused(run, f"retention: error: cannot write {out}: {reason}", small)
    assert_still_there(out, kind)


def test_policies_mode_checks_the_journal_before_planning(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply POLICIES --auto-approve --journal FIFO plans nothing and deletes nothing."""
    (policies / "drafts.yaml").write_text(yaml_text(policy("drafts", "support", ["*"], [DRAFTS])))
    journal = make_fifo(tmp_path / "journal")
    run = run_cli(capsys, "apply", str(policies), "--auto-approve", "--journal", str(journal))
    assert_refused(
        run,
        f"retention: error: cannot write {journal}: it is a named pipe (FIFO), not a regular file",
        small,
    )


# -- files that would overwrite one another


def test_a_journal_that_is_the_plan_file(
    small: Live, planned: Planned, capsys: pytest.CaptureFixture[str]
) -> None:
    """The journal would overwrite the plan it records: refused, the plan kept."""
    before = planned.file.read_text()
    run = run_cli(capsys, "apply", *planned.args, "--journal", str(planned.file))
    assert_refused(
        run,
        f"retention: error: --journal {planned.file} is the file being applied; name another file",
        small,
    )
    assert planned.file.read_text() == before


def test_a_report_that_is_the_plan_file(
    small: Live, planned: Planned, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report would overwrite the plan: refused, whichever spelling names it."""
    spelled = f"{planned.file.parent}/./{planned.file.name}"
    run = run_cli(capsys, "apply", *planned.args, "--report", spelled)
    assert_refused(
        run,
        f"retention: error: --report {spelled} is the file being applied; name another file",
        small,
    )


def test_a_report_that_is_the_journal(
    small: Live, planned: Planned, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report would overwrite the journal, and a re-run would lose what was finished."""
    both = tmp_path / "apply.json"
    run = run_cli(capsys, "apply", *planned.args, "--report", str(both), "--journal", str(both))
    assert_refused(
        run,
        f"retention: error: --report and --journal name the same file {both}; give each its own",
        small,
    )
    assert not both.exists()


# -- the numeric options


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--tolerance", "nan"], "--tolerance must be a finite percentage >= 0, got: nan"),
        (["--tolerance", "inf"], "--tolerance must be a finite percentage >= 0, got: inf"),
        (["--tolerance", "-1"], "--tolerance must be a finite percentage >= 0, got: -1"),
        (
            ["--verify-timeout", "nan"],
            "--verify-timeout must be a finite number of seconds >= 0, got: nan",
        ),
        (
            ["--verify-timeout", "inf"],
            "--verify-timeout must be a finite number of seconds >= 0, got: inf",
        ),
        (
            ["--verify-timeout", "-0.5"],
            "--verify-timeout must be a finite number of seconds >= 0, got: -0.5",
        ),
        (["--max-records", "-1"], "--max-records must be a number of records >= 0, got: -1"),
        (["--max-age", "0s"], "--max-age: must be positive, got: 0s"),
        (
            ["--max-age", "soon"],
            "--max-age: invalid duration 'soon': write a duration as a whole number followed "
            "by s, m, h, d or w (for example 90d)",
        ),
    ],
)
def test_apply_options_that_cannot_work(
    small: Live,
    planned: Planned,
    args: list[str],
    line: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each is refused before the plan is read: nothing deleted, no journal started."""
    run = run_cli(capsys, "apply", *planned.args, *args)
    assert_refused(run, f"retention: error: {line}", small)
    assert not planned.journal.exists()


def test_the_lowest_values_still_apply(
    small: Live, planned: Planned, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tolerance 0 and --verify-timeout 0 are values, not mistakes: the plan is applied."""
    run = run_cli(capsys, "apply", *planned.args, "--tolerance", "0", "--verify-timeout", "0")
    assert run.code == 0, run.err
    assert sum(counts(small).values()) == sum(SMALL.values()) - sum(map(drafts, SMALL.values()))


def test_a_report_that_is_the_default_journal(
    planned: Planned, small: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """--report PLANFILE.journal would overwrite the journal next to the plan: refused."""
    before = {ns: len(small.emulator.records("support", ns)) for ns in SMALL}
    run = run_cli(capsys, "apply", *planned.args, "--report", str(planned.journal))
    assert run.code == 1
    assert run.messages == [
        f"retention: error: --report {planned.journal} is the apply journal; name another file"
    ]
    assert {ns: len(small.emulator.records("support", ns)) for ns in SMALL} == before


def test_a_report_that_would_overwrite_a_policy_file(
    planned: Planned, small: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    """--report naming a reviewed policy file under PATH is refused before any work."""
    target = planned.policies / "drafts.yaml"
    before = {ns: len(small.emulator.records("support", ns)) for ns in SMALL}
    run = run_cli(capsys, "apply", *planned.args, "--report", str(target))
    assert run.code == 1
    assert run.messages == [
        f"retention: error: --report {target} is one of the policy or ID files being applied; name "
        "another file"
    ]
    assert {ns: len(small.emulator.records("support", ns)) for ns in SMALL} == before
    assert target.read_text().startswith("apiVersion: retention/v1")
