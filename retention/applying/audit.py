"""Reading the erasure ledger for `retention audit`: was a record erased, and what ran when.

Pure reading. The file is opened read-only (`mode=ro`, `query_only`), never through
`Ledger.open`, which prepares what it opens (WAL mode, and the schema in an empty file), and
the whole reading is one read transaction, so an apply recording beside it never shows half a
step. A run the ledger holds no end of (its process was killed) is "incomplete", as is an
action with no end; an ID batch with no answer was requested, not confirmed.

What is returned is typed frozen dataclasses, given one by one (`Iterator`), so an export of
many runs never has to be held in memory; the caller formats them (`commands.audit`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from retention.applying.ledger import (
    BUSY_TIMEOUT,
    LEDGER_FILE,
    LedgerError,
    check_ledger,
    check_path,
    id_digest,
)
from retention.host import default_state_dir
from retention.identifiers import canonical_namespace

INCOMPLETE = "incomplete"
"""The outcome of a run, or the status of an action, whose end the ledger does not hold."""
FILTERED_KINDS = ("deleteByFilter", "deleteAll", "deleteNamespace")
"""Deletions the ledger holds no IDs of: any of them may have erased a record unnamed."""


@dataclass(frozen=True)
class Window:
    """Runs started at or after `since` and before `until` (either open)."""

    since: datetime | None = None
    until: datetime | None = None

    def where(self, column: str) -> tuple[str, tuple[str, ...]]:
        """An SQL condition on the time `column`, and its parameters. Times are compared as
        moments (`julianday`), not as text, so an offset other than Z compares right too."""
        terms, params = ["1"], []
        if self.since is not None:
            terms.append(f"julianday({column}) >= julianday(?)")
            params.append(self.since.astimezone(UTC).isoformat())
        if self.until is not None:
            terms.append(f"julianday({column}) < julianday(?)")
            params.append(self.until.astimezone(UTC).isoformat())
        return " AND ".join(terms), tuple(params)


@dataclass(frozen=True)
class Place:
    """An index and a namespace, either of them any."""

    index: str | None = None
    namespace: str | None = None

    def where(self) -> tuple[str, tuple[str, ...]]:
        terms, params = ["1"], []
        if self.index is not None:
            terms.append("a.index_name = ?")
            params.append(self.index)
        if self.namespace is not None:
            terms.append("a.namespace = ?")
            params.append(canonical_namespace(self.namespace))  # "" is __default__, as stored
        return " AND ".join(terms), tuple(params)


@dataclass(frozen=True)
class Span:
    """How many runs a ledger (or a window of it) holds, the first start and the last moment."""

    runs: int
    first: str | None
    last: str | None


@dataclass(frozen=True)
class RunHead:
    """Which apply: what an erasure or a filtered delete names of its run."""

    run: str
    command: str
    actor: str
    plan: str
    policy_digest: str
    git_revision: str | None
    started: str
    outcome: str
    finished: str | None


@dataclass(frozen=True)
class Erasure:
    """One ID batch that held the digest of the ID looked for: the request that erased it."""

    run: RunHead
    action: str
    policy: str
    rule: str
    index: str
    namespace: str
    status: str
    """The action's end status, or "incomplete"."""
    error: str | None
    ids: int
    """How many IDs the batch held."""
    sent: str
    answered: str | None
    """When the delete was answered; None: requested, no answer recorded."""
    request_id: str | None
    lsn: int | None

    @property
    def confirmed(self) -> bool:
        return self.answered is not None


@dataclass(frozen=True)
class FilteredDelete:
    """An action that deleted by filter, or everything: it names no ID."""

    run: RunHead
    action: str
    policy: str
    rule: str
    index: str
    namespace: str
    kind: str
    selection: str
    """The selection as the ledger keeps it (JSON)."""
    started: str
    finished: str | None
    status: str
    deleted: int | None

    @property
    def selected(self) -> Any:
        """The selection, parsed."""
        return _json(self.selection, self.selection)

    @property
    def filter(self) -> Any:
        """The filter it deleted by (None for deleteAll and deleteNamespace)."""
        selected = self.selected
        return selected.get("filter") if isinstance(selected, dict) else None


@dataclass(frozen=True)
class Backup:
    index: str
    backup_id: str
    status: str
    records: int | None
    policies: tuple[str, ...]
    at: str


