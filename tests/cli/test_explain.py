"""`retention explain`: each verdict kind, offline and live, reading-dependent verdicts, and bad
input as one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator
from tests.builders import hold, policy, seed, write_policies
from tests.cli.conftest import Live
from tests.cli.helpers import AT, AT_EPOCH, DAY, run_cli

OLD = AT_EPOCH - 100 * DAY
NEW = AT_EPOCH - DAY


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Policies on index `support`: a TTL rule with a protection, an ID-file rule, an
    observe-mode policy, and a legal hold on tenant-held."""
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "erase.txt").write_text("u-1\nu-2\n")
    write_policies(
        folder,
        [
            policy(
                "tickets",
                "support",
                ["tenant-*"],
                [{"name": "old", "olderThan": "90d", "field": "created_at"}],
                protect=[{"legal_hold": True}],
            ),
            policy("erasure", "support", ["tenant-*"], [{"name": "file", "idsFile": "erase.txt"}]),
            policy(
                "drafts",
                "support",
                ["tenant-*"],
                [{"name": "drafts", "where": {"kind": "draft"}}],
                mode="observe",
            ),
            hold("case-9", "support", ["tenant-held"], [{"case": "C-9"}]),
        ],
    )
    return folder


def records(tmp_path: Path, *items: dict[str, Any]) -> str:
    path = tmp_path / "records.yaml"
    path.write_text(json.dumps(list(items)))
    return str(path)


def verdicts(capsys: pytest.CaptureFixture[str], *argv: str) -> list[list[dict[str, Any]]]:
    run = run_cli(capsys, "explain", *argv, "--at", AT, "--format", "json")
    assert run.code == 0, run.err
    return [r["verdicts"] for r in json.loads(run.out)["records"]]


