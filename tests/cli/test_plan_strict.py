"""`retention plan --strict`: a plan with any warning exits 1, after it is printed and written,
so that CI can refuse a policy change that protects or selects nothing by mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import policy, seed, ttl_rule, yaml_text
from tests.cli.conftest import Live
from tests.cli.helpers import AT, run_cli

HOLD_TYPO = """\
apiVersion: retention/v1
kind: LegalHold
metadata:
  name: litigation
spec:
  index: support
  namespaces:
    include: ["tenant-c"]
  protect:
    - {case_id: {$eq: C-1}}
"""
HOLD_WARNING = (
    "legal hold 'litigation' protects nothing: no namespace of index 'support' matches its "
    "patterns (namespaces: tenant-c); check its spec.index and spec.namespaces"
)


def write(policies: Path, *extra: str) -> None:
    (policies / "tickets.yaml").write_text(
        yaml_text(policy("tickets", "support", ["*"], [ttl_rule("old", "90d")]))
    )
    for i, text in enumerate(extra):
        (policies / f"extra-{i}.yaml").write_text(text)


def ghost(name: str) -> str:
    return yaml_text(policy(name, "support", ["nosuch-*"], [ttl_rule("old", "90d")]))


def test_a_clean_plan_passes(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(policies)
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--strict")
    assert (run.code, run.err) == (0, "")


def test_a_hold_that_matches_nothing_fails_after_printing_and_writing(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same plan is printed and written as without --strict; then one line and exit 1."""
    write(policies, HOLD_TYPO)
    lax = run_cli(capsys, "plan", str(policies), "--at", AT)
    assert lax.code == 0, lax.err
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--strict", "--out", str(out))
    assert run.code == 1
    assert run.out == lax.out
    assert HOLD_WARNING in run.out
    assert run.messages == [f"retention: error: --strict: 1 warning; first: {HOLD_WARNING}"]
    assert json.loads(out.read_text())["warnings"] == [HOLD_WARNING]


def test_several_warnings_are_counted(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(policies, ghost("ghost-a") + "---\n" + ghost("ghost-b"))
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--strict", "--format", "json")
    assert run.code == 1
    warnings = json.loads(run.out)["warnings"]
    assert warnings == [
        "policy 'ghost-a' matches no namespace of index 'support'",
        "policy 'ghost-b' matches no namespace of index 'support'",
    ]
    assert run.messages == [f"retention: error: --strict: 2 warnings; first: {warnings[0]}"]


def test_strict_wins_over_the_detailed_exit_code(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deletions planned (2) and a warning (1): the warning decides."""
    write(policies, ghost("ghost"))
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--detailed-exitcode")
    assert run.code == 2
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--detailed-exitcode", "--strict")
    assert run.code == 1
    assert run.messages == [
        "retention: error: --strict: 1 warning; first: policy 'ghost' matches no namespace of "
        "index 'support'"
    ]


def test_the_help_says_what_strict_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "plan", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--strict exit 1 when the plan has any warning, such as a legal hold or a policy that "
        "matches nothing (the plan is still printed, and written to --out)"
    ) in text


def test_records_that_never_expire_are_a_warning(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three tickets whose created_at is text: the plan goes on, --strict refuses it."""
    odd = {f"odd-{i}": {"created_at": "last week", "kind": "final"} for i in range(3)}
    seed(small.emulator, "support", {"tenant-b": odd})
    write(policies)
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--strict")
    assert run.code == 1
    assert run.messages == [
        "retention: error: --strict: 1 warning; first: policy 'tickets' rule 'old': 3 records of "
        "namespace 'tenant-b' (index 'support') hold a non-numeric created_at and never expire "
        "under this rule"
    ]
