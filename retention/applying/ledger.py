"""The erasure ledger: durable, append-only evidence of every apply, from the CLI and from `run`.

One SQLite file (the state directory's `ledger.sqlite` unless `--ledger` names another) holds,
for each apply: the plan's fingerprint, the policies' digest and git revision, who ran it, each
action's selection and counts (planned, deleted, verified), request IDs and LSNs, start and end
times, the outcome, any backup taken first, and for ID deletions the SHA-256 of every deleted ID,
never the ID itself. Inline IDs and ID prefixes are kept as digests too; a filter is kept as it
is, as the policy file in git has it.

Every step is its own transaction, written before the step it is about takes effect where that
matters: an ID batch and the digests of its IDs are committed before its delete is sent, and its
answer (request ID, LSN) after; an action is committed before its first request. So an apply
killed at any moment (`kill -9`, a node lost) leaves a ledger that is consistent and errs only
one way: it may record a batch as sent whose answer never came (audit says so), never a deletion
it does not record. Rows are only ever added: triggers refuse every UPDATE and DELETE.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from retention.applying.report import ActionResult, BackupTaken, Report
from retention.errors import RetentionError
from retention.filters import to_json
from retention.host import default_state_dir, kind_of
from retention.planning.plan import (
    Action,
    ByFilter,
    ByIds,
    IdFile,
    IdPrefix,
    IdSource,
    InlineIds,
    Plan,
    format_time,
)

LEDGER_FILE = "ledger.sqlite"
KIND = "retention-ledger"
VERSION = "1"
BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process holding the ledger (a CLI apply beside a pod)."""

TABLES = (
    "meta",
    "runs",
    "run_ends",
    "actions",
    "action_ends",
    "verifications",
    "id_batches",
    "id_batch_ends",
    "erased_ids",
    "backups",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, run TEXT NOT NULL UNIQUE, command TEXT NOT NULL,
    actor TEXT NOT NULL, plan TEXT NOT NULL, policy_digest TEXT NOT NULL, git_revision TEXT,
    tool_version TEXT NOT NULL, policies TEXT NOT NULL, started TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
CREATE TABLE IF NOT EXISTS run_ends (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id), outcome TEXT NOT NULL,
    deleted INTEGER NOT NULL, error TEXT, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs (id),
    action TEXT NOT NULL, policy TEXT NOT NULL, rule TEXT NOT NULL, index_name TEXT NOT NULL,
    namespace TEXT NOT NULL, kind TEXT NOT NULL, selection TEXT NOT NULL,
    planned INTEGER NOT NULL, started TEXT NOT NULL, UNIQUE (run_id, action));
