"""Loading policies into the model: examples, positions, digests, durations and TTL cutoffs."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from retention.cli import main
from retention.errors import PolicyErrors
from retention.filters import Compare, describe, to_json
from retention.policy import NamespaceSelector, Ttl, load_policies
from retention.policy.durations import check_schedule, format_duration, parse_duration
from retention.policy.model import (
    DropNamespaces,
    EmptyNamespaces,
    IdList,
    IdsFromFile,
    IdsWithPrefix,
    Matching,
)
from retention.policy.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies"


def test_every_example_policy_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped examples validate, so the docs cannot drift from the language."""
    assert main(["validate", str(EXAMPLES)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "ok: 5 policies, 1 legal hold and 3 policy tests in 6 files"
    )


def test_each_example_file_names_the_schema_for_editors() -> None:
    """Every example carries the yaml-language-server modeline pointing at the schema."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/retention-policy.v1.json"
        assert (path.parent / "../schemas/retention-policy.v1.json").resolve().is_file()


def test_schema_is_valid_2020_12_with_an_id() -> None:
    """The schema is a valid draft 2020-12 schema and carries an $id."""
    schema = load_schema("retention-policy.v1.json")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("retention-policy:v1")
    on_disk = json.loads((ROOT / "schemas" / "retention-policy.v1.json").read_text())
    assert on_disk == schema


def test_examples_load_into_the_model() -> None:
    """The support-tickets example becomes the policy its YAML says, with the hold attached."""
    loaded = load_policies([EXAMPLES])
    by_name = {p.name: p for p in loaded.policies}
    assert sorted(by_name) == [
        "assistant-transcripts",
        "gdpr-erasure",
        "knowledge-base",
        "scratch-purge",
        "support-tickets",
    ]
    tickets = by_name["support-tickets"]
    assert tickets.index == "support-prod"
    assert tickets.namespaces.matches("tenant-acme")
    assert tickets.namespaces.matches("")  # the default namespace, as old APIs name it
    assert not tickets.namespaces.matches("tenant-legal-eu")
    assert [r.kind for r in tickets.rules] == ["filter", "filter"]
    assert tickets.guards.max_records == 100_000
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    condition = tickets.rules[0].condition(now)
    assert condition is not None
    assert describe(condition, tickets.rules[0].time_fields) == (
        'created_at < 2026-08-26T03:00:00Z and source == "zendesk"'
    )
    protections = loaded.protections_for(tickets, "tenant-acme")
    assert [to_json(p) for p in protections] == [
        {"legal_hold": {"$eq": True}},
        {"case_id": {"$in": ["C-1", "C-7"]}},
    ]
    assert loaded.protections_for(tickets, "tenant-other") == tickets.protect
    gdpr = by_name["gdpr-erasure"]
    assert gdpr.rules[0].ids_file is not None and gdpr.rules[0].ids_file.count == 6
    assert by_name["scratch-purge"].rules[0].kind == "deleteAll"
    assert by_name["knowledge-base"].rules[0].selects == IdsWithPrefix("doc-123#")


def test_digest_follows_content_not_location(tmp_path: Path) -> None:
    """The digest is the same for a copy elsewhere and changes when a policy or ID file does."""
    copy = tmp_path / "copy"
    shutil.copytree(EXAMPLES, copy)
    assert load_policies([copy]).digest == load_policies([EXAMPLES]).digest
    ids = copy / "erasure" / "2026-11.txt"
    ids.write_text(ids.read_text() + "user-9#msg-1\n")
    assert load_policies([copy]).digest != load_policies([EXAMPLES]).digest


def test_configmap_mount_is_read_once(tmp_path: Path) -> None:
    """Kubernetes mounts a ConfigMap as links into a hidden ..data folder: read each file once."""
    real = tmp_path / "..2026_11_24_03_00_00.123"
    shutil.copytree(EXAMPLES, real)
    (tmp_path / "..data").symlink_to(real.name)
    for entry in sorted(EXAMPLES.iterdir()):
        (tmp_path / entry.name).symlink_to(Path("..data") / entry.name)
    loaded = load_policies([tmp_path])
    assert len(loaded.policies) == 5
    assert all("..data" not in f and "..2026" not in f for f in loaded.files)


def test_several_documents_per_file_and_yaml_12_booleans(tmp_path: Path) -> None:
    """Documents split by --- load separately; a quoted 'no' stays a string, and a date too."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "---\n"
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {name: a}\n"
        "spec:\n  index: idx\n  namespaces: {include: [x]}\n"
        "  rules: [{name: r, where: {country: 'no'}}]\n"
        "---\n"
        "---\n"
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {name: b}\n"
        "spec:\n  index: idx\n  namespaces: {include: [x]}\n"
        "  rules: [{name: r, where: {day: 2026-01-01}}]\n"
    )
    loaded = load_policies([policy])
    assert [p.name for p in loaded.policies] == ["a", "b"]
    assert loaded.policies[0].rules[0].where == Compare("country", "$eq", "no")
    assert loaded.policies[1].rules[0].where == Compare("day", "$eq", "2026-01-01")