def test_each_verdict_kind_offline(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleted by a TTL rule, by an ID file; kept by a policy's protect, by a legal hold, by
    observe mode; untouched. The verdict holds under every reading."""
    file = records(
        tmp_path,
        {"id": "t-old", "namespace": "tenant-a", "metadata": {"created_at": OLD}},
        {"id": "u-1", "namespace": "tenant-a", "metadata": {"created_at": NEW}},
        {
            "id": "t-hold",
            "namespace": "tenant-a",
            "metadata": {"created_at": OLD, "legal_hold": True},
        },
        {
            "id": "t-case",
            "namespace": "tenant-held",
            "metadata": {"created_at": OLD, "case": "C-9"},
        },
        {
            "id": "t-draft",
            "namespace": "tenant-a",
            "metadata": {"created_at": NEW, "kind": "draft"},
        },
        {"id": "t-new", "namespace": "tenant-a", "metadata": {"created_at": NEW}},
        {"id": "t-else", "namespace": "other", "metadata": {"created_at": OLD}},
    )
    got = verdicts(capsys, str(tree), "--record", file, "--index", "support")
    assert [[(v["outcome"], v["by"], len(v["readings"])) for v in r] for r in got] == [
        [("deleted", "tickets/old", 8)],
        [("deleted", "erasure/file", 8)],
        [("kept", "protect of policy tickets", 8)],
        [("kept", "legal hold case-9", 8)],
        [("kept", "observe mode", 8)],
        [("untouched", None, 8)],
        [("untouched", None, 8)],
    ]


def test_the_text_names_rules_protections_and_the_verdict(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = {"created_at": OLD, "legal_hold": True}
    file = records(tmp_path, {"id": "t-hold", "namespace": "tenant-a", "metadata": held})
    run = run_cli(capsys, "explain", str(tree), "--record", file, "--index", "support", "--at", AT)
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "record t-hold in support/tenant-a",
        "  verdict: kept by protect of policy tickets",
        "  rule tickets/old: selects it",
        "    when created_at < 2026-10-03T00:00:00Z",
        "  rule erasure/file: does not select it",
        f"    when ID listed in {tree}/erase.txt",
        "  rule drafts/drafts (observe mode): does not select it",
        '    when kind == "draft"',
        "  protect of policy tickets: matches: legal_hold == true",
    ]


def test_a_verdict_that_depends_on_a_reading_says_so_and_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`$ne` on a record without the field: whether Pinecone matches it is undocumented, so
    the record is deleted under half the readings and untouched under the others."""
    folder = write_policies(
        tmp_path / "p",
        [policy("p", "support", ["*"], [{"name": "not-x", "where": {"kind": {"$ne": "x"}}}])],
    )
    file = records(tmp_path, {"id": "r", "namespace": "ns", "metadata": {"other": 1}})
    run = run_cli(capsys, "explain", str(folder), "--record", file, "--index", "support")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[1] == "  verdict: depends on how Pinecone reads its undocumented filter corners"
    deleted = lines.index("    deleted by p/not-x under:")
    untouched = lines.index("    untouched: no rule selects it under:")
    assert lines[untouched + 1] == (
        "      ne-on-missing=no-match, nin-on-missing=match, list-negation=none_equal (the default)"
    )
    assert "      ne-on-missing=match, nin-on-missing=match, list-negation=none_equal" in (
        lines[deleted:untouched] if deleted < untouched else lines[deleted:]
    )
    [got] = verdicts(capsys, str(folder), "--record", file, "--index", "support")
    assert sorted((v["outcome"], len(v["readings"])) for v in got) == [
        ("deleted", 4),
        ("untouched", 4),
    ]


def test_live_records_are_fetched_and_explained(
    small: Live, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live: the records come from the index (read-only); positional words that are not
    paths are IDs."""
    emulator: Emulator = small.emulator
    seed(emulator, "support", {"tenant-a": {"live-old": {"created_at": OLD}, "u-2": {}}})
    before = dict(emulator.records("support", "tenant-a"))
    got = verdicts(
        capsys, str(tree), "--index", "support", "--namespace", "tenant-a", "live-old", "u-2"
    )
    assert [[(v["outcome"], v["by"]) for v in r] for r in got] == [
        [("deleted", "tickets/old")],
        [("deleted", "erasure/file")],
    ]
    assert emulator.records("support", "tenant-a").keys() == before.keys()


def test_a_live_id_that_is_not_there_is_one_line(
    small: Live, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(
        capsys, "explain", str(tree), "--index", "support", "--namespace", "tenant-a", "nope"
    )
    assert (run.code, run.out) == (1, "")
    assert run.messages == ["retention: error: no record 'nope' in support/tenant-a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "{f}:1:2: not a record file: expected the node content, but found '<stream end>'"),
        ("[]", "{f}: a record file is a non-empty list of records"),
        (
            '[{"id": "a", "metadata": {"x": [1]}}]',
            "{f}: record 1 ('a'): metadata field 'x' is "
            "not a string, number, boolean or list of strings, so Pinecone would not store it",
        ),
        (
            '[{"id": "a", "extra": 1}]',
            "{f}: record 1 has an unknown key 'extra' (id, namespace, metadata, index)",
        ),
        ('[{"namespace": "n"}]', "{f}: record 1: id must be a string of 1 to 512 characters"),
        ("[1]", "{f}: record 1 is not a mapping with id, namespace and metadata"),
    ],
)
def test_bad_record_files_are_one_line(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    run = run_cli(capsys, "explain", str(tree), "--record", str(path), "--index", "support")
    assert (run.code, run.out) == (1, "")
    assert run.messages == ["retention: error: " + message.format(f=path)]


def test_a_mistyped_policy_path_with_a_record_file_is_one_line(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = records(tmp_path, {"id": "a", "namespace": "n", "metadata": {}})
    run = run_cli(capsys, "explain", str(tree) + "x", "--record", file)
    assert (run.code, run.out) == (1, "")
    assert run.messages == [f"{tree}x:1:1: error: no such file or directory"]
