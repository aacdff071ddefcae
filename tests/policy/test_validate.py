"""`retention validate` on bad input: exit 1, every error at its FILE:LINE:COL, in words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retention.cli import main
from retention.policy.yamlsource import FAST

HEADER = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata:
  name: p
spec:
  index: idx
  namespaces:
    include: ["ns-*"]
  rules:
"""

# (id, rules appended under HEADER or a whole document, expected error lines with {f} the file)
RULE_CASES = [
    (
        "unknown-operator",
        '    - name: r\n      where: {genre: {$regex: "doc.*"}}\n',
        "{f}:11:31: error: spec.rules[0].where.genre.$regex: unknown operator $regex; Pinecone "
        "supports $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists (and $and, $or at the top level)",
    ),
    (
        "range-on-string",
        '    - name: r\n      where: {year: {$gt: "2020"}}\n',
        "{f}:11:27: error: spec.rules[0].where.year.$gt: $gt compares numbers only, got string "
        "'2020' (store times as epoch numbers to compare them)",
    ),
    (
        "array-shorthand",
        "    - name: r\n      where: {genre: [a, b]}\n",
        "{f}:11:22: error: spec.rules[0].where.genre: a list is not a value for field 'genre': "
        "to match any of several values write {genre: {$in: [...]}}",
    ),
    (
        "nested-metadata",
        "    - name: r\n      where: {user: {name: bob}}\n",
        "{f}:11:21: error: spec.rules[0].where.user: field 'user' holds a nested mapping; "
        "Pinecone metadata is flat, so filter on a top-level field (for example 'user_name') "
        "or use an operator such as {$eq: ...}",
    ),
    (
        "empty-filter",
        "    - name: r\n      where: {}\n",
        "{f}:11:14: error: spec.rules[0].where: empty filter: it would match every record",
    ),
    (
        "bad-duration",
        "    - name: r\n      olderThan: 30x\n      field: created_at\n",
        "{f}:11:18: error: spec.rules[0].olderThan: write a duration as a whole number followed "
        "by s, m, h, d or w (for example 90d); got string '30x'",
    ),
    (
        "ttl-without-field",
        "    - name: r\n      olderThan: 30d\n",
        "{f}:10:7: error: spec.rules[0]: olderThan needs field: the metadata field holding each "
        "record's time as an epoch number",
    ),
    (
        "unscoped-rule",
        "    - name: r\n",
        "{f}:10:7: error: spec.rules[0]: rule 'r' has no condition, so it would delete every "
        "record; give olderThan, where, ids, idsFile or idPrefix, or say deleteAll: true to "
        "empty the namespaces",
    ),
    (
        "duplicate-rule-name",
        "    - name: r\n      where: {a: 1}\n    - name: r\n      where: {b: 1}\n",
        "{f}:12:13: error: spec.rules[1].name: rule name 'r' is already used in this policy at line 10",
    ),
    (
        "missing-ids-file",
        "    - name: r\n      idsFile: missing.txt\n",
        "{f}:11:16: error: spec.rules[0].idsFile: ids file 'missing.txt' not found "
        "(looked for {d}/missing.txt)",
    ),
    (
        "delete-all-not-literal-true",
        "    - name: r\n      deleteAll: yes\n",
        "{f}:11:18: error: spec.rules[0].deleteAll: deleteAll is an explicit opt-in and must be "
        "literally true; remove the key instead; got string 'yes'",
    ),
    (
        "ttl-field-contradiction",
        "    - name: r\n      olderThan: 30d\n      field: created_at\n"
        "      where: {created_at: {$exists: false}}\n",
        "{f}:13:14: error: spec.rules[0].where: where requires 'created_at' to be missing, but "
        "olderThan needs it to hold a time: this rule can never match",
    ),
    (
        "ttl-field-compared-with-string",
        "    - name: r\n      olderThan: 30d\n      field: created_at\n"
        "      where: {created_at: yesterday}\n",
        "{f}:13:14: error: spec.rules[0].where: where compares 'created_at' with non-numbers, "
        "but olderThan needs it to hold an epoch number: this rule can never match",
    ),
    (
        "empty-ids",
        "    - name: r\n      ids: []\n",
        "{f}:11:12: error: spec.rules[0].ids: must not be empty",
    ),
    (
        "two-id-sources",
        '    - name: r\n      idPrefix: "doc#"\n      ids: [a]\n',
        "{f}:11:7: error: spec.rules[0].idPrefix: a rule takes one ID source; 'r' has both ids "
        "and idPrefix",
    ),
    (
        "delete-all-with-condition",
        "    - name: r\n      deleteAll: true\n      where: {a: 1}\n",
        "{f}:12:7: error: spec.rules[0].where: deleteAll empties whole namespaces and cannot be "
        "combined with where",
    ),
    (
        "bad-rule-name",
        "    - name: R_1\n      where: {a: 1}\n",
        "{f}:10:13: error: spec.rules[0].name: names use lowercase letters, digits and '-', start "
        "and end with a letter or digit, at most 63 characters; got string 'R_1'",
    ),
    (
        "tautology",
        "    - name: r\n      where: {$or: [{a: {$exists: true}}, {a: {$exists: false}}]}\n",
        "{f}:11:14: error: spec.rules[0].where: this condition matches every record; to empty "
        "the namespaces say deleteAll: true",
    ),
    (
        "null-value",
        "    - name: r\n      where: {a: null}\n",
        "{f}:11:18: error: spec.rules[0].where.a: null is not a metadata value; to match records "
        "without field 'a' write {a: {$exists: false}}",
    ),
    (
        "operator-at-top",
        "    - name: r\n      where: {$gt: 5}\n",
        "{f}:11:20: error: spec.rules[0].where.$gt: operator $gt must be nested under a field, as "
        "in {field: {$gt: ...}}",
    ),
    (
        "bad-unit",
        "    - name: r\n      olderThan: 30d\n      field: created_at\n      unit: us\n",
        "{f}:13:13: error: spec.rules[0].unit: must be one of s, ms; got string 'us'",
    ),
    (
        "in-with-boolean",
        "    - name: r\n      where: {a: {$in: [true]}}\n",
        "{f}:11:25: error: spec.rules[0].where.a.$in[0]: $in takes strings and numbers, got "
        "boolean true",
    ),
    (
        "misspelled-key",
        "    - name: r\n      olderThan: 30d\n      field: created_at\n      olderthan: 3d\n",
        "{f}:13:7: error: spec.rules[0].olderthan: unknown key 'olderthan' (did you mean "
        "'olderThan'?); expected one of: deleteAll, deleteNamespace, description, field, "
        "idPrefix, ids, idsFile, name, olderThan, unit, where",
    ),
    (
        "in-too-many-values",
        "    - name: r\n      where: {tag: {$in: "
        + json.dumps([str(i) for i in range(10_001)])
        + "}}\n",
        "{f}:11:26: error: spec.rules[0].where.tag.$in: $in takes at most 10,000 values, got 10,001",
    ),
    (
        "eq-with-list",
        "    - name: r\n      where: {tag: {$eq: [a]}}\n",
        "{f}:11:26: error: spec.rules[0].where.tag.$eq: $eq takes a single value; to compare with "
        "several use $in",
    ),
    (
        "exists-not-boolean",
        "    - name: r\n      where: {tag: {$exists: 1}}\n",
        "{f}:11:30: error: spec.rules[0].where.tag.$exists: $exists takes true or false, got number 1",
    ),
    (
        "empty-in",
        "    - name: r\n      where: {tag: {$nin: []}}\n",
        "{f}:11:27: error: spec.rules[0].where.tag.$nin: $nin with an empty list excludes "
        "nothing; give at least one value",
    ),
    (
        "id-too-long",
        "    - name: r\n      ids: [" + "x" * 513 + "]\n",
        "{f}:11:13: error: spec.rules[0].ids[0]: record IDs are 1-512 ASCII characters without "
        "NUL; got a long string",
    ),
]

