"""`retention audit`: from the ledger the applies wrote, whether an ID was erased and what ran
when, as evidence in text, json and csv; and every mistake one line, with the ledger unread
beyond looking (never written, whatever it is)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.applying.ledger import Ledger, id_digest
from retention.emulator import Emulator
from tests.builders import policy, seed, where_rule, write_policies
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import Run, drafts, run_cli, seed_tenants

NAMESPACES = {"tenant-a": 30, "tenant-b": 20}
ERASED = ("tenant-a-00003", "tenant-a-00004")
KEPT = "tenant-a-00005"
"""Neither listed nor a draft: no apply deletes it."""
FROM_THE_START, TO_THE_END = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
DRAFTS_FILTER = '{"kind": {"$eq": "draft"}}'


@dataclass(frozen=True)
class Applied:
    """An apply of the GDPR and drafts policies, recorded in the default ledger."""

    ledger: Path
    report: dict[str, Any]

    @property
    def deleted(self) -> dict[str, int]:
        """Action ID -> records the apply said it deleted."""
        return {a["id"]: a["deleted"] for a in self.report["actions"]}


@pytest.fixture
def applied(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Applied:
    seed_tenants(emulator, "support", NAMESPACES)
    point_cli_at(monkeypatch, emulator)
    docs = [
        policy("gdpr", "support", ["tenant-a"], [{"name": "erase", "ids": list(ERASED)}]),
        policy("drafts", "support", ["*"], [where_rule("drafts", kind="draft")]),
    ]
    policies = write_policies(tmp_path / "policies", docs)
    report = tmp_path / "report.json"
    run = run_cli(capsys, "apply", str(policies), "--auto-approve", "--report", str(report))
    assert run.code == 0, run.err
    ledger = Path(os.environ["RETENTION_STATE_DIR"]) / "ledger.sqlite"
    assert ledger.is_file()
    return Applied(ledger, json.loads(report.read_text()))


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    run = run_cli(capsys, "audit", *args)
    assert "Traceback" not in run.err
    return run


def fields(out: str) -> dict[str, str]:
    """The labelled lines of the erasure blocks printed (the last block's, when several)."""
    found = {}
    for line in out.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            label, _, value = line.strip().partition(" ")
            found[label] = value.strip()
    return found


# -- --id


def test_an_id_erased_by_an_ids_rule_is_found(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--id", ERASED[0])
    assert run.code == 0, run
    assert run.err == ""
    block = fields(run.out)
    assert block["policy"] == "gdpr, rule erase"
    assert block["where"] == "index support, namespace tenant-a"
    assert block["plan"] == applied.report["plan"]
    assert block["action"].startswith("gdpr/erase/support/tenant-a (done;")
    assert block["run"].startswith(f"{applied.report['ledgerRun']}: applied")
    assert block["policies"].startswith("sha256:")
    assert block["actor"].endswith("(retention apply)")
    erase = next(a for a in applied.report["actions"] if a["id"].startswith("gdpr/erase/"))
    assert block["request"] == f"{erase['requestIds'][0]}, LSN {erase['lsn']}"
    assert run.out.startswith("erased:\n")
    db = sqlite3.connect(f"{applied.ledger.as_uri()}?mode=ro", uri=True)
    [(answered,)] = db.execute("SELECT at FROM id_batch_ends")
    db.close()
    assert block["when"] == answered
    assert run.out.endswith(f"1 erasure of this ID recorded in {applied.ledger}.\n")


def test_namespace_and_index_narrow_the_look_up(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit(capsys, "--id", ERASED[1], "--namespace", "tenant-a").code == 0
    assert audit(capsys, "--id", ERASED[1], "--index", "support").code == 0
    run = audit(capsys, "--id", ERASED[1], "--namespace", "tenant-b")
    assert run.code == 2, run
    assert run.out.startswith(
        f"no erasure of this ID in namespace tenant-b is recorded in {applied.ledger} (1 run, "
    )
    wrong_index = audit(capsys, "--id", ERASED[1], "--index", "billing", "--format", "json")
    assert wrong_index.code == 2
    doc = json.loads(wrong_index.out)
    assert (doc["erased"], doc["erasures"], doc["filteredDeletesTotal"]) == (False, [], 0)


def test_the_json_look_up_names_the_erasure(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--id", ERASED[0], "--format", "json")
    assert run.code == 0, run
    doc = json.loads(run.out)
    assert (doc["kind"], doc["erased"], doc["idSha256"]) == (
        "AuditErasures",
        True,
        id_digest(ERASED[0]).hex(),
    )
    [erasure] = doc["erasures"]
    assert (erasure["policy"], erasure["rule"], erasure["plan"]) == (
        "gdpr",
        "erase",
        applied.report["plan"],
    )
    assert erasure["answered"] is not None and erasure["batchIds"] == len(ERASED)


def test_an_id_never_deleted_lists_the_filtered_deletes_of_its_namespace(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--id", KEPT, "--namespace", "tenant-a")
    assert run.code == 2, run
    first, heading, *listed = run.out.splitlines()
    assert first.startswith(
        f"no erasure of this ID in namespace tenant-a is recorded in {applied.ledger} (1 run, from "
    )
    assert heading.startswith("filtered deletes in namespace tenant-a, which name no ID")
    [line] = listed
    assert "support/tenant-a  drafts/drafts  deleteByFilter " + DRAFTS_FILTER in line
    deleted = applied.deleted["drafts/drafts/support/tenant-a"]
    assert f"done, {deleted} records deleted" in line
    assert f"(run {applied.report['ledgerRun']}: applied)" in line

    everywhere = audit(capsys, "--id", KEPT)
    assert everywhere.code == 2
    assert everywhere.out.count("deleteByFilter") == 2  # both namespaces'


def test_the_time_window_restricts_a_look_up(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit(capsys, "--id", ERASED[0], "--since", FROM_THE_START).code == 0
    later = audit(capsys, "--id", ERASED[0], "--since", TO_THE_END)
    assert later.code == 2
    assert "(no runs started in the --since/--until window)" in later.out
    assert later.out.endswith(
        "no filtered delete (deleteByFilter, deleteAll, deleteNamespace) ran.\n"
    )


# -- --since/--until


def test_the_json_export_holds_what_the_apply_deleted(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--since", FROM_THE_START, "--until", TO_THE_END, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert (doc["apiVersion"], doc["kind"], doc["ledger"]) == (
        "retention/v1",
        "AuditExport",
        str(applied.ledger),
    )
    assert (doc["since"], doc["until"]) == (FROM_THE_START, TO_THE_END)
    [exported] = doc["runs"]
    assert exported["run"] == applied.report["ledgerRun"]
    assert (exported["outcome"], exported["deleted"]) == ("applied", applied.report["deleted"])
    assert exported["plan"] == applied.report["plan"]
    assert exported["policies"] == ["drafts", "gdpr"]
    assert {a["action"]: a["deleted"] for a in exported["actions"]} == applied.deleted
    erase = next(a for a in exported["actions"] if a["rule"] == "erase")
    assert (erase["idBatches"], erase["idsSent"], erase["unansweredBatches"]) == (1, 2, 0)
    assert erase["selection"]["idSource"]["ids"] == len(ERASED)
    assert all(
        a["status"] == "done" and a["verification"] == "verified" for a in exported["actions"]
    )
    tenant_a = next(
        a for a in exported["actions"] if a["action"].endswith("drafts/support/tenant-a")
    )
    assert tenant_a["selection"]["filter"] == json.loads(DRAFTS_FILTER)
    assert tenant_a["deleted"] == tenant_a["verified"] == drafts(NAMESPACES["tenant-a"])


def test_the_csv_export_has_a_row_per_action(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--until", TO_THE_END, "--format", "csv")
    assert run.code == 0, run.err
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert {r["action"]: int(r["deleted"]) for r in rows} == applied.deleted
    assert {r["run"] for r in rows} == {applied.report["ledgerRun"]}
    assert {r["outcome"] for r in rows} == {"applied"}
    assert int(rows[0]["run_deleted"]) == sum(applied.deleted.values())
    erase = next(r for r in rows if r["rule"] == "erase")
    assert (erase["id_batches"], erase["ids_sent"], erase["kind"]) == ("1", "2", "deleteByIds")
    told = next(a for a in applied.report["actions"] if a["id"] == erase["action"])
    assert json.loads(erase["request_ids"]) == told["requestIds"]
    assert json.loads(erase["selection"])["kind"] == "deleteByIds"


def test_the_text_export_summarises_each_run_and_action(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, "--since", FROM_THE_START)
    assert run.code == 0, run.err
    assert run.out.startswith(f"runs in {applied.ledger} started at or after {FROM_THE_START}:")
    assert f"{applied.report['ledgerRun']}  retention apply by " in run.out
    assert f": applied, {applied.report['deleted']} records deleted" in run.out
    for action, deleted in applied.deleted.items():
        assert f"  - {action}  " in run.out
        assert f"{deleted} deleted of " in run.out
    assert run.out.endswith("1 run.\n")


def test_an_empty_window_exports_no_run(
    applied: Applied, capsys: pytest.CaptureFixture[str]
) -> None:
    since = ["--since", TO_THE_END]
    assert json.loads(audit(capsys, *since, "--format", "json").out)["runs"] == []
    assert audit(capsys, *since, "--format", "csv").out.count("\n") == 1  # the header
    assert audit(capsys, *since).out.endswith("no runs.\n")


# -- a run killed mid-apply


def interrupted_ledger(path: Path) -> str:
    """A ledger as a `kill -9` leaves it: a run, its action and an ID batch sent, with no
    answer, no action end and no run end; then a run killed before its first action."""
    Ledger.open(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    run = db.execute(
        "INSERT INTO runs (run, command, actor, plan, policy_digest, git_revision, tool_version, "
        "policies, started) VALUES ('run-killed', 'run', 'pod:retention-0', 'sha256:aa', "
        "'sha256:bb', 'abc123', '0.1.0', '[\"gdpr\"]', '2027-01-01T00:00:00Z')"
    ).lastrowid
    action = db.execute(
        "INSERT INTO actions (run_id, action, policy, rule, index_name, namespace, kind, "
        "selection, planned, started) VALUES (?, 'gdpr/erase/support/tenant-a', 'gdpr', "
        "'erase', 'support', 'tenant-a', 'deleteByIds', '{\"kind\": \"deleteByIds\"}', 2, "
        "'2027-01-01T00:00:01Z')",
        (run,),
    ).lastrowid
    batch = db.execute(
        "INSERT INTO id_batches (action_id, ids, sent) VALUES (?, 2, '2027-01-01T00:00:02Z')",
        (action,),
    ).lastrowid
    db.executemany(
        "INSERT INTO erased_ids (id_sha256, batch_id) VALUES (?, ?)",
        [(id_digest(i), batch) for i in ERASED],
    )
    db.execute(
        "INSERT INTO runs (run, command, actor, plan, policy_digest, git_revision, tool_version, "
        "policies, started) VALUES ('run-early', 'apply', 'user:me@host', 'sha256:cc', "
        "'sha256:dd', NULL, '0.1.0', '[]', '2027-01-02T00:00:00Z')"
    )
    db.close()
    return str(path)


def test_a_killed_run_is_incomplete_and_its_batch_requested_not_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = interrupted_ledger(tmp_path / "killed.sqlite")
    run = audit(capsys, "--id", ERASED[0], "--ledger", ledger)
    assert run.code == 2, run
    block = fields(run.out)
    assert block["when"] == (
        "requested at 2027-01-01T00:00:02Z, no answer recorded (the apply was interrupted)"
    )
    assert block["run"] == "run-killed: incomplete"
    assert block["action"] == "gdpr/erase/support/tenant-a (incomplete; a batch of 2 IDs)"
    assert block["request"] == "none recorded"
    assert (
        f"no confirmed erasure of this ID is recorded in {ledger} (2 runs, from "
        "2027-01-01T00:00:00Z to 2027-01-02T00:00:00Z): only the requests above, never answered"
    ) in run.out

    doc = json.loads(
        audit(capsys, "--ledger", ledger, "--until", TO_THE_END, "--format", "json").out
    )
    killed, early = doc["runs"]
    assert (killed["outcome"], killed["finished"], killed["deleted"]) == ("incomplete", None, None)
    [action] = killed["actions"]
    assert (action["status"], action["deleted"], action["finished"]) == ("incomplete", None, None)
    assert (action["idBatches"], action["idsSent"], action["unansweredBatches"]) == (1, 2, 1)
    assert (early["outcome"], early["actions"]) == ("incomplete", [])

    rows = list(
        csv.DictReader(
            io.StringIO(
                audit(capsys, "--ledger", ledger, "--until", TO_THE_END, "--format", "csv").out
            )
        )
    )
    assert [(r["run"], r["outcome"], r["action"], r["status"]) for r in rows] == [
        ("run-killed", "incomplete", "gdpr/erase/support/tenant-a", "incomplete"),
        ("run-early", "incomplete", "", ""),
    ]
    text = audit(capsys, "--ledger", ledger, "--until", TO_THE_END).out
    assert "run-killed  retention run by pod:retention-0: incomplete\n" in text
    assert "incomplete: 2 planned, no end recorded; 1 ID batch, 2 IDs (1 unanswered)" in text


# -- mistakes, and the ledger left as it was


def sqlite_of_other_tables(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("make", "args", "line"),
    [
        (
            None,
            ["--id", "x"],
            "retention: error: no ledger at {path}: nothing has been applied with it",
        ),
        (
            lambda p: p.write_text("not a database, just text\n" * 40),
            ["--id", "x"],
            "retention: error: {path} is not a retention ledger: file is not a database",
        ),
        (
            lambda p: p.write_text(""),
            ["--since", FROM_THE_START],
            "retention: error: {path} is not a retention ledger: it holds no tables",
        ),
        (
            sqlite_of_other_tables,
            ["--id", "x"],
            "retention: error: {path} is a SQLite database but not a retention ledger; name "
            "another file",
        ),
    ],
    ids=["missing", "text", "empty", "other-sqlite"],
)
def test_what_is_no_ledger_is_one_line_and_left_alone(
    make: Any, args: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    if make is not None:
        make(path)
    before = path.read_bytes() if path.exists() else None
    run = audit(capsys, *args, "--ledger", str(path))
    assert run.code == 1
    assert run.messages == [line.format(path=path)]
    assert run.out == ""
    assert (path.read_bytes() if path.exists() else None) == before


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], "give --id ID to ask whether a record was erased, or --since/--until TIME to export "
         "the runs of that time"),
        (["--since", "yesterday"], "--since: invalid time 'yesterday'; use ISO 8601 such as "
         "2027-01-01T00:00:00Z"),
        (["--id", "x", "--until", "2027-01-01T00:00:00"], "--until: time '2027-01-01T00:00:00' "
         "has no timezone; add Z for UTC"),
        (["--since", "2027-01-02T00:00:00Z", "--until", "2027-01-01T00:00:00Z"],
         "--since 2027-01-02T00:00:00Z is not before --until 2027-01-01T00:00:00Z: no run can "
         "have started in between"),
        (["--since", "2027-01-01T00:00:00Z", "--until", "2027-01-01T01:00:00+01:00"],
         "--since 2027-01-01T00:00:00Z is not before --until 2027-01-01T01:00:00+01:00: no run "
         "can have started in between"),
        (["--namespace", "tenant-a", "--since", FROM_THE_START], "--index and --namespace "
         "narrow an --id look-up; an export (--since/--until) covers every index"),
        (["--id", "x", "--format", "csv"], "--format csv is for exports (--since/--until); an "
         "--id look-up prints text or json"),
    ],
    ids=["neither", "bad-time", "no-zone", "since-after-until", "same-moment", "place", "csv"],
)  # fmt: skip
def test_a_mistaken_request_is_one_line_before_the_ledger_is_read(
    args: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = audit(capsys, *args, "--ledger", str(tmp_path / "absent.sqlite"))
    assert run.code == 1
    assert run.messages == [f"retention: error: {line}"]
    assert run.out == ""


def test_audit_never_changes_the_ledger(
    applied: Applied, emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, stat = applied.ledger.read_bytes(), applied.ledger.stat()
    for args in (
        ["--id", ERASED[0]],
        ["--id", KEPT, "--format", "json"],
        ["--since", FROM_THE_START, "--format", "csv"],
        ["--until", TO_THE_END, "--format", "json"],
        ["--until", TO_THE_END],
    ):
        assert audit(capsys, *args).code in (0, 2)
    assert applied.ledger.read_bytes() == before
    assert applied.ledger.stat().st_mtime_ns == stat.st_mtime_ns
    # and an apply after it still records (what a read-only reader leaves beside it is fine)
    seed(emulator, "support", {"tenant-b": {"tenant-b-new": {"created_at": 0, "kind": "draft"}}})
    again = run_cli(capsys, "apply", str(tmp_path / "policies"), "--auto-approve")
    assert again.code == 0, again.err
    assert (
        len(json.loads(audit(capsys, "--until", TO_THE_END, "--format", "json").out)["runs"]) == 2
    )