@dataclass(frozen=True)
class RunEvidence:
    """One run, as the ledger holds it."""

    key: int
    """The run's row (to ask for its actions)."""
    run: str
    command: str
    actor: str
    plan: str
    policy_digest: str
    git_revision: str | None
    tool_version: str
    policies: tuple[str, ...]
    started: str
    finished: str | None
    outcome: str
    deleted: int | None
    error: str | None
    backups: tuple[Backup, ...]


@dataclass(frozen=True)
class ActionEvidence:
    """One action of a run, as the ledger holds it; the end's figures are None without one."""

    action: str
    policy: str
    rule: str
    index: str
    namespace: str
    kind: str
    selection: str
    planned: int
    deleted: int | None
    counted_by: str | None
    status: str
    requests: int | None
    verification: str | None
    verified: int | None
    remaining: int | None
    request_ids: tuple[str, ...]
    lsn: int | None
    error: str | None
    started: str
    finished: str | None
    id_batches: int
    ids_sent: int
    unanswered_batches: int
    """Batches sent whose answer is not recorded."""

    @property
    def selected(self) -> Any:
        """The selection, parsed (the text as stored, should it not parse)."""
        return _json(self.selection, self.selection)


def default_path(given: str | None) -> Path:
    """The ledger `--ledger` names, else the state directory's (never created: audit reads)."""
    return Path(given) if given else default_state_dir() / LEDGER_FILE


