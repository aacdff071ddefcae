"""`retention apply PLANFILE` end to end: edited plans and over-broad rules delete nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retention.planning.plan import fingerprint_of
from tests.builders import policy, where_rule, yaml_text
from tests.cli.conftest import SMALL, Live
from tests.cli.helpers import AT_EPOCH, DAY, drafts, run_cli

DRAFTS = where_rule("drafts", kind="draft")
EVERYTHING = where_rule("all", no_such_field={"$exists": False})
PROTECTED = [{"created_at": {"$gt": 0}}]
HOLD = """\
apiVersion: retention/v1
kind: LegalHold
metadata: {name: hold}
spec:
  index: support
  namespaces: {include: [tenant-a]}
  protect:
    - {created_at: {$gt: 0}}
"""


def counts(live: Live) -> dict[str, int]:
    return {ns: len(live.emulator.records("support", ns)) for ns in SMALL}


def reseal(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its fingerprint recomputed, as a careful editor would."""
    body = {k: v for k, v in doc.items() if k != "fingerprint"}
    return {**doc, "fingerprint": fingerprint_of(body)}


def make_plan(capsys: pytest.CaptureFixture[str], policies: Path, out: Path) -> dict[str, Any]:
    run = run_cli(capsys, "plan", str(policies), "--out", str(out))
    assert run.code == 0, run.err
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def test_a_select_all_where_is_blocked_by_the_default_guard(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `where` matching every record, without limits, is BLOCKED; apply deletes nothing."""
    (policies / "p.yaml").write_text(
        yaml_text(policy("wide", "support", ["*"], [EVERYTHING], limits=None))
    )
    planfile = tmp_path / "plan.json"
    doc = make_plan(capsys, policies, planfile)
    (result,) = doc["policies"]
    assert result["status"] == "blocked"
    assert result["reason"] == (
        "it would delete 100% of namespace 'tenant-a', over the default guard of 50% for a "
        "namespace of 100 or more records; set spec.limits.maxPercent to allow it, or say "
        "deleteAll: true"
    )
    assert all(g["default"] for g in result["guards"])
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 1
    assert run.messages == [
        "retention: error: policy 'wide' is blocked by its guards in this plan "
        f"({result['reason']}); nothing was deleted; raise the limit in the policy or narrow its "
        "rules, then re-plan"
    ]
    assert counts(small) == before


def test_a_default_guard_leaves_a_narrow_rule_alone(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """10% of each namespace is well under the default 50%: planned, applied, verified."""
    (policies / "p.yaml").write_text(
        yaml_text(policy("narrow", "support", ["*"], [DRAFTS], limits=None))
    )
    planfile = tmp_path / "plan.json"
    make_plan(capsys, policies, planfile)
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 0, run.err
    assert {ns: before[ns] - n for ns, n in counts(small).items()} == {
        ns: drafts(n) for ns, n in SMALL.items()
    }


def _drop_protection(doc: dict[str, Any]) -> None:
    action = doc["actions"][0]
    action["filter"] = {"kind": {"$eq": "draft"}}


def _other_ids(doc: dict[str, Any]) -> None:
    action = doc["actions"][0]
    action.update(
        kind="deleteByIds",
        filter=None,
        protections=[],
        clientCheck=None,
        idSource={"type": "inline", "ids": ["tenant-a-00001", "tenant-a-00002"]},
    )


def _condition(doc: dict[str, Any]) -> None:
    doc["actions"][0]["condition"] = "kind == draft"


@pytest.mark.parametrize(
    ("edit", "field"),
    [(_drop_protection, "filter"), (_other_ids, "idSource"), (_condition, "condition")],
)
def test_an_edited_and_resealed_plan_deletes_nothing(
    small: Live,
    policies: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    """Edits that a recomputed fingerprint hides are refused by deriving the plan again."""
    (policies / "p.yaml").write_text(
        yaml_text(policy("drafts", "support", ["tenant-a"], [DRAFTS], protect=PROTECTED))
    )
    planfile = tmp_path / "plan.json"
    doc = make_plan(capsys, policies, planfile)
    edit(doc)
    planfile.write_text(json.dumps(reseal(doc)))
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 1
    assert run.messages == [
        "retention: error: the plan file does not match the policies: action "
        f"drafts/drafts/support/tenant-a: its {field} is not what policy 'drafts' rule 'drafts' "
        f"says as of {doc['asOf']}; nothing was deleted; run `retention plan` again and review "
        "the new plan"
    ]
    assert counts(small) == before


def test_a_plan_naming_other_policy_files_is_refused(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan cannot choose what it is checked against: dropping the file that holds a
    LegalHold from `sources.files` (digest, actions and fingerprint redone to match) is
    refused, because apply reads the policies from its PATH arguments."""
    (policies / "p.yaml").write_text(yaml_text(policy("drafts", "support", ["tenant-a"], [DRAFTS])))
    (policies / "hold.yaml").write_text(HOLD)
    planfile = tmp_path / "plan.json"
    doc = make_plan(capsys, policies, planfile)
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "p.yaml").write_text((policies / "p.yaml").read_text())
    forged = make_plan(capsys, alone, tmp_path / "forged.json")  # what the edit aims for
    forged["sources"]["files"] = [str(policies / "p.yaml")]
    planfile.write_text(json.dumps(reseal(forged)))
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 1
    assert run.messages == [
        f"retention: error: the plan was made from other policy files than those under {policies} "
        f"(not in the plan: {policies / 'hold.yaml'}); nothing was deleted; give the policy "
        "paths the plan was made from: retention apply PLANFILE PATH..."
    ]
    assert counts(small) == before
    assert doc["actions"][0]["protections"]