def test_errors_are_raised_together(tmp_path: Path) -> None:
    """load_policies raises one PolicyErrors carrying every problem, sorted by position."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {name: a}\n"
        "spec:\n  index: idx\n  namespaces: {include: [x]}\n"
        "  rules: [{name: R, where: {a: 1}}, {name: s, olderThan: 1y, field: t}]\n"
    )
    with pytest.raises(PolicyErrors) as caught:
        load_policies([policy])
    assert [(e.location.line, e.location.column) for e in caught.value.errors] == [(7, 18), (7, 58)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("15m", timedelta(minutes=15)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    """Durations parse to exact timedeltas and print back the same."""
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


@pytest.mark.parametrize("text", ["30x", "-3d", "1.5d", "d", "", "90 d", "1y"])
def test_bad_durations(text: str) -> None:
    """Anything but a positive whole number and a unit is refused with the rule spelled out."""
    with pytest.raises(ValueError, match="whole number followed by s, m, h, d or w"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0d", "must be positive, got: 0d"),
        ("00s", "must be positive, got: 00s"),
        ("36501d", "duration '36501d' is longer than 100 years (36500d)"),
        ("999999999w", "duration '999999999w' is longer than 100 years (36500d)"),
    ],
)
def test_durations_are_positive_and_at_most_a_century(text: str, message: str) -> None:
    """Zero and durations past 100 years (which would reach before year 1) are refused."""
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message
    assert parse_duration("36500d") == timedelta(days=36500)


def test_ttl_cutoff_in_seconds_and_milliseconds() -> None:
    """A TTL turns into an absolute cutoff given now, in the field's unit."""
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    cutoff = datetime(2026, 8, 26, 3, 0, tzinfo=UTC).timestamp()
    assert Ttl(timedelta(days=90), "created_at").cutoff(now) == cutoff
    assert Ttl(timedelta(days=90), "created_at", "ms").cutoff(now) == cutoff * 1000
    assert Ttl(timedelta(days=90), "t", "ms").condition(now) == Compare(
        "t", "$lt", int(cutoff * 1000)
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        Ttl(timedelta(days=1), "t").cutoff(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("0 3 * * *", True),
        ("*/15 * * * mon-fri", True),
        ("30s", True),
        ("1d", True),
        ("0 3 * *", False),
        ("61 * * * *", False),
        ("0 3 * * funday", False),
        ("*/0 * * * *", False),
        ("every day", False),
    ],
)
def test_schedules(schedule: str, ok: bool) -> None:
    """Cron expressions (5 fields, UTC) and intervals are accepted; anything else is not."""
    assert (check_schedule(schedule) is None) is ok


def test_namespace_selector_exclude_wins() -> None:
    """Include globs select namespaces, exclude globs remove them again."""
    selector = NamespaceSelector(("tenant-*", "__default__"), ("tenant-legal-*",))
    assert [
        n for n in ["tenant-a", "tenant-legal-x", "__default__", "other"] if selector.matches(n)
    ] == [
        "tenant-a",
        "__default__",
    ]


def test_on_invalid_timestamps_defaults_to_warn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """spec.onInvalidTimestamps reaches the model as warn (the default) or fail, nothing else."""
    rule = "  rules: [{name: r, olderThan: 30d, field: t}]\n"
    head = "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {{name: {}}}\n"
    head += "spec:\n  index: idx\n  namespaces: {{include: [x]}}\n"
    (tmp_path / "a.yaml").write_text(head.format("a") + rule)
    (tmp_path / "b.yaml").write_text(head.format("b") + "  onInvalidTimestamps: fail\n" + rule)
    loaded = {p.name: p.on_invalid_timestamps for p in load_policies([tmp_path]).policies}
    assert loaded == {"a": "warn", "b": "fail"}
    bad = tmp_path / "bad" / "c.yaml"
    bad.parent.mkdir()
    bad.write_text(head.format("c") + "  onInvalidTimestamps: ignore\n" + rule)
    assert main(["validate", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}:7:24: error: spec.onInvalidTimestamps: must be one of warn, fail; got string "
        "'ignore'"
    ]


def test_each_rule_form_loads_as_its_own_selector(tmp_path: Path) -> None:
    """A rule's YAML keys become one selector variant, with the conditions it may carry."""
    (tmp_path / "ids.txt").write_text("a\nb\n")
    (tmp_path / "p.yaml").write_text(
        """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: p}
spec:
  index: idx
  namespaces: {include: ["t-*"]}
  rules:
    - {name: ttl, olderThan: 1d, field: created_at}
    - {name: where, where: {source: chat}}
    - {name: listed, ids: [a], where: {source: chat}}
    - {name: file, idsFile: ids.txt, olderThan: 1d, field: created_at}
    - {name: prefix, idPrefix: "doc#"}
    - {name: all, deleteAll: true}
    - {name: gone, deleteNamespace: true}
"""
    )
    rules = {r.name: r.selects for r in load_policies([tmp_path]).policies[0].rules}
    day = Ttl(timedelta(days=1), "created_at")
    chat = Compare("source", "$eq", "chat")
    assert rules["ttl"] == Matching(ttl=day)
    assert rules["where"] == Matching(where=chat)
    assert rules["listed"] == IdList(("a",), where=chat)
    assert isinstance(rules["file"], IdsFromFile) and rules["file"].ttl == day
    assert rules["file"].file.count == 2
    assert rules["prefix"] == IdsWithPrefix("doc#")
    assert rules["all"] == EmptyNamespaces()
    assert rules["gone"] == DropNamespaces()


def test_a_condition_selector_cannot_be_empty() -> None:
    """The one state the schema forbids that the variant could still hold is refused."""
    with pytest.raises(ValueError, match="needs olderThan or where"):
        Matching()