CREATE INDEX IF NOT EXISTS actions_by_place ON actions (index_name, namespace);
CREATE TABLE IF NOT EXISTS action_ends (
    action_id INTEGER PRIMARY KEY REFERENCES actions (id), status TEXT NOT NULL,
    deleted INTEGER NOT NULL, counted_by TEXT, requests INTEGER NOT NULL,
    request_ids TEXT NOT NULL, lsn INTEGER, error TEXT, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verifications (
    action_id INTEGER PRIMARY KEY REFERENCES actions (id), verification TEXT NOT NULL,
    verified INTEGER, remaining INTEGER, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS id_batches (
    id INTEGER PRIMARY KEY, action_id INTEGER NOT NULL REFERENCES actions (id),
    ids INTEGER NOT NULL, sent TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS id_batch_ends (
    batch_id INTEGER PRIMARY KEY REFERENCES id_batches (id), request_id TEXT, lsn INTEGER,
    at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS erased_ids (
    id_sha256 BLOB NOT NULL, batch_id INTEGER NOT NULL REFERENCES id_batches (id),
    PRIMARY KEY (id_sha256, batch_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs (id), index_name TEXT NOT NULL,
    backup_id TEXT NOT NULL, status TEXT NOT NULL, records INTEGER, policies TEXT NOT NULL,
    at TEXT NOT NULL);
""" + "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{verb} BEFORE {verb.upper()} ON {t} "
    "BEGIN SELECT RAISE(ABORT, 'the retention ledger is append-only'); END;\n"
    for t in TABLES
    for verb in ("update", "delete")
)


class LedgerError(RetentionError):
    """The ledger cannot be opened, read or written: an apply stops before its next delete."""


def id_digest(record_id: str) -> bytes:
    """What the ledger keeps of a deleted record's ID: its SHA-256."""
    return hashlib.sha256(record_id.encode()).digest()


def selection_of(action: Action) -> dict[str, Any]:
    """What the action selects, as the ledger keeps it: filters as they are, and of IDs and
    ID prefixes only their count and digest (an ID may be personal data)."""
    d = action.deletes
    doc: dict[str, Any] = {"kind": action.kind}
    if not isinstance(d, ByIds):  # an ID action's condition names its IDs or prefix
        doc["condition"] = action.condition
    if isinstance(d, ByFilter):
        doc["filter"] = to_json(d.filter)
        doc["protections"] = [to_json(p) for p in d.protections]
    elif isinstance(d, ByIds):
        doc["idSource"] = _source(d.source)
        doc["where"] = None if d.where is None else to_json(d.where)
        doc["protect"] = [to_json(p) for p in d.protect]
    return doc


def _source(s: IdSource) -> dict[str, Any]:
    if isinstance(s, InlineIds):
        joined = "\n".join(s.ids).encode()
        return {"type": s.type, "ids": len(s.ids), "sha256": hashlib.sha256(joined).hexdigest()}
    if isinstance(s, IdFile):
        return {"type": s.type, "path": s.path, "sha256": s.sha256}
    if isinstance(s, IdPrefix):
        return {"type": s.type, "prefixSha256": hashlib.sha256(s.prefix.encode()).hexdigest()}
    return {"type": s.type, "filter": to_json(s.filter)}


class Record(Protocol):
    """What the executor tells the ledger while it works (`Run`, or `NOT_RECORDED`)."""

    def action_started(self, action: Action, at: datetime) -> None: ...
    def batch_sending(self, action: Action, ids: Sequence[str], at: datetime) -> int: ...
    def batch_answered(
        self, batch: int, request_id: str | None, lsn: int | None, at: datetime
    ) -> None: ...
    def action_ended(self, result: ActionResult, at: datetime) -> None: ...
    def verified(self, result: ActionResult, at: datetime) -> None: ...
    def backup(self, backup: BackupTaken, at: datetime) -> None: ...


class _NotRecorded:
    """For executors driven without a ledger (unit tests of the executor itself)."""

    def action_started(self, action: Action, at: datetime) -> None:
        pass

    def batch_sending(self, action: Action, ids: Sequence[str], at: datetime) -> int:
        return 0

    def batch_answered(
        self, batch: int, request_id: str | None, lsn: int | None, at: datetime
    ) -> None:
        pass

    def action_ended(self, result: ActionResult, at: datetime) -> None:
        pass

    def verified(self, result: ActionResult, at: datetime) -> None:
        pass

    def backup(self, backup: BackupTaken, at: datetime) -> None:
        pass


NOT_RECORDED: Record = _NotRecorded()


class Ledger:
    """An open ledger file. `open` creates it (and its schema) or checks it is one."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Ledger:
        """The ledger at `path`; one line when it is something else or cannot be opened.
        `create=False` (audit) refuses a path where no ledger exists yet."""
        check_path(path, create=create)
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
        ledger = cls(path, db)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            ledger._prepare()  # before WAL: a file that is no ledger is left as it was
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise LedgerError(f"{path} is not a retention ledger: {exc}") from None
        except LedgerError:
            db.close()
            raise
        return ledger

    def _prepare(self) -> None:
        if check_ledger(self.path, self.db, empty_ok=True):
            return
        # A new file. One script, one transaction: two processes creating the ledger at once
        # both end with the same schema (every statement is IF NOT EXISTS / OR IGNORE).
        self.db.executescript(
            f"BEGIN IMMEDIATE;{_SCHEMA}"
            f"INSERT OR IGNORE INTO meta VALUES ('kind', '{KIND}');"
            f"INSERT OR IGNORE INTO meta VALUES ('version', '{VERSION}');COMMIT;"
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable step; a failure is a LedgerError naming the file."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def begin(
        self, plan: Plan, *, command: str, actor: str, started: datetime, policies: Sequence[str]
    ) -> Run:
        """Record the start of an apply of `plan` (of `policies`, those it applies)."""
        run = f"run-{uuid.uuid4().hex}"
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (run, command, actor, plan, policy_digest, git_revision, "
                "tool_version, policies, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run,
                    command,
                    actor,
                    plan.fingerprint,
                    plan.sources.digest,
                    plan.sources.git_revision,
                    plan.tool_version,
                    json.dumps(sorted(policies)),
                    format_time(started),
                ),
            )
            key = cursor.lastrowid
        assert key is not None
        return Run(self, run, key)

    def recent_deleted(self, policy: str, runs: int) -> list[int]:
        """Records the policy deleted in each of its last `runs` finished applies that deleted
        or tried to (newest first): the history the trend breaker weighs a firing against."""
        rows = self.db.execute(
            "SELECT r.id, COALESCE(SUM(e.deleted), 0) FROM runs r "
            "JOIN run_ends f ON f.run_id = r.id "
            "JOIN actions a ON a.run_id = r.id AND a.policy = ? "
            "JOIN action_ends e ON e.action_id = a.id AND e.status != 'outside-window' "
            "WHERE f.outcome IN ('applied', 'partial', 'failed', 'interrupted') "
            "GROUP BY r.id ORDER BY r.started DESC, r.id DESC LIMIT ?",
            (policy, runs),
        )
        return [int(n) for _, n in rows]


def check_ledger(path: Path, db: sqlite3.Connection, *, empty_ok: bool = False) -> bool:
    """Refuse, in one line, a database that is not a ledger this release reads (another
    SQLite file, another version, a damaged ledger); False for one with no tables at all,
    when `empty_ok` (a new ledger to create)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        if empty_ok:
            return False
        raise LedgerError(f"{path} is not a retention ledger: it holds no tables")
    meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
    if meta.get("kind") != KIND:
        raise LedgerError(
            f"{path} is a SQLite database but not a retention ledger; name another file"
        )
    if meta.get("version") != VERSION:
        raise LedgerError(
            f"{path} is a retention ledger of version {meta.get('version')}, which this "
            f"release (version {VERSION}) does not read"
        )
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise LedgerError(f"{path} is a damaged retention ledger: it has no table {missing[0]}")
    found = _objects(db)
    if found != _expected_objects():
        odd = sorted(found.keys() ^ _expected_objects().keys()) or sorted(
            k for k in found if found[k] != _expected_objects()[k]
        )
        raise LedgerError(
            f"{path} is not the retention ledger this release writes: its {odd[0][0]} "
            f"{odd[0][1]} differs (a changed schema could drop or alter records); name another "
            "file"
        )
    return True


def _objects(db: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """The tables, indexes and triggers of a database, by (type, name), with their SQL."""
    rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return {(t, n): " ".join((sql or "").split()) for t, n, sql in rows}


@functools.cache
def _expected_objects() -> dict[tuple[str, str], str]:
    """What a ledger of this version holds: the schema created in a scratch database."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(_SCHEMA)
        return _objects(scratch)
    finally:
        scratch.close()


def ledger_path(given: str | None, state_dir: Path | None = None) -> Path:
    """The ledger `--ledger` names, else the state directory's (created when missing)."""
    if given:
        return Path(given)
    directory = state_dir if state_dir is not None else default_state_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(
            f"cannot create the state directory {directory} for the ledger: "
            f"{(exc.strerror or type(exc).__name__).lower()}; give --ledger PATH"
        ) from None
    return directory / LEDGER_FILE


def check_path(path: Path, *, create: bool) -> None:
    """Refuse, in one line, a ledger path that is a link or not a regular file, or (unless
    `create`) where there is none."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not create:
            raise LedgerError(f"no ledger at {path}: nothing has been applied with it") from None
        if not path.parent.is_dir():
            raise LedgerError(
                f"cannot create the ledger {path}: {path.parent} is not a directory"
            ) from None
        return
    except OSError as exc:
        raise LedgerError(f"cannot open the ledger {path}: {exc.strerror}") from None
    if stat.S_ISLNK(mode):
        raise LedgerError(f"the ledger {path} is a symbolic link; name the file itself")
    if not stat.S_ISREG(mode):
        raise LedgerError(f"the ledger {path} is {kind_of(mode)}, not a regular file")


@dataclass
class Run:
    """One apply's entries in the ledger, written as it goes."""

    ledger: Ledger
    run: str
    key: int

    def __post_init__(self) -> None:
        self._actions: dict[str, int] = {}
        self._ended: set[str] = set()

    @property
    def touched(self) -> bool:
        """Whether any action of the run has started (so a request may have been sent)."""
        return bool(self._actions)

    def action_started(self, action: Action, at: datetime) -> None:
        """Before the action's first request (once per action)."""
        if action.id in self._actions:
            return
        with self.ledger.transaction() as db:
            cursor = db.execute(
                "INSERT INTO actions (run_id, action, policy, rule, index_name, namespace, kind, "
                "selection, planned, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.key,
                    action.id,
                    action.policy,
                    action.rule,
                    action.index,
                    action.namespace,
                    action.kind,
                    json.dumps(selection_of(action), sort_keys=True),
                    action.records,
                    format_time(at),
                ),
            )
        assert cursor.lastrowid is not None
        self._actions[action.id] = cursor.lastrowid

    def batch_sending(self, action: Action, ids: Sequence[str], at: datetime) -> int:
        """Before a batch of IDs is sent: the batch and the digest of each ID; its key."""
        self.action_started(action, at)
        with self.ledger.transaction() as db:
            cursor = db.execute(
                "INSERT INTO id_batches (action_id, ids, sent) VALUES (?, ?, ?)",
                (self._actions[action.id], len(ids), format_time(at)),
            )
            batch = cursor.lastrowid
            assert batch is not None
            db.executemany(
                "INSERT INTO erased_ids (id_sha256, batch_id) VALUES (?, ?)",
                ((digest, batch) for digest in dict.fromkeys(id_digest(i) for i in ids)),
            )
        return batch

    def batch_answered(
        self, batch: int, request_id: str | None, lsn: int | None, at: datetime
    ) -> None:
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO id_batch_ends (batch_id, request_id, lsn, at) VALUES (?, ?, ?, ?)",
                (batch, request_id, lsn, format_time(at)),
            )

    def action_ended(self, result: ActionResult, at: datetime) -> None:
        """How the action ended (once): what it deleted, its requests, its error."""
        a = result.action
        if a.id in self._ended or result.status in ("skipped", "applied-earlier"):
            return
        self.action_started(a, at)
        self._ended.add(a.id)
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO action_ends (action_id, status, deleted, counted_by, requests, "
                "request_ids, lsn, error, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._actions[a.id],
                    result.status,
                    result.deleted,
                    result.counted_by,
                    result.requests,
                    json.dumps(result.request_ids),
                    result.lsn,
                    result.error,
                    format_time(result.finished or at),
                ),
            )

    def verified(self, result: ActionResult, at: datetime) -> None:
        key = self._actions.get(result.action.id)
        if key is None or result.status != "done":
            return
        verified = result.deleted if result.verification == "verified" else None
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO verifications (action_id, verification, verified, "
                "remaining, at) VALUES (?, ?, ?, ?, ?)",
                (key, result.verification, verified, result.remaining, format_time(at)),
            )

    def backup(self, backup: BackupTaken, at: datetime) -> None:
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO backups (run_id, index_name, backup_id, status, records, policies, "
                "at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.key, backup.index, backup.backup_id, backup.status, backup.records,
                 json.dumps(list(backup.policies)), format_time(at)),
            )  # fmt: skip

    def end(self, report: Report | None, outcome: str, at: datetime, error: str | None) -> None:
        """The run's end: every action's end not yet written, then the outcome."""
        if report is not None:
            for result in report.results:
                self.action_ended(result, at)
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO run_ends (run_id, outcome, deleted, error, finished) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.key, outcome, report.deleted if report else 0, error, format_time(at)),
            )


def outcome_of(report: Report) -> str:
    """A finished apply's outcome, as the ledger and audit name it."""
    if report.applied_earlier:
        return "applied-earlier"
    if report.failed:
        return "failed"
    if report.interrupted:
        return "interrupted"
    ran = [r for r in report.results if r.status not in ("applied-earlier", "outside-window")]
    if report.results and not ran:
        return "refused"  # every policy was outside its windows: nothing was started
    if any(r.status in ("outside-window", "window-closed") for r in report.results):
        return "partial"
    return "applied"
