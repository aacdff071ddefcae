"""spec.windows, spec.suspend, spec.rollout.canary, spec.limits.backupAbove and trendFactor:
into the model, optional for old files, in both schema copies, and errors at FILE:LINE:COL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from retention.cli import main
from retention.policy import load_policies
from retention.policy.model import Guards
from retention.policy.schema import load_schema
from retention.policy.windows import CronWindow, WeeklyWindow, Windows
from tests.builders import policy, where_rule, write_policies
from tests.policy import bad_input

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata:
  name: p
spec:
  index: idx
  namespaces:
    include: ["ns-*"]
  windows:
    allow:
      - start: "0 22 * * *"
        duration: 6h
        timeZone: Europe/Berlin
      - days: [mon, tue, wed, thu, fri]
        from: "01:00"
        to: "05:00"
        timeZone: UTC
    deny:
      - days: [sat, sun]
  suspend: true
  rollout:
    canary: 100
  limits:
    maxRecords: 1000
    maxPercent: 25
    backupAbove: 50000
    trendFactor: 10
  rules:
    - name: r
      where: {a: 1}
"""

HEADER = bad_input.HEADER.removesuffix("  rules:\n")
"""A policy up to its spec's other keys; RULES follows them."""
RULES = "  rules:\n    - name: r\n      where: {a: 1}\n"