class AuditLedger:
    """A ledger open for reading, in one read transaction (`with` closes it)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db

    @classmethod
    def open(cls, path: Path) -> AuditLedger:
        """The ledger at `path`, read-only; one line when there is none or it is no ledger."""
        check_path(path, create=False)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
        try:
            db.execute("PRAGMA query_only = ON")
            db.execute("BEGIN")
            check_ledger(path, db)
        except sqlite3.OperationalError as exc:
            db.close()
            raise LedgerError(f"cannot read the ledger {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            db.close()
            raise LedgerError(f"{path} is not a retention ledger: {exc}") from None
        except LedgerError:
            db.close()
            raise
        return cls(path, db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> AuditLedger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query, one by one; a failure is one line naming the file."""
        try:
            yield from self.db.execute(sql, params)
        except sqlite3.ProgrammingError:
            return  # closed before this reader was done: an error elsewhere ended the audit
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc}") from None

    def span(self, window: Window = Window()) -> Span:
        """The runs of `window`: how many, the first start, the last start or finish."""
        where, params = window.where("r.started")
        sql = (
            "SELECT COUNT(*), strftime('%Y-%m-%dT%H:%M:%SZ', MIN(julianday(r.started))), "
            "strftime('%Y-%m-%dT%H:%M:%SZ', MAX(julianday(COALESCE(e.finished, r.started)))) "
            f"FROM runs r LEFT JOIN run_ends e ON e.run_id = r.id WHERE {where}"
        )
        ((runs, first, last),) = self._rows(sql, params)
        return Span(int(runs), first, last)

    def erasures(self, record_id: str, place: Place, window: Window) -> Iterator[Erasure]:
        """Every ID batch that held `record_id` (by its digest), first sent first."""
        in_place, place_params = place.where()
        in_window, window_params = window.where("r.started")
        sql = (
            f"SELECT {_HEAD}, a.action, a.policy, a.rule, a.index_name, a.namespace, "
            f"COALESCE(ae.status, '{INCOMPLETE}'), ae.error, b.ids, b.sent, be.at, "
            "be.request_id, be.lsn "
            "FROM erased_ids x JOIN id_batches b ON b.id = x.batch_id "
            "LEFT JOIN id_batch_ends be ON be.batch_id = b.id "
            f"JOIN actions a ON a.id = b.action_id {_RUN_OF_ACTION} "
            "LEFT JOIN action_ends ae ON ae.action_id = a.id "
            f"WHERE x.id_sha256 = ? AND {in_place} AND {in_window} "
            "ORDER BY julianday(b.sent), b.id"
        )
        params = (id_digest(record_id), *place_params, *window_params)
        for row in self._rows(sql, params):
            yield Erasure(_run_head(row), *row[_HEAD_COLUMNS:])

    def filtered_deletes(
        self, place: Place, window: Window, limit: int
    ) -> tuple[tuple[FilteredDelete, ...], int]:
        """The last `limit` filtered deletes in `place` (newest first), and how many there are."""
        in_place, place_params = place.where()
        in_window, window_params = window.where("r.started")
        kinds = ", ".join("?" for _ in FILTERED_KINDS)
        condition = f"a.kind IN ({kinds}) AND {in_place} AND {in_window}"
        params = (*FILTERED_KINDS, *place_params, *window_params)
        count_sql = f"SELECT COUNT(*) FROM actions a {_RUN_OF_ACTION} WHERE {condition}"
        ((total,),) = self._rows(count_sql, params)
        sql = (
            f"SELECT {_HEAD}, a.action, a.policy, a.rule, a.index_name, a.namespace, a.kind, "
            f"a.selection, a.started, ae.finished, COALESCE(ae.status, '{INCOMPLETE}'), "
            "ae.deleted "
            f"FROM actions a {_RUN_OF_ACTION} LEFT JOIN action_ends ae ON ae.action_id = a.id "
            f"WHERE {condition} ORDER BY julianday(a.started) DESC, a.id DESC LIMIT ?"
        )
        found = tuple(
            FilteredDelete(_run_head(row), *row[_HEAD_COLUMNS:])
            for row in self._rows(sql, (*params, limit))
        )
        return found, int(total)

    def runs(self, window: Window) -> Iterator[RunEvidence]:
        """Every run started in `window`, first started first."""
        where, params = window.where("r.started")
        sql = (
            "SELECT r.id, r.run, r.command, r.actor, r.plan, r.policy_digest, r.git_revision, "
            "r.tool_version, r.policies, r.started, e.finished, "
            f"COALESCE(e.outcome, '{INCOMPLETE}'), e.deleted, e.error "
            f"FROM runs r LEFT JOIN run_ends e ON e.run_id = r.id WHERE {where} "
            "ORDER BY julianday(r.started), r.id"
        )
        for row in self._rows(sql, params):
            fields: list[Any] = [*row[:8], _strings(row[8]), *row[9:], self._backups(row[0])]
            yield RunEvidence(*fields)

    def _backups(self, run_key: int) -> tuple[Backup, ...]:
        sql = (
            "SELECT index_name, backup_id, status, records, policies, at FROM backups "
            "WHERE run_id = ? ORDER BY id"
        )
        return tuple(
            Backup(index, backup_id, status, records, _strings(policies), at)
            for index, backup_id, status, records, policies, at in self._rows(sql, (run_key,))
        )

    def actions(self, run: RunEvidence) -> Iterator[ActionEvidence]:
        """The actions of `run`, in the order they started."""
        sql = (
            "SELECT a.action, a.policy, a.rule, a.index_name, a.namespace, a.kind, a.selection, "
            f"a.planned, e.deleted, e.counted_by, COALESCE(e.status, '{INCOMPLETE}'), "
            "e.requests, v.verification, v.verified, v.remaining, e.request_ids, e.lsn, e.error, "
            "a.started, e.finished, "
            "(SELECT COUNT(*) FROM id_batches b WHERE b.action_id = a.id), "
            "(SELECT COALESCE(SUM(b.ids), 0) FROM id_batches b WHERE b.action_id = a.id), "
            "(SELECT COUNT(*) FROM id_batches b LEFT JOIN id_batch_ends be "
            "ON be.batch_id = b.id WHERE b.action_id = a.id AND be.batch_id IS NULL) "
            "FROM actions a LEFT JOIN action_ends e ON e.action_id = a.id "
            "LEFT JOIN verifications v ON v.action_id = a.id WHERE a.run_id = ? ORDER BY a.id"
        )
        for row in self._rows(sql, (run.key,)):
            fields: list[Any] = [*row[:15], _strings(row[15]), *row[16:]]
            yield ActionEvidence(*fields)


_HEAD = (
    "r.run, r.command, r.actor, r.plan, r.policy_digest, r.git_revision, r.started, "
    f"COALESCE(re.outcome, '{INCOMPLETE}'), re.finished"
)
_HEAD_COLUMNS = 9
_RUN_OF_ACTION = "JOIN runs r ON r.id = a.run_id LEFT JOIN run_ends re ON re.run_id = r.id"


def _run_head(row: tuple[Any, ...]) -> RunHead:
    return RunHead(*row[:_HEAD_COLUMNS])


def _json(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return default


def _strings(text: str | None) -> tuple[str, ...]:
    """A JSON list of strings as the ledger keeps it (policies, request IDs), as a tuple."""
    value = _json(text, [])
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