def test_a_guard_edited_to_pass_is_weighed_again_on_fresh_counts(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two rules, half and a tenth of the namespace, together over the default 50%: BLOCKED.
    Edited to ready with a guard value that passes (resealed), the apply weighs what both
    select now, counted once, and refuses."""
    old = where_rule("old", created_at={"$lt": AT_EPOCH - 60 * DAY})
    (policies / "p.yaml").write_text(
        yaml_text(policy("two", "support", ["tenant-a"], [old, DRAFTS], limits=None))
    )
    planfile = tmp_path / "plan.json"
    doc = make_plan(capsys, policies, planfile)
    (result,) = doc["policies"]
    assert result["status"] == "blocked"
    (guard,) = result["guards"]
    guard.update(value=50.0, ok=True)
    result.update(status="ready", reason=None)
    planfile.write_text(json.dumps(reseal(doc)))
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 1
    assert run.messages == [
        "retention: error: two/old/support/tenant-a and 1 more action: policy 'two' would "
        "delete 55.0% of namespace 'tenant-a', over the default guard of 50%; nothing was "
        "deleted there"
    ]
    assert counts(small) == before


def test_an_edit_without_a_new_fingerprint_is_refused_as_modified(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fingerprint covers the whole document, samples and notes included."""
    (policies / "p.yaml").write_text(yaml_text(policy("drafts", "support", ["*"], [DRAFTS])))
    planfile = tmp_path / "plan.json"
    doc = make_plan(capsys, policies, planfile)
    doc["actions"][0]["samples"] = []
    planfile.write_text(json.dumps(doc))
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(policies))
    assert run.code == 1
    assert run.messages == [
        "retention: error: the plan file was modified after it was made, or made by another "
        "release (its fingerprint does not match its content); run `retention plan` again"
    ]
    assert counts(small) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "is not a plan file: a plan is a JSON object"),
        ("[" * 5000 + "]" * 5000, "is not a plan file: it nests too deeply"),
        ('{"apiVersion": "retention/v1"', "is not a plan file: Expecting ',' delimiter"),
    ],
)
def test_a_broken_plan_file_is_one_line(
    small: Live,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    """Malformed, hostile or truncated plan files: one line, exit 1, nothing deleted."""
    planfile = tmp_path / "plan.json"
    planfile.write_text(content)
    before = counts(small)
    run = run_cli(capsys, "apply", str(planfile), str(tmp_path))
    assert run.code == 1
    assert len(run.messages) == 1 and message in run.messages[0], run.messages
    assert run.messages[0].startswith(f"retention: error: {planfile} ")
    assert counts(small) == before


def test_a_plan_applies_with_its_paths_named_another_way(
    small: Live,
    policies: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Planned as `policies`, applied as an absolute path: the same files, ID file included."""
    monkeypatch.chdir(tmp_path)
    (policies / "erase.txt").write_text("tenant-a-00001\ntenant-a-00002\n")
    (policies / "p.yaml").write_text(
        yaml_text(policy("erase", "support", ["*"], [{"name": "listed", "idsFile": "erase.txt"}]))
    )
    assert run_cli(capsys, "plan", "policies", "--out", "plan.json").code == 0
    run = run_cli(capsys, "apply", "plan.json", str(policies.resolve()))
    assert run.code == 0, run.err
    assert "tenant-a-00001" not in small.emulator.records("support", "tenant-a")
