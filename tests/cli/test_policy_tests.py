"""`retention test`: PolicyTest documents judged offline; passing, failing, reading-dependent
expectations, and bad test documents at FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.builders import policy, write_policies
from tests.cli.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
AT = "2027-01-01T00:00:00Z"
OLD = 1_700_000_000


def policy_test(records: list[dict[str, Any]], expect: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "retention/v1",
        "kind": "PolicyTest",
        "metadata": {"name": "examples"},
        "spec": {"at": AT, "index": "idx", "records": records, "expect": expect},
    }


def folder(tmp_path: Path, *docs: dict[str, Any]) -> Path:
    rules = [
        {"name": "old", "olderThan": "30d", "field": "created_at"},
        {"name": "not-x", "where": {"kind": {"$ne": "x"}}},
    ]
    tickets = policy("tickets", "idx", ["t-*"], rules[:1], protect=[{"hold": True}])
    others = policy("others", "idx", ["o-*"], rules[1:])
    return write_policies(tmp_path / "p", [tickets, others, *docs])


def test_the_example_policies_pass_their_tests(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "test", str(ROOT / "policies"))
    assert run.code == 0, run.out
    assert run.out.splitlines() == [
        "PASS support-examples (10 expectations)",
        "PASS knowledge-base-examples (6 expectations)",
        "PASS assistant-transcript-examples (4 expectations)",
        "3 passed, 0 failed",
    ]


def test_a_failing_expectation_is_named_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        {"id": "a", "namespace": "t-1", "metadata": {"created_at": OLD}},
        {"id": "b", "namespace": "t-1", "metadata": {"created_at": OLD, "hold": True}},
    ]
    expect = [
        {"id": "a", "deleted": True, "by": "tickets/old"},
        {"id": "b", "deleted": True},
    ]
    root = folder(tmp_path, policy_test(records, expect))
    run = run_cli(capsys, "test", str(root))
    assert run.code == 1
    assert run.out.splitlines() == [
        "FAIL examples (1 of 2 expectations failed)",
        f"  {root}/policies.yaml:57:5: error: examples: b (t-1): expected deleted, got kept by "
        "protect/tickets",
        "0 passed, 1 failed",
    ]


def test_an_expectation_that_holds_under_one_reading_only_fails_naming_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`$ne` on a missing field: deleted under half the readings, so "not deleted" fails
    there, and the failure names those readings."""
    records = [{"id": "c", "namespace": "o-1", "metadata": {}}]
    root = folder(tmp_path, policy_test(records, [{"id": "c", "deleted": False}]))
    run = run_cli(capsys, "test", str(root), "--format", "github")
    assert run.code == 1
    [annotation] = [line for line in run.out.splitlines() if line.startswith("::error")]
    assert annotation.startswith("::error file=")
    assert ",title=retention test::examples: c (o-1): expected not deleted, got deleted by " in (
        annotation
    )
    assert "others/not-x under [ne-on-missing=match, nin-on-missing=match, " in annotation
    assert "ne-on-missing=no-match" not in annotation


@pytest.mark.parametrize(
    ("records", "expect", "message"),
    [
        (
            [{"id": "a", "namespace": "t-1", "metadata": {"x": None}}],
            [{"id": "a", "deleted": True}],
            "spec.records[0].metadata.x: Pinecone stores no null values; leave the field out",
        ),
        (
            [{"id": "a", "namespace": "t-1", "metadata": {}}],
            [{"id": "z", "deleted": True}],
            "spec.expect[0].id: no record 'z' in spec.records",
        ),
        (
            [{"id": "a", "namespace": "t-1", "metadata": {}}],
            [{"id": "a", "deleted": True, "keptBy": "protect"}],
            "spec.expect[0].keptBy: a deleted record is kept by nothing; remove keptBy",
        ),
        (
            [{"id": "a", "namespace": "t-1", "metadata": {}}],
            [{"id": "a", "deleted": False, "keptBy": "magic"}],
            "spec.expect[0].keptBy: keptBy is protect, protect/POLICY, hold, hold/NAME or observe",
        ),
    ],
)
def test_bad_test_documents_are_refused_at_their_position_by_test_and_validate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
    expect: list[dict[str, Any]],
    message: str,
) -> None:
    root = folder(tmp_path, policy_test(records, expect))
    for command in ("test", "validate"):
        run = run_cli(capsys, command, str(root))
        assert run.code == 1
        [line] = [x for x in (run.out + run.err).splitlines() if ": error: " in x]
        assert line.startswith(f"{root}/policies.yaml:")
        assert line.endswith(f": error: {message}")


def test_a_bad_time_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = policy_test([{"id": "a", "metadata": {}}], [{"id": "a", "deleted": False}])
    doc["spec"]["at"] = "tomorrow"
    run = run_cli(capsys, "test", str(folder(tmp_path, doc)))
    assert run.code == 1
    assert run.err.splitlines()[0].endswith(
        "error: spec.at: 'tomorrow' is not an ISO 8601 time with a timezone, such as "
        "2026-12-01T00:00:00Z"
    )


def test_no_tests_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = folder(tmp_path)
    run = run_cli(capsys, "test", str(root))
    assert (run.code, run.out) == (1, "")
    assert run.messages == [f"retention: error: no PolicyTest documents under {root}"]


def test_allow_none_makes_no_tests_a_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--allow-none (the GitHub Action's step) passes a directory without PolicyTests."""
    root = folder(tmp_path)
    run = run_cli(capsys, "test", str(root), "--allow-none")
    assert (run.code, run.out) == (0, f"no PolicyTest documents under {root}: nothing to test\n")