DOCUMENT_CASES = [
    (
        "malformed-yaml",
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata:\n  name: p\n   bad: [\n",
        "{f}:5:7: error: invalid YAML: mapping values are not allowed "
        + ("in this context" if FAST else "here"),
    ),
    (
        "unknown-api-version",
        "apiVersion: retention/v2\nkind: RetentionPolicy\n",
        "{f}:1:13: error: apiVersion 'retention/v2' is not supported; this release of retention "
        "reads retention/v1",
    ),
    (
        "unknown-kind",
        "apiVersion: retention/v1\nkind: DeletionPolicy\n",
        "{f}:2:7: error: kind 'DeletionPolicy' is not known to retention/v1; expected one of: "
        "RetentionPolicy, LegalHold, PolicyTest",
    ),
    (
        "duplicate-key",
        HEADER.replace("  index: idx\n", "  index: idx\n  index: other\n")
        + "    - name: r\n      where: {a: 1}\n",
        "{f}:7:3: error: duplicate key 'index' (first defined at line 6)",
    ),
    (
        "wrong-type",
        HEADER.replace("  rules:\n", "  limits: {maxRecords: 10k}\n  rules:\n")
        + "    - name: r\n      where: {a: 1}\n",
        "{f}:9:24: error: spec.limits.maxRecords: expected a whole number, got string '10k'",
    ),
    (
        "percent-out-of-range",
        HEADER.replace("  rules:\n", "  limits: {maxPercent: 150}\n  rules:\n")
        + "    - name: r\n      where: {a: 1}\n",
        "{f}:9:24: error: spec.limits.maxPercent: must be <= 100, got 150",
    ),
    (
        "missing-rules",
        HEADER.replace("  rules:\n", ""),
        "{f}:6:3: error: spec: missing required key 'rules'",
    ),
    (
        "bad-index-name",
        HEADER.replace("index: idx", "index: Support_Prod")
        + "    - name: r\n      where: {a: 1}\n",
        "{f}:6:10: error: spec.index: Pinecone index names are 1-45 characters of lowercase "
        "letters, digits and '-', not starting or ending with '-'; got string 'Support_Prod'",
    ),
    (
        "bad-schedule",
        HEADER.replace("  rules:\n", '  schedule: "0 25 * * *"\n  rules:\n')
        + "    - name: r\n      where: {a: 1}\n",
        "{f}:9:13: error: spec.schedule: invalid schedule '0 25 * * *': hour field '25': 25 is "
        "outside 0-23",
    ),
    (
        "destructive-over-every-namespace",
        HEADER.replace('["ns-*"]', '["*"]') + "    - name: r\n      deleteAll: true\n",
        "{f}:8:15: error: spec.namespaces.include[0]: a deleteAll or deleteNamespace rule over "
        "namespaces matching '*' would empty every namespace of index 'idx'; name the "
        "namespaces it may empty (for example 'scratch-*')",
    ),
    (
        "bad-namespace-pattern",
        HEADER.replace('["ns-*"]', '["ns-[ab"]') + "    - name: r\n      where: {a: 1}\n",
        "{f}:8:15: error: spec.namespaces.include[0]: namespace pattern 'ns-[ab' has an unclosed '['",
    ),
    (
        "hold-without-protect",
        "apiVersion: retention/v1\nkind: LegalHold\nmetadata: {name: h}\n"
        "spec:\n  index: idx\n  namespaces: {include: [a]}\n",
        "{f}:5:3: error: spec: missing required key 'protect'",
    ),
    (
        "not-a-mapping",
        "- just\n- a list\n",
        "{f}:1:1: error: a policy document must be a mapping with apiVersion, kind, metadata and spec",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(HEADER + rules, expected, id=name) for name, rules, expected in RULE_CASES]
    + [pytest.param(text, expected, id=name) for name, text, expected in DOCUMENT_CASES],
)
def test_bad_input_is_reported_at_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    """Each bad input exits 1 with exactly one error at the right FILE:LINE:COL."""
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [expected.replace("{f}", str(path)).replace("{d}", str(tmp_path))]


def test_duplicate_policy_name_across_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same policy name in two files is an error at the second one, naming the first."""
    rule = "    - name: r\n      where: {a: 1}\n"
    (tmp_path / "a.yaml").write_text(HEADER + rule)
    (tmp_path / "b.yaml").write_text(HEADER + rule)
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}/b.yaml:4:9: error: metadata.name: policy name 'p' is already used at "
        f"{tmp_path}/a.yaml:4:9; names must be unique across all policy files"
    ]


def test_every_error_in_every_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Errors are not cut short at the first: two files, three errors, three lines."""
    (tmp_path / "a.yaml").write_text(
        HEADER + '    - name: r\n      where: {a: {$gt: "x"}, b: [1]}\n'
    )
    (tmp_path / "b.yaml").write_text(HEADER.replace("name: p", "name: q") + "    - name: r\n")
    assert main(["validate", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(": error: ")[0] for line in lines] == [
        f"{tmp_path}/a.yaml:11:24",
        f"{tmp_path}/a.yaml:11:33",
        f"{tmp_path}/b.yaml:10:7",
    ]
    assert captured.err.strip() == "3 errors in 2 files"


def test_bad_lines_of_an_ids_file_are_reported_in_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid ID is reported at its own line of the ID file."""
    (tmp_path / "ids.txt").write_text("good-1\n bad-2\nok\xe9\n" + "y" * 513 + "\n")
    (tmp_path / "p.yaml").write_text(HEADER + "    - name: r\n      idsFile: ids.txt\n")
    assert main(["validate", str(tmp_path / "p.yaml")]) == 1
    ids = tmp_path / "ids.txt"
    assert capsys.readouterr().out.splitlines() == [
        f"{ids}:2:1: error: ID ' bad-2' has leading or trailing whitespace; IDs are taken "
        "verbatim, so remove it",
        f"{ids}:3:1: error: record IDs are ASCII; this line has other characters",
        f"{ids}:4:1: error: record IDs are at most 512 characters, this one has 513",
    ]


def test_github_format_prints_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format github prints one ::error workflow command per problem."""
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "    - name: r\n")
    assert main(["validate", "--format", "github", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"::error file={path},line=10,col=7,title=retention validate::spec.rules[0]: rule 'r' "
        "has no condition, so it would delete every record; give olderThan, where, ids, "
        "idsFile or idPrefix, or say deleteAll: true to empty the namespaces"
    ]


def test_missing_path_and_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist, or a directory without policies, is an error, not a pass."""
    assert main(["validate", str(tmp_path / "nope"), str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}:1:1: error: no policy files (*.yaml, *.yml) found here",
        f"{tmp_path}/nope:1:1: error: no such file or directory",
    ]


def test_binary_garbage_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not UTF-8 text gets one line."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}:1:1: error: not UTF-8 text")
