"""What `retention plan` prints and writes: totals, the plan file, fingerprint, exit codes, colour."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from retention.planning.plan import from_document
from retention.planning.render import RED, RESET
from retention.policy.schema import load_schema
from tests.builders import policy, ttl_rule, yaml_text
from tests.cli.conftest import SMALL, Live
from tests.cli.helpers import AT, commit_all, init_repo, older_than, run_cli, seed_tenants

KB = {"docs": 1_200}
TOTALS = "2,550 records to delete in 3 namespaces of 2 indexes ("
BEFORE_ANY_EXPIRY = "2026-06-01T00:00:00Z"
"""Every seeded record was created after this moment, so nothing is old enough to delete."""


@pytest.fixture
def two_indexes(small: Live) -> Live:
    """The small dataset plus index `kb` with KB's namespaces."""
    seed_tenants(small.emulator, "kb", KB)
    return small


@pytest.fixture
def folder(policies: Path) -> Path:
    """`tickets` expires support records after 30 days, `docs` expires kb records after 90."""
    (policies / "tickets.yaml").write_text(
        yaml_text(policy("tickets", "support", ["*"], [ttl_rule("expire", "30d")]))
    )
    (policies / "docs.yaml").write_text(
        yaml_text(policy("docs", "kb", ["*"], [ttl_rule("expire", "90d")]))
    )
    return policies


def test_expected_totals_match_the_dataset() -> None:
    """The literal totals agree with counts computed from the seeded records."""
    support = sum(older_than(n, 30) for n in SMALL.values())
    assert support + older_than(KB["docs"], 90) == 2_550


def test_text_totals_line(
    two_indexes: Live, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text plan ends with the totals line, thousands separated."""
    run = run_cli(capsys, "plan", str(folder), "--at", AT)
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1].startswith("Plan: " + TOTALS)


def test_markdown_totals_heading(
    two_indexes: Live, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The markdown plan opens with the same totals as its heading."""
    run = run_cli(capsys, "plan", str(folder), "--at", AT, "--format", "markdown")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith("### retention plan: " + TOTALS)
    assert (
        "| `tickets` | ready | 2,250 | 2,250 | ✅ maxPercent 75% ≤ 100% (tenant-a), "
        "✅ maxPercent 75% ≤ 100% (tenant-b) |"
    ) in run.out
    assert "| `docs` | ready | 300 | 300 | ✅ maxPercent 25% ≤ 100% (docs) |" in run.out


def test_plan_file_validates_against_the_schema(
    two_indexes: Live, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--out` writes a plan.v1 document, the same one `--format json` prints."""
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(folder), "--at", AT, "--format", "json", "--out", str(out))
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    Draft202012Validator(load_schema("plan.v1.json")).validate(doc)
    assert json.loads(run.out) == doc
    assert doc["totals"]["records"] == 2_550
    assert doc["fingerprint"].startswith("sha256:")
    assert len(doc["fingerprint"]) == len("sha256:") + 64
    assert doc["sources"]["gitRevision"] is None


def test_fingerprint_binds_the_git_revision(
    two_indexes: Live, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a git repository the plan records HEAD, and its fingerprint changes with it."""
    repo = tmp_path / "repo"
    init_repo(repo)
    shutil.copytree(folder, repo / "policies")
    head = commit_all(repo, "policies")
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(repo / "policies"), "--at", AT, "--out", str(out))
    assert run.code == 0, run.err
    assert f", git {head[:12]})" in run.out.splitlines()[0]
    doc = json.loads(out.read_text())
    assert doc["sources"]["gitRevision"] == head
    assert from_document(doc).fingerprint == doc["fingerprint"]

    outside = tmp_path / "outside.json"
    assert run_cli(capsys, "plan", str(folder), "--at", AT, "--out", str(outside)).code == 0
    unversioned = json.loads(outside.read_text())
    assert unversioned["sources"]["digest"] == doc["sources"]["digest"]
    assert unversioned["fingerprint"] and unversioned["fingerprint"] != doc["fingerprint"]


@pytest.mark.parametrize(
    ("at", "flag", "code", "last"),
    [
        (BEFORE_ANY_EXPIRY, True, 0, "Plan: nothing to delete."),
        (AT, True, 2, "Plan: " + TOTALS),
        (AT, False, 0, "Plan: " + TOTALS),
    ],
)
def test_detailed_exitcode(
    two_indexes: Live,
    folder: Path,
    at: str,
    flag: bool,
    code: int,
    last: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--detailed-exitcode` exits 2 only when something would be deleted; without it, 0."""
    args = ["plan", str(folder), "--at", at] + (["--detailed-exitcode"] if flag else [])
    run = run_cli(capsys, *args)
    assert run.code == code, run.err
    assert run.out.splitlines()[-1].startswith(last)


def test_no_colour_in_captured_output(
    two_indexes: Live, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output that is not a terminal carries no escape codes, in either format."""
    for fmt in ("text", "markdown"):
        run = run_cli(capsys, "plan", str(folder), "--at", AT, "--format", fmt)
        assert run.code == 0, run.err
        assert "\x1b[" not in run.out + run.err


def test_colour_only_on_a_terminal(
    two_indexes: Live,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A terminal gets red deletions, unless NO_COLOR is set; markdown never has colour."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    run = run_cli(capsys, "plan", str(folder), "--at", AT)
    assert f"{RED}-   tickets/expire  deleteByFilter  1,800 records{RESET}" in run.out
    markdown = run_cli(capsys, "plan", str(folder), "--at", AT, "--format", "markdown")
    assert "\x1b[" not in markdown.out
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run_cli(capsys, "plan", str(folder), "--at", AT)
    assert "\x1b[" not in plain.out
    assert "-   tickets/expire  deleteByFilter  1,800 records" in plain.out
