"""`retention validate` warnings: rules another rule contains, rules that can never delete,
and policies that act in the same namespaces; `--strict` makes them errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retention.cli import main
from tests.builders import policy, write_policies

TTL = {"field": "created_at", "unit": "s"}


def warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str], *docs: Any) -> list[str]:
    """The warning lines of `retention validate`, each without its FILE:LINE:COL."""
    folder = write_policies(tmp_path / "p", list(docs))
    capsys.readouterr()
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("ok: ")
    return [line.split(": warning: ", 1)[1] for line in out[:-1]]


def one(rules: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return policy("p", "idx", ["t-*"], rules, **spec)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            [{"name": "a", "where": {"kind": "x"}}, {"name": "b", "where": {"kind": "x"}}],
            "rule 'b' selects the same records as rule 'a'",
        ),
        (
            [
                {"name": "year", "olderThan": "365d", **TTL},
                {"name": "quarter", "olderThan": "90d", **TTL},
            ],
            "rule 'year' selects only records that rule 'quarter' also selects, so it deletes "
            "nothing of its own",
        ),
        (
            [
                {"name": "chat", "where": {"source": {"$in": ["chat"]}}},
                {"name": "talk", "where": {"source": {"$in": ["chat", "messenger"]}}},
            ],
            "rule 'chat' selects only records that rule 'talk' also selects, so it deletes "
            "nothing of its own",
        ),
        (
            [{"name": "two", "ids": ["doc-1#a", "doc-1#b"]}, {"name": "doc", "idPrefix": "doc-1#"}],
            "rule 'two' selects only records that rule 'doc' also selects, so it deletes "
            "nothing of its own",
        ),
        (
            [
                {"name": "old-chat", "olderThan": "30d", **TTL, "where": {"source": "chat"}},
                {"name": "all", "deleteAll": True},
            ],
            "rule 'old-chat' selects only records that rule 'all' also selects, so it deletes "
            "nothing of its own",
        ),
        (
            [{"name": "odd", "where": {"n": {"$gt": 10, "$lt": 5}}}],
            "rule 'odd' can never select a record: its conditions contradict",
        ),
    ],
    ids=["identical", "looser-ttl", "in-subset", "ids-under-prefix", "delete-all", "contradiction"],
)
def test_each_case_is_one_warning_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: list[dict[str, Any]], expected: str
) -> None:
    assert warnings(tmp_path, capsys, one(rules)) == [expected]


def test_a_rule_a_protection_always_covers_never_deletes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = one([{"name": "held", "where": {"legal_hold": True}}], protect=[{"legal_hold": True}])
    assert warnings(tmp_path, capsys, doc) == [
        "rule 'held' selects only records that protect[0] (legal_hold == true) spares, so it "
        "never deletes anything"
    ]


def test_what_cannot_be_decided_under_every_reading_says_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`$ne` and `$or` are not compared; nor TTLs in different units; nor disjoint rules."""
    rules = [
        {"name": "ne", "where": {"kind": {"$ne": "x"}}},
        {"name": "or", "where": {"$or": [{"kind": "xx"}, {"kind": "yy"}]}},
        {"name": "secs", "olderThan": "30d", **TTL},
        {"name": "millis", "olderThan": "60d", "field": "created_at", "unit": "ms"},
        {"name": "other", "where": {"kind": "z"}, "olderThan": "1d", "field": "seen_at"},
    ]
    assert warnings(tmp_path, capsys, one(rules)) == []


def test_policies_acting_in_the_same_namespaces_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = [{"name": "r", "where": {"kind": "x"}}]
    docs = [
        policy("wide", "idx", ["tenant-*"], rule),
        policy("acme", "idx", ["tenant-acme"], rule),
        policy("elsewhere", "idx", ["scratch-*"], rule),
        policy("other-index", "kb", ["tenant-*"], rule),
        policy("odd", "idx", ["t?nant-[ab]*"], rule),
    ]
    assert warnings(tmp_path, capsys, *docs) == [
        "policies 'wide' and 'acme' both act on index 'idx' in namespaces matching both "
        "'tenant-*' and 'tenant-acme'; review them together",
        "policies 'acme' and 'odd' both act on index 'idx' in namespaces matching both "
        "'tenant-acme' and 't?nant-[ab]*'; review them together",
        "policies 'wide' and 'odd' both act on index 'idx' maybe ('tenant-*' and 't?nant-[ab]*': "
        "whether a namespace matches both is not decided); review them together",
    ]


def test_strict_makes_warnings_fail_and_github_annotates_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = one([{"name": "a", "where": {"kind": "x"}}, {"name": "b", "where": {"kind": "x"}}])
    folder = write_policies(tmp_path / "p", [doc])
    capsys.readouterr()
    assert main(["validate", "--strict", "--format", "github", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"::error file={folder}/policies.yaml,line=")
    assert captured.out.rstrip().endswith(
        "title=retention validate::rule 'b' selects the same records as rule 'a'"
    )
    assert captured.err == "1 warning, refused by --strict\n"
    assert main(["validate", "--format", "github", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("::warning file=")