def test_the_new_fields_land_in_the_model(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(EXAMPLE)
    (loaded,) = load_policies([tmp_path]).policies
    assert loaded.windows == Windows(
        allow=(
            CronWindow("0 22 * * *", timedelta(hours=6), "Europe/Berlin"),
            WeeklyWindow(frozenset({0, 1, 2, 3, 4}), time(1), time(5), "UTC"),
        ),
        deny=(WeeklyWindow(frozenset({5, 6}), time(0), None, "UTC"),),
    )
    assert loaded.suspend is True
    assert loaded.canary == 100
    assert loaded.guards == Guards(
        max_records=1000, max_percent=25, backup_above=50000, trend_factor=10
    )
    assert loaded.windows.describe() == (
        "allow 0 22 * * * for 6h (Europe/Berlin), mon-fri 01:00-05:00 (UTC); "
        "deny sat,sun 00:00-24:00 (UTC)"
    )


def test_files_without_the_new_fields_load_with_the_defaults(tmp_path: Path) -> None:
    """Old files stay valid: always open, not suspended, no canary, default guards."""
    write_policies(tmp_path, [policy("old", "idx", ["ns-*"], [where_rule("r", a=1)], limits=None)])
    (loaded,) = load_policies([tmp_path]).policies
    assert not loaded.windows
    assert loaded.suspend is False
    assert loaded.canary is None
    assert loaded.guards == Guards()
    for shipped in load_policies([ROOT / "policies"]).policies:
        assert (shipped.windows, shipped.suspend, shipped.canary) == (Windows(), False, None)
        assert (shipped.guards.backup_above, shipped.guards.trend_factor) == (None, None)


def test_zero_trend_factor_and_backup_threshold_are_kept(tmp_path: Path) -> None:
    """0 is a setting (trend breaker off, back up before any delete), not an absent key."""
    limits = {"maxPercent": 100, "trendFactor": 0, "backupAbove": 0}
    write_policies(tmp_path, [policy("p", "idx", ["ns-*"], [where_rule("r", a=1)], limits=limits)])
    (loaded,) = load_policies([tmp_path]).policies
    assert (loaded.guards.trend_factor, loaded.guards.backup_above) == (0, 0)


def test_both_schema_copies_are_one_and_accept_the_example() -> None:
    on_disk = (ROOT / "schemas" / "retention-policy.v1.json").read_bytes()
    assert (ROOT / "retention" / "schemas" / "retention-policy.v1.json").read_bytes() == on_disk
    validator = Draft202012Validator(load_schema("retention-policy.v1.json"))
    document: dict[str, Any] = yaml.safe_load(EXAMPLE)
    assert list(validator.iter_errors(document)) == []
    document["spec"]["windows"]["allow"][0]["days"] = ["mon"]  # a mix of both forms
    assert [e.validator for e in validator.iter_errors(document)] == ["additionalProperties"]


def _new_property_descriptions(schema: dict[str, Any]) -> dict[str, Any]:
    spec = schema["$defs"]["policySpec"]["properties"]
    limits = spec["limits"]["properties"]
    defs = schema["$defs"]
    return {
        **{k: spec[k] for k in ("windows", "suspend", "rollout")},
        **spec["windows"]["properties"],
        "canary": spec["rollout"]["properties"]["canary"],
        **{k: limits[k] for k in ("backupAbove", "trendFactor")},
        **defs["cronWindow"]["properties"],
        **defs["weeklyWindow"]["properties"],
        "timeZone": defs["timeZone"],
    }


def test_every_new_property_is_described() -> None:
    props = _new_property_descriptions(load_schema("retention-policy.v1.json"))
    assert [k for k, v in props.items() if "description" not in v] == []


WINDOW = "  windows:\n    {group}:\n{entry}"

# (id, what goes between HEADER and RULES, expected error lines with {f} the file)
CASES = [
    (
        "invalid-cron",
        WINDOW.format(group="allow", entry='      - start: "0 25 * * *"\n        duration: 1h\n'),
        [
            "{f}:11:16: error: spec.windows.allow[0].start: invalid cron '0 25 * * *': hour "
            "field '25': 25 is outside 0-23"
        ],
    ),
    (
        "backwards-cron-range",
        WINDOW.format(group="deny", entry='      - start: "0 1 * * 5-2"\n        duration: 1h\n'),
        [
            "{f}:11:16: error: spec.windows.deny[0].start: invalid cron '0 1 * * 5-2': day of "
            "week field '5-2': range '5-2' runs backwards; write the smaller value first "
            "(Sunday is 0 or 7)"
        ],
    ),
    (
        "unknown-time-zone",
        WINDOW.format(group="allow", entry="      - days: [mon]\n        timeZone: Europe/Berln\n"),
        [
            "{f}:12:19: error: spec.windows.allow[0].timeZone: unknown time zone "
            "'Europe/Berln' (did you mean 'Europe/Berlin'?); use an IANA name such as "
            "Europe/Berlin, or UTC"
        ],
    ),
    (
        "zero-duration",
        WINDOW.format(group="allow", entry='      - start: "0 1 * * *"\n        duration: 0h\n'),
        ["{f}:12:19: error: spec.windows.allow[0].duration: must be positive, got: 0h"],
    ),
    (
        "duration-over-a-week",
        WINDOW.format(group="allow", entry='      - start: "0 1 * * *"\n        duration: 8d\n'),
        [
            "{f}:12:19: error: spec.windows.allow[0].duration: a window lasts at most 7d, not "
            "8d; split it into several windows"
        ],
    ),
    (
        "from-equals-to",
        WINDOW.format(
            group="allow", entry='      - days: [mon]\n        from: "05:00"\n        to: "05:00"\n'
        ),
        [
            "{f}:13:13: error: spec.windows.allow[0].to: from and to are both 05:00, so the "
            "window never opens; give different times (a to before from runs past midnight)"
        ],
    ),
    (
        "unquoted-time",
        WINDOW.format(group="allow", entry="      - days: [mon]\n        from: 22:00\n"),
        [
            "{f}:12:15: error: spec.windows.allow[0].from: unquoted 22:00 is read as the number "
            "1320 (base 60); quote it: '22:00'"
        ],
    ),
    (
        "end-at-midnight-is-24",
        WINDOW.format(group="allow", entry='      - days: [mon]\n        to: "00:00"\n'),
        [
            "{f}:12:13: error: spec.windows.allow[0].to: write the end time as HH:MM from 00:01 "
            "to 24:00 (24:00 is the end of the day); got string '00:00'"
        ],
    ),
    (
        "mixed-forms",
        WINDOW.format(
            group="allow",
            entry='      - start: "0 1 * * *"\n        duration: 1h\n        days: [mon]\n',
        ),
        [
            "{f}:13:9: error: spec.windows.allow[0].days: unknown key 'days'; expected one of: "
            "duration, start, timeZone"
        ],
    ),
    (
        "deny-covers-allow",
        WINDOW.format(
            group="allow",
            entry='      - days: [sat]\n        from: "10:00"\n        to: "12:00"\n'
            "        timeZone: America/New_York\n",
        )
        + "    deny:\n      - days: [sat, sun]\n        timeZone: America/New_York\n",
        [
            "{f}:10:5: error: spec.windows: deny covers every moment that allow opens, so "
            "deletions could never run; narrow deny or widen allow"
        ],
    ),
    (
        "deny-covers-everything",
        WINDOW.format(
            group="deny",
            entry="      - days: [mon, tue, wed, thu]\n        timeZone: Europe/Berlin\n"
            "      - days: [fri, sat, sun]\n        timeZone: Europe/Berlin\n",
        ),
        [
            "{f}:10:5: error: spec.windows: deny covers every moment, so deletions could never "
            "run; narrow deny"
        ],
    ),
    (
        "allow-never-opens",
        WINDOW.format(group="allow", entry='      - start: "0 0 31 4 *"\n        duration: 1h\n'),
        [
            "{f}:10:5: error: spec.windows: no allow window ever opens (no date matches the day "
            "of month and month of their start), so deletions could never run; fix their start"
        ],
    ),
    (
        "trend-factor-nan",
        "  limits: {trendFactor: .nan}\n",
        [
            "{f}:9:25: error: spec.limits.trendFactor: .nan is not a number (NaN); give a "
            "factor of 0 or more (0 turns it off)"
        ],
    ),
    (
        "negative-backup-threshold",
        "  limits: {backupAbove: -1}\n",
        ["{f}:9:25: error: spec.limits.backupAbove: must be >= 0, got -1"],
    ),
    (
        "zero-canary",
        "  rollout: {canary: 0}\n",
        ["{f}:9:21: error: spec.rollout.canary: must be >= 1, got 0"],
    ),
    (
        "suspend-yes",
        "  suspend: yes\n",
        ["{f}:9:12: error: spec.suspend: expected true or false, got string 'yes'"],
    ),
]


@pytest.mark.parametrize(
    ("middle", "expected"), [pytest.param(m, e, id=name) for name, m, e in CASES]
)
def test_bad_fields_are_reported_at_their_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], middle: str, expected: list[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HEADER + middle + RULES)
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [e.replace("{f}", str(path)) for e in expected]


def test_windows_that_open_only_because_of_their_zones_are_accepted(tmp_path: Path) -> None:
    """Saturday in Berlin starts an hour before Saturday in UTC: denying the UTC Saturday
    leaves that hour open (two in summer), so the set is valid and opens then."""
    windows = (
        "  windows:\n    allow:\n      - days: [sat]\n        timeZone: Europe/Berlin\n"
        "    deny:\n      - days: [sat]\n"
    )
    (tmp_path / "p.yaml").write_text(HEADER + windows + RULES)
    (loaded,) = load_policies([tmp_path]).policies
    friday = datetime(2026, 1, 9, 12, tzinfo=UTC)
    assert loaded.windows.opens_at(friday) == datetime(2026, 1, 9, 23, tzinfo=UTC)
    assert loaded.windows.closes_at(datetime(2026, 1, 9, 23, tzinfo=UTC)) == datetime(
        2026, 1, 10, tzinfo=UTC
    )
