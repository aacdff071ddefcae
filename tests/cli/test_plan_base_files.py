"""`retention plan --base` and ID files: the base revision's copy lives elsewhere on disk, so
only a change of the file's content is a change of what the rule selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import policy, ttl_rule, yaml_text
from tests.cli.conftest import Live
from tests.cli.helpers import AT, commit_all, init_repo, run_cli

ERASE_RULE = {"name": "erase-file", "idsFile": "erase.txt"}


def ids(*numbers: int) -> str:
    return "".join(f"tenant-a-{n:05d}\n" for n in numbers)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """One commit: a GDPR policy erasing three listed records of tenant-a, and a TTL policy."""
    root = tmp_path / "repo"
    init_repo(root)
    folder = root / "policies"
    folder.mkdir()
    (folder / "gdpr.yaml").write_text(
        yaml_text(policy("gdpr", "support", ["tenant-a"], [ERASE_RULE]))
    )
    (folder / "erase.txt").write_text(ids(1, 2, 3))
    (folder / "tickets.yaml").write_text(
        yaml_text(policy("tickets", "support", ["*"], [ttl_rule("expire", "90d")]))
    )
    commit_all(root, "policies")
    return root


def base_delta(capsys: pytest.CaptureFixture[str], repo: Path) -> str:
    run = run_cli(capsys, "plan", str(repo / "policies"), "--base", "HEAD", "--at", AT)
    assert run.code == 0, run.err
    return run.out.rpartition("\n\n")[2]


def test_an_unedited_tree_has_no_change(
    small: Live, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing edited since HEAD: no line at all, for the ID-file rule as for the others."""
    assert base_delta(capsys, repo) == "Compared with HEAD: no change in what would be deleted.\n"


def test_more_ids_in_the_file(small: Live, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two IDs added to the file: two more records, and the reason is the file."""
    (repo / "policies" / "erase.txt").write_text(ids(1, 2, 3, 4, 5))
    assert base_delta(capsys, repo) == (
        "Compared with HEAD:\n+2 records in tenant-a: gdpr/erase-file ID file changed\n"
        "Net: +2 records.\n"
    )


def test_other_ids_of_the_same_count(
    small: Live, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Other records listed, as many as before: the count is unchanged, the selection is not."""
    (repo / "policies" / "erase.txt").write_text(ids(7, 8, 9))
    assert base_delta(capsys, repo) == (
        "Compared with HEAD:\n±0 records in tenant-a: gdpr/erase-file ID file changed\n"
        "Net: +0 records.\n"
    )


def test_a_rewritten_file_with_the_same_ids(
    small: Live, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file written again with the same content (a fresh mtime) is no change."""
    path = repo / "policies" / "erase.txt"
    path.write_text(path.read_text())
    assert base_delta(capsys, repo) == "Compared with HEAD: no change in what would be deleted.\n"
