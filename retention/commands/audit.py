"""`retention audit`: answers from the erasure ledger, for a person or as evidence.

`--id ID` says whether, when and by which policy and plan a record was erased (exit 0), or
that no erasure of it is recorded (exit 2), with the filtered deletes that may have erased it
unnamed (the ledger holds IDs only for deletions by ID). `--since/--until` exports every run
started in that time, with its actions, as text, json or csv, streamed run by run.

The ledger is only read (`applying.audit`); the ID is looked up by its SHA-256, as the ledger
keeps it, and never printed back beyond what was typed.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from retention.applying.audit import (
    INCOMPLETE,
    ActionEvidence,
    AuditLedger,
    Erasure,
    FilteredDelete,
    Place,
    RunEvidence,
    RunHead,
    Span,
    Window,
    default_path,
)
from retention.applying.ledger import LedgerError, id_digest
from retention.commands.common import plural
from retention.errors import RetentionError
from retention.planning.plan import format_time
from retention.policy.durations import parse_moment

Output = Literal["text", "json", "csv"]
API_VERSION = "retention/v1"
SCREENFUL = 20
"""Filtered deletes listed after a look-up that found no erasure (the newest)."""
ERASED, NOT_ERASED = 0, 2


@dataclass(frozen=True)
class AuditRequest:
    ledger: str | None = None
    record_id: str | None = None
    index: str | None = None
    namespace: str | None = None
    since: str | None = None
    until: str | None = None
    output: Output = "text"


def audit(request: AuditRequest, out: TextIO | None = None) -> int:
    """Answer the request from the ledger: 0, or 2 for an ID whose erasure is not recorded."""
    window = window_of(request)
    _check(request)
    stream = out if out is not None else sys.stdout
    path = default_path(request.ledger)
    with AuditLedger.open(path) as ledger:
        try:
            if request.record_id is not None:
                return look_up(ledger, request, window, stream)
            export(ledger, window, request.output, stream)
        except (ValueError, TypeError, RecursionError, sqlite3.Error) as exc:
            # Rows no apply writes (a damaged or hand-edited ledger): say so, in one line.
            raise LedgerError(
                f"the ledger {path} holds a row this release did not write: {exc}"
            ) from None
    return 0


def window_of(request: AuditRequest) -> Window:
    """The --since/--until window; one line for a time that is not one, or an empty window."""
    since = _moment("--since", request.since)
    until = _moment("--until", request.until)
    if since is not None and until is not None and since >= until:
        raise RetentionError(
            f"--since {request.since} is not before --until {request.until}: "
            "no run can have started in between"
        )
    return Window(since, until)


def _moment(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise RetentionError(f"{option}: {exc}") from None


def _check(request: AuditRequest) -> None:
    if request.record_id is None and request.since is None and request.until is None:
        raise RetentionError(
            "give --id ID to ask whether a record was erased, or --since/--until TIME to "
            "export the runs of that time"
        )
    if request.record_id is None and (request.index is not None or request.namespace is not None):
        raise RetentionError(
            "--index and --namespace narrow an --id look-up; an export (--since/--until) "
            "covers every index"
        )
    if request.record_id == "":
        raise RetentionError("--id is empty; give the ID of the record to look for")
    if request.record_id is not None and request.output == "csv":
        raise RetentionError(
            "--format csv is for exports (--since/--until); an --id look-up prints text or json"
        )


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment.astimezone(UTC))


# -- --id: was it erased


def look_up(ledger: AuditLedger, request: AuditRequest, window: Window, out: TextIO) -> int:
    """Every recorded erasure of the ID; 0 when one was answered, else 2."""
    assert request.record_id is not None
    place = Place(request.index, request.namespace)
    erasures = ledger.erasures(request.record_id, place, window)
    if request.output == "json":
        return _look_up_json(ledger, request, window, erasures, out)
    found = confirmed = 0
    for erasure in erasures:
        out.write("\n" if found else "")
        out.write(erasure_text(erasure))
        found += 1
        confirmed += erasure.confirmed
    if confirmed:
        out.write(f"\n{plural(confirmed, 'erasure')} of this ID recorded in {ledger.path}.\n")
        return ERASED
    out.write("\n" if found else "")
    out.write(not_erased_text(ledger.path, place, window, ledger.span(window), found) + "\n")
    shown, total = ledger.filtered_deletes(place, window, SCREENFUL)
    out.write(filtered_text(place, shown, total))
    return NOT_ERASED


def erasure_text(e: Erasure) -> str:
    """One erasure, as a block of labelled lines."""
    revision = f"git revision {e.run.git_revision}" if e.run.git_revision else "no git revision"
    request = f"{e.request_id or '(no request ID)'}, LSN {_or_none(e.lsn)}"
    finished = f", finished {e.run.finished}" if e.run.finished else ""
    lines = [
        ("when", _when(e)),
        ("where", f"index {e.index}, namespace {_namespace(e.namespace)}"),
        ("policy", f"{e.policy}, rule {e.rule}"),
        ("action", f"{e.action} ({e.status}; a batch of {plural(e.ids, 'ID')})"),
        ("plan", e.run.plan),
        ("policies", f"{e.run.policy_digest} ({revision})"),
        ("actor", f"{e.run.actor} (retention {e.run.command})"),
        ("run", f"{e.run.run}: {e.run.outcome}{finished}"),
        ("request", request if e.confirmed else "none recorded"),
    ]
    heading = "erased:" if e.confirmed else "requested, never confirmed:"
    return heading + "\n" + "".join(f"  {label:<9} {value}\n" for label, value in lines)


def _when(e: Erasure) -> str:
    if e.answered is not None:
        return e.answered
    if e.run.outcome == INCOMPLETE:
        why = "the apply was interrupted"
    else:
        ended = f"{e.status}: {e.error}" if e.error else e.status
        why = f"no answer came, or the ledger could not record it; the action ended {ended}"
    return f"requested at {e.sent}, no answer recorded ({why})"


def not_erased_text(path: Path, place: Place, window: Window, span: Span, found: int) -> str:
    """The line saying no erasure is recorded, and what was searched."""
    where = _in(place)
    within = " started in the --since/--until window" if window != Window() else ""
    if span.runs:
        searched = f"{plural(span.runs, 'run')}{within}, from {span.first} to {span.last}"
    else:
        searched = f"no runs{within}"
    what = "no confirmed erasure" if found else "no erasure"
    line = f"{what} of this ID{where} is recorded in {path} ({searched})"
    return line + (": only the requests above, never answered" if found else "")


def filtered_text(place: Place, shown: tuple[FilteredDelete, ...], total: int) -> str:
    """The filtered deletes that may have erased the record without naming it."""
    where = _in(place)
    if not total:
        return f"no filtered delete (deleteByFilter, deleteAll, deleteNamespace) ran{where}.\n"
    lines = [f"filtered deletes{where}, which name no ID but may have erased it (newest first):\n"]
    for f in shown:
        done = (
            f"{f.status}, {plural(f.deleted, 'record')} deleted"
            if f.deleted is not None
            else f.status
        )
        lines.append(
            f"  {f.started}  {f.index}/{_namespace(f.namespace)}  {f.policy}/{f.rule}  "
            f"{f.kind} {_selected(f)}  {done}  (run {f.run.run}: {f.run.outcome})\n"
        )
    if total > len(shown):
        lines.append(
            f"  ...and {total - len(shown):,} more; narrow with --index, --namespace or "
            "--since/--until\n"
        )
    return "".join(lines)


def _selected(f: FilteredDelete) -> str:
    if f.kind == "deleteAll":
        return "(every record)"
    if f.kind == "deleteNamespace":
        return "(the whole namespace)"
    return json.dumps(f.filter, sort_keys=True)


def _in(place: Place) -> str:
    """` in index I, namespace N`, or nothing when the look-up is not narrowed."""
    parts = [f"index {place.index}"] if place.index is not None else []
    if place.namespace is not None:
        parts.append(f"namespace {_namespace(place.namespace)}")
    return f" in {', '.join(parts)}" if parts else ""


def _namespace(namespace: str) -> str:
    return namespace if namespace else '"" (the default namespace)'


def _or_none(value: object) -> str:
    return "(none)" if value is None else str(value)


def _look_up_json(
    ledger: AuditLedger,
    request: AuditRequest,
    window: Window,
    erasures: Iterator[Erasure],
    out: TextIO,
) -> int:
    """The look-up as one JSON document (a record is erased a handful of times at most)."""
    assert request.record_id is not None
    place = Place(request.index, request.namespace)
    found = [_erasure_doc(e) for e in erasures]
    erased = any(e["answered"] is not None for e in found)
    span = ledger.span(window)
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "AuditErasures",
        "ledger": str(ledger.path),
        "idSha256": id_digest(request.record_id).hex(),
        "index": request.index,
        "namespace": request.namespace,
        "since": _time(window.since),
        "until": _time(window.until),
        "erased": erased,
        "erasures": found,
        "searched": {"runs": span.runs, "first": span.first, "last": span.last},
    }
    if not erased:
        shown, total = ledger.filtered_deletes(place, window, SCREENFUL)
        doc["filteredDeletes"] = [_filtered_doc(f) for f in shown]
        doc["filteredDeletesTotal"] = total
    out.write(json.dumps(doc, indent=2) + "\n")
    return ERASED if erased else NOT_ERASED


def _erasure_doc(e: Erasure) -> dict[str, Any]:
    return {
        **_head_doc(e.run),
        "action": e.action,
        "policy": e.policy,
        "rule": e.rule,
        "index": e.index,
        "namespace": e.namespace,
        "status": e.status,
        "error": e.error,
        "batchIds": e.ids,
        "sent": e.sent,
        "answered": e.answered,
        "requestId": e.request_id,
        "lsn": e.lsn,
    }


def _filtered_doc(f: FilteredDelete) -> dict[str, Any]:
    return {
        **_head_doc(f.run),
        "action": f.action,
        "policy": f.policy,
        "rule": f.rule,
        "index": f.index,
        "namespace": f.namespace,
        "kind": f.kind,
        "selection": f.selected,
        "started": f.started,
        "finished": f.finished,
        "status": f.status,
        "deleted": f.deleted,
    }


def _head_doc(head: RunHead) -> dict[str, Any]:
    return {
        "run": head.run,
        "command": head.command,
        "actor": head.actor,
        "plan": head.plan,
        "policyDigest": head.policy_digest,
        "gitRevision": head.git_revision,
        "runStarted": head.started,
        "outcome": head.outcome,
        "runFinished": head.finished,
    }


# -- --since/--until: what ran when


def export(ledger: AuditLedger, window: Window, output: Output, out: TextIO) -> None:
    """Every run started in `window`, with its actions, streamed run by run."""
    if output == "json":
        _export_json(ledger, window, out)
    elif output == "csv":
        _export_csv(ledger, window, out)
    else:
        _export_text(ledger, window, out)


def run_doc(run: RunEvidence, actions: Iterator[ActionEvidence]) -> dict[str, Any]:
    """One run of the export, as JSON."""
    return {
        "run": run.run,
        "command": run.command,
        "actor": run.actor,
        "plan": run.plan,
        "policyDigest": run.policy_digest,
        "gitRevision": run.git_revision,
        "toolVersion": run.tool_version,
        "policies": list(run.policies),
        "started": run.started,
        "finished": run.finished,
        "outcome": run.outcome,
        "deleted": run.deleted,
        "error": run.error,
        "backups": [
            {
                "index": b.index,
                "backupId": b.backup_id,
                "status": b.status,
                "records": b.records,
                "policies": list(b.policies),
                "at": b.at,
            }
            for b in run.backups
        ],
        "actions": [action_doc(a) for a in actions],
    }


def action_doc(a: ActionEvidence) -> dict[str, Any]:
    return {
        "action": a.action,
        "policy": a.policy,
        "rule": a.rule,
        "index": a.index,
        "namespace": a.namespace,
        "kind": a.kind,
        "selection": a.selected,
        "planned": a.planned,
        "deleted": a.deleted,
        "countedBy": a.counted_by,
        "status": a.status,
        "requests": a.requests,
        "verification": a.verification,
        "verified": a.verified,
        "remaining": a.remaining,
        "requestIds": list(a.request_ids),
        "lsn": a.lsn,
        "error": a.error,
        "started": a.started,
        "finished": a.finished,
        "idBatches": a.id_batches,
        "idsSent": a.ids_sent,
        "unansweredBatches": a.unanswered_batches,
    }


def _export_json(ledger: AuditLedger, window: Window, out: TextIO) -> None:
    """One AuditExport document, written run by run (each run is built alone)."""
    head = {
        "apiVersion": API_VERSION,
        "kind": "AuditExport",
        "ledger": str(ledger.path),
        "since": _time(window.since),
        "until": _time(window.until),
    }
    out.write("{\n")
    for key, value in head.items():
        out.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    out.write('  "runs": [')
    separator = "\n"
    for run in ledger.runs(window):
        text = json.dumps(run_doc(run, ledger.actions(run)), indent=2)
        out.write(separator + textwrap.indent(text, "    "))
        separator = ",\n"
    out.write("\n  ]\n}\n" if separator != "\n" else "]\n}\n")


RUN_COLUMNS = (
    "run", "command", "actor", "plan", "policy_digest", "git_revision", "tool_version",
    "policies", "run_started", "run_finished", "outcome", "run_deleted", "run_error", "backups",
)  # fmt: skip
ACTION_COLUMNS = (
    "action", "policy", "rule", "index", "namespace", "kind", "selection", "planned", "deleted",
    "counted_by", "status", "verification", "verified", "remaining", "request_ids", "lsn",
    "error", "started", "finished", "id_batches", "ids_sent", "unanswered_batches",
)  # fmt: skip
"""The csv export's columns: a run's, then one of its actions' (lists are JSON)."""


