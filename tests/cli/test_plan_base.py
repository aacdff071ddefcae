"""`retention plan --base GITREF`: what a policy change adds or removes, against live data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import policy, ttl_rule, where_rule, yaml_text
from tests.cli.conftest import SMALL, Live
from tests.cli.helpers import (
    AT,
    commit_all,
    drafts,
    expired_or_draft,
    init_repo,
    older_than,
    run_cli,
)

CHANGE = """\
Compared with HEAD~1:
+240 records in tenant-a: tickets/drop-drafts (new rule)
+60 records in tenant-b: tickets/drop-drafts (new rule)
+1,200 records in tenant-a: tickets/expire 90d -> 30d
+300 records in tenant-b: tickets/expire 90d -> 30d
Net: +1,800 records.
"""

ALL_NEW = """\
Compared with HEAD~2:
+240 records in tenant-a: tickets/drop-drafts (new policy)
+60 records in tenant-b: tickets/drop-drafts (new policy)
+1,800 records in tenant-a: tickets/expire (new policy)
+450 records in tenant-b: tickets/expire (new policy)
Net: +2,550 records.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits: no policies yet; `expire` at 90d; `expire` at 30d plus `drop-drafts`."""
    root = tmp_path / "repo"
    init_repo(root)
    (root / "README.md").write_text("policies come later\n")
    commit_all(root, "start")
    (root / "policies").mkdir()
    tickets = root / "policies" / "tickets.yaml"
    tickets.write_text(yaml_text(policy("tickets", "support", ["*"], [ttl_rule("expire", "90d")])))
    commit_all(root, "tickets: 90 days")
    rules = [ttl_rule("expire", "30d"), where_rule("drop-drafts", kind={"$eq": "draft"})]
    tickets.write_text(yaml_text(policy("tickets", "support", ["*"], rules)))
    commit_all(root, "tickets: 30 days, drop drafts")
    return root


def test_expected_figures_match_the_dataset() -> None:
    """The literal delta lines agree with counts computed from the seeded records."""
    a, b = SMALL["tenant-a"], SMALL["tenant-b"]
    assert (drafts(a), drafts(b)) == (240, 60)
    assert older_than(a, 30) - older_than(a, 90) == 1_200
    assert older_than(b, 30) - older_than(b, 90) == 300
    assert (older_than(a, 30), older_than(b, 30)) == (1_800, 450)


def test_base_text(small: Live, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text plan ends with the change against the base, one line per changed action."""
    run = run_cli(capsys, "plan", str(repo / "policies"), "--base", "HEAD~1", "--at", AT)
    assert run.code == 0, run.err
    assert run.err == ""
    plan, _, delta = run.out.rpartition("\n\n")
    union = sum(expired_or_draft(n, 30) for n in SMALL.values())
    assert union == 2_325
    assert plan.splitlines()[-1].startswith(
        "Plan: 2,325 records to delete in 2 namespaces of 1 index"
    )
    assert delta == CHANGE


def test_base_markdown(small: Live, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The markdown plan ends with the same change as a diff block under a heading."""
    run = run_cli(
        capsys,
        "plan",
        str(repo / "policies"),
        "--base",
        "HEAD~1",
        "--at",
        AT,
        "--format",
        "markdown",
    )
    assert run.code == 0, run.err
    assert run.out.endswith("\n\n#### Change against `HEAD~1`\n\n```diff\n" + CHANGE + "```\n")


def test_base_before_the_policies_existed(
    small: Live, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a revision without the policy folder, everything the plan deletes is new."""
    run = run_cli(capsys, "plan", str(repo / "policies"), "--base", "HEAD~2", "--at", AT)
    assert run.code == 0, run.err
    assert run.out.endswith("\n\n" + ALL_NEW)


def test_bad_ref(small: Live, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ref git cannot resolve is one line naming the ref and the repository."""
    run = run_cli(capsys, "plan", str(repo / "policies"), "--base", "no-such-ref", "--at", AT)
    assert run.code == 1
    assert run.out == ""
    assert "Traceback" not in run.err
    assert run.messages == [
        f"retention: error: --base no-such-ref: no such commit in the git repository {repo.resolve()}"
    ]


def test_base_with_a_path_outside_the_repository(
    small: Live, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second policy path outside the first one's repository has no history there: one line
    naming it, before anything is planned."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "scratch.yaml").write_text(
        yaml_text(policy("scratch", "support", ["*"], [ttl_rule("x", "9d")]))
    )
    first = str(repo / "policies")
    run = run_cli(capsys, "plan", first, str(elsewhere), "--base", "HEAD", "--at", AT)
    assert run.code == 1
    assert run.out == ""
    assert "Traceback" not in run.err
    assert run.messages == [
        f"retention: error: --base HEAD: {elsewhere} is outside the git repository "
        f"{repo.resolve()} of {first} (--base reads every path from that one repository)"
    ]


def test_base_outside_git(small: Live, policies: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Policies outside any repository cannot have a base; the line says why."""
    (policies / "tickets.yaml").write_text(
        yaml_text(policy("tickets", "support", ["*"], [ttl_rule("x", "9d")]))
    )
    run = run_cli(capsys, "plan", str(policies), "--base", "HEAD~1", "--at", AT)
    assert run.code == 1
    assert run.out == ""
    assert run.messages == [
        f"retention: error: --base HEAD~1: {policies} is not in a git repository "
        "(--base reads the policies from git history)"
    ]
