"""Filter values and numbers that do not say what they seem to, in rules, protections and holds.

Unquoted `yes` (a boolean to YAML 1.1 readers, a string here), nulls, NaN, infinities, whole
numbers past 2^53, YAML 1.1 number forms, zero and endless durations, an empty TTL field.
"""

from __future__ import annotations

from pathlib import Path

from retention.policy import load_policies
from tests.policy.bad_input import HEADER, HOLD, RULE


def yaml11(text: str) -> str:
    return (
        f"unquoted {text} is a boolean in YAML 1.1 but the string '{text}' here; write true or "
        f"false for the boolean, or quote it ('{text}') for the string"
    )


def null(name: str) -> str:
    return (
        f"null is not a metadata value; to match records without field '{name}' write "
        f"{{{name}: {{$exists: false}}}}"
    )


# (id, document text, expected lines with {f} the policy file)
CASES = [
    (
        "yes-in-where",
        HEADER + "    - name: r\n      where: {legal_hold: yes}\n",
        ["{f}:11:27: error: spec.rules[0].where.legal_hold: " + yaml11("yes")],
    ),
    (
        "Yes-in-policy-protect",
        HEADER.replace("  rules:\n", "  protect:\n    - {legal_hold: Yes}\n  rules:\n") + RULE,
        ["{f}:10:20: error: spec.protect[0].legal_hold: " + yaml11("Yes")],
    ),
    (
        "on-in-hold-protect",
        HOLD + "    - held: on\n",
        ["{f}:10:13: error: spec.protect[0].held: " + yaml11("on")],
    ),
    (
        "OFF-under-ne",
        HEADER + "    - name: r\n      where: {flag: {$ne: OFF}}\n",
        ["{f}:11:27: error: spec.rules[0].where.flag.$ne: " + yaml11("OFF")],
    ),
    (
        "n-in-an-in-list",
        HEADER + "    - name: r\n      where: {answer: {$in: [a, n]}}\n",
        ["{f}:11:33: error: spec.rules[0].where.answer.$in[1]: " + yaml11("n")],
    ),
    (
        "y-deep-in-and-or",
        HEADER + "    - name: r\n      where: {$and: [{a: 1}, {$or: [{b: 2}, {c: y}]}]}\n",
        ["{f}:11:49: error: spec.rules[0].where.$and[1].$or[1].c: " + yaml11("y")],
    ),
    (
        "no-as-exists-argument",
        HEADER + "    - name: r\n      where: {a: {$exists: no}}\n",
        ["{f}:11:28: error: spec.rules[0].where.a.$exists: " + yaml11("no")],
    ),
    (
        "tilde-in-hold",
        HOLD + "    - {case_id: ~}\n",
        ["{f}:10:17: error: spec.protect[0].case_id: " + null("case_id")],
    ),
    (
        "empty-value-in-where",
        HEADER + "    - name: r\n      where:\n        a:\n",
        ["{f}:12:11: error: spec.rules[0].where.a: " + null("a")],
    ),
    (
        "null-in-an-in-list",
        HEADER + "    - name: r\n      where: {a: {$in: [x, null]}}\n",
        ["{f}:11:28: error: spec.rules[0].where.a.$in[1]: " + null("a")],
    ),
    (
        "null-under-eq-in-protect",
        HEADER.replace("  rules:\n", "  protect:\n    - {a: {$eq: null}}\n  rules:\n") + RULE,
        ["{f}:10:17: error: spec.protect[0].a.$eq: " + null("a")],
    ),
    (
        "nan",
        HEADER + "    - name: r\n      where: {score: .nan}\n",
        [
            "{f}:11:22: error: spec.rules[0].where.score: .nan is not a number (NaN); Pinecone "
            "compares finite numbers only"
        ],
    ),
    (
        "minus-infinity",
        HEADER + "    - name: r\n      where: {score: {$gt: -.inf}}\n",
        [
            "{f}:11:28: error: spec.rules[0].where.score.$gt: -.inf is infinite; Pinecone "
            "compares finite numbers only"
        ],
    ),
    (
        "overflowing-float-in-protect",
        HEADER.replace("  rules:\n", "  protect:\n    - {a: {$lt: 1.0e+400}}\n  rules:\n") + RULE,
        [
            "{f}:10:17: error: spec.protect[0].a.$lt: 1.0e+400 is infinite; Pinecone compares "
            "finite numbers only"
        ],
    ),
    (
        "integer-beyond-2-53",
        HEADER + "    - name: r\n      where: {n: {$in: [9007199254740992, -9007199254740993]}}\n",
        [
            "{f}:11:43: error: spec.rules[0].where.n.$in[1]: -9007199254740993 is beyond 2^53 "
            "(9,007,199,254,740,992) in magnitude, where Pinecone's 64-bit floats no longer tell "
            "whole numbers apart; use a smaller number, or store it as a string"
        ],
    ),
    (
        "octal-and-base-60",
        HEADER + "    - name: r\n      where: {zip: 01234, opens: {$gte: 12:30}}\n",
        [
            "{f}:11:20: error: spec.rules[0].where.zip: unquoted 01234 is read as the number 668, "
            "which YAML readers disagree on; write 668 for the number, or quote it ('01234') for "
            "the string",
            "{f}:11:41: error: spec.rules[0].where.opens.$gte: unquoted 12:30 is read as the "
            "number 750, which YAML readers disagree on; write 750 for the number, or quote it "
            "('12:30') for the string",
        ],
    ),
    (
        "max-records-beyond-2-53",
        HEADER.replace("  rules:\n", "  limits: {maxRecords: 9007199254740993}\n  rules:\n") + RULE,
        [
            "{f}:9:24: error: spec.limits.maxRecords: must be <= 9007199254740992, got "
            "9007199254740993"
        ],
    ),
    (
        "max-percent-nan",
        HEADER.replace("  rules:\n", "  limits: {maxPercent: .NaN}\n  rules:\n") + RULE,
        [
            "{f}:9:24: error: spec.limits.maxPercent: .NaN is not a number (NaN); give a "
            "percentage above 0 and at most 100"
        ],
    ),
    (
        "zero-older-than",
        HEADER + "    - name: r\n      olderThan: 0d\n      field: created_at\n",
        ["{f}:11:18: error: spec.rules[0].olderThan: must be positive, got: 0d"],
    ),
    (
        "zero-jitter",
        HEADER.replace("  rules:\n", "  jitter: 0s\n  rules:\n") + RULE,
        ["{f}:9:11: error: spec.jitter: must be positive, got: 0s"],
    ),
    (
        "older-than-past-a-century",
        HEADER + "    - name: r\n      olderThan: 999999999w\n      field: created_at\n",
        [
            "{f}:11:18: error: spec.rules[0].olderThan: duration '999999999w' is longer than 100 "
            "years (36500d)"
        ],
    ),
    (
        "zero-interval-schedule",
        HEADER.replace("  rules:\n", "  schedule: 0s\n  rules:\n") + RULE,
        ["{f}:9:13: error: spec.schedule: invalid schedule '0s': an interval must be positive"],
    ),
    (
        "empty-ttl-field",
        HEADER + "    - name: r\n      olderThan: 30d\n      field: ''\n",
        [
            "{f}:12:14: error: spec.rules[0].field: the TTL field name must not be empty: name "
            "the metadata field that holds each record's time"
        ],
    ),
    (
        "empty-id-reported-once",
        HEADER + "    - name: r\n      ids: ['']\n",
        [
            "{f}:11:13: error: spec.rules[0].ids[0]: record IDs are 1-512 ASCII characters "
            "without NUL; got string ''"
        ],
    ),
    (
        "null-under-ne-and-nin",
        HEADER + "    - name: r\n      where: {a: {$ne: null}, b: {$nin: [x, ~]}}\n",
        [
            "{f}:11:24: error: spec.rules[0].where.a.$ne: null is not a metadata value; to match "
            "records that have field 'a' write {a: {$exists: true}}",
            "{f}:11:45: error: spec.rules[0].where.b.$nin[1]: null is not a metadata value; to "
            "match records that have field 'b' write {b: {$exists: true}}",
        ],
    ),
    (
        "inline-id-with-a-stray-space",
        HEADER + "    - name: r\n      ids: [a, 'b ']\n",
        [
            "{f}:11:16: error: spec.rules[0].ids[1]: ID 'b ' has leading or trailing whitespace; "
            "IDs are taken verbatim, so remove it"
        ],
    ),
]


def test_quoted_yes_stays_the_string_and_true_the_boolean(tmp_path: Path) -> None:
    """Quoting says "the string", true says "the boolean": both load as written."""
    path = tmp_path / "p.yaml"
    path.write_text(
        HEADER.replace("  rules:\n", "  protect:\n    - {legal_hold: true}\n  rules:\n")
        + "    - name: r\n      where: {answer: 'yes', other: \"No\", n: 9007199254740992}\n"
    )
    (loaded,) = load_policies([path]).policies
    assert loaded.protect[0].value is True  # type: ignore[union-attr]
    where = loaded.rules[0].where
    assert [c.value for c in where.clauses] == ["yes", "No", 2**53]  # type: ignore[union-attr]