def _export_csv(ledger: AuditLedger, window: Window, out: TextIO) -> None:
    """One row per action (a run without actions: one row, its action columns empty)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RUN_COLUMNS + ACTION_COLUMNS)
    for run in ledger.runs(window):
        cells = run_cells(run)
        wrote = False
        for action in ledger.actions(run):
            writer.writerow(cells + action_cells(action))
            wrote = True
        if not wrote:
            writer.writerow(cells + ("",) * len(ACTION_COLUMNS))


def run_cells(run: RunEvidence) -> tuple[object, ...]:
    doc = run_doc(run, iter(()))
    return (
        run.run, run.command, run.actor, run.plan, run.policy_digest, run.git_revision,
        run.tool_version, json.dumps(doc["policies"]), run.started, run.finished, run.outcome,
        run.deleted, run.error, json.dumps(doc["backups"]),
    )  # fmt: skip


def action_cells(a: ActionEvidence) -> tuple[object, ...]:
    return (
        a.action, a.policy, a.rule, a.index, a.namespace, a.kind, a.selection, a.planned,
        a.deleted, a.counted_by, a.status, a.verification, a.verified, a.remaining,
        json.dumps(list(a.request_ids)), a.lsn, a.error, a.started, a.finished, a.id_batches,
        a.ids_sent, a.unanswered_batches,
    )  # fmt: skip


def _export_text(ledger: AuditLedger, window: Window, out: TextIO) -> None:
    """A short summary per run and action."""
    bounds = [f"at or after {_time(window.since)}"] if window.since is not None else []
    if window.until is not None:
        bounds.append(f"before {_time(window.until)}")
    out.write(f"runs in {ledger.path} started {' and '.join(bounds)}:\n")
    runs = 0
    for run in ledger.runs(window):
        out.write(run_text(run))
        for action in ledger.actions(run):
            out.write(action_text(action))
        runs += 1
    out.write(f"{plural(runs, 'run')}.\n" if runs else "no runs.\n")


def run_text(run: RunEvidence) -> str:
    deleted = f", {plural(run.deleted, 'record')} deleted" if run.deleted is not None else ""
    finished = f", finished {run.finished}" if run.finished else ""
    revision = f"git {run.git_revision}" if run.git_revision else "no git revision"
    lines = [
        f"\n{run.run}  retention {run.command} by {run.actor}: {run.outcome}{deleted}\n",
        f"  started {run.started}{finished}\n",
        f"  plan {run.plan}\n",
        f"  policies {run.policy_digest} ({revision}, retention {run.tool_version}): "
        f"{', '.join(run.policies) or '(none)'}\n",
    ]
    for b in run.backups:
        records = f" ({plural(b.records, 'record')})" if b.records is not None else ""
        lines.append(f"  backup {b.backup_id} of index {b.index}: {b.status}{records}\n")
    if run.error:
        lines.append(f"  error: {run.error}\n")
    return "".join(lines)


def action_text(a: ActionEvidence) -> str:
    if a.deleted is not None:
        counted = f" ({a.counted_by})" if a.counted_by else ""
        figures = f"{a.deleted:,} deleted of {a.planned:,} planned{counted}"
    else:
        figures = f"{a.planned:,} planned, no end recorded"
    if a.verification:
        figures += f", {a.verification}"
    if a.id_batches:
        figures += f"; {plural(a.id_batches, 'ID batch', 'ID batches')}, {plural(a.ids_sent, 'ID')}"
        if a.unanswered_batches:
            figures += f" ({a.unanswered_batches:,} unanswered)"
    error = f"\n      error: {a.error}" if a.error else ""
    return f"  - {a.action}  {a.kind}  {a.status}: {figures}{error}\n"
