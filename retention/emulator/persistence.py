"""SQLite persistence for `--data DIR`: records, namespaces, indexes and backups survive a restart.

The in-memory store stays the source of truth for every read; this module only mirrors each
change as it becomes visible and loads everything back at start. One connection, used under
the store's lock, in WAL mode so that a write costs a journal append rather than a page rewrite.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from retention.emulator.model import Backup, IndexInfo, RestoreJob
from retention.emulator.records import StoredRecord
from retention.emulator.store import IndexState, Namespace, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
    idx TEXT NOT NULL, ns TEXT NOT NULL, schema TEXT, PRIMARY KEY (idx, ns));
CREATE TABLE IF NOT EXISTS records (
    idx TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL,
    vals TEXT NOT NULL, sparse TEXT, meta TEXT NOT NULL, PRIMARY KEY (idx, ns, id));
CREATE TABLE IF NOT EXISTS backups (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS known_namespaces (idx TEXT NOT NULL, ns TEXT NOT NULL,
    PRIMARY KEY (idx, ns));
CREATE TABLE IF NOT EXISTS restore_jobs (id TEXT PRIMARY KEY, body TEXT NOT NULL);
"""

FILE_NAME = "emulator.sqlite3"


class SqliteBackend:
    """Write-through mirror of the store in `DIR/emulator.sqlite3`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / FILE_NAME, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- loading

    def indexes(self) -> list[IndexInfo]:
        rows = self._db.execute("SELECT body FROM indexes").fetchall()
        return [IndexInfo(**json.loads(body)) for (body,) in rows]

    def namespaces(self) -> list[tuple[str, str, dict[str, object] | None]]:
        rows = self._db.execute("SELECT idx, ns, schema FROM namespaces").fetchall()
        return [(idx, ns, json.loads(schema) if schema else None) for idx, ns, schema in rows]

    def records(self) -> Iterator[tuple[str, str, str, StoredRecord]]:
        cursor = self._db.execute("SELECT idx, ns, id, vals, sparse, meta FROM records")
        for idx, ns, rid, vals, sparse, meta in cursor:
            record = StoredRecord(
                json.loads(vals), json.loads(sparse) if sparse else None, json.loads(meta)
            )
            yield idx, ns, rid, record

    def backups(self) -> list[Backup]:
        rows = self._db.execute("SELECT body FROM backups").fetchall()
        return [_backup(json.loads(body)) for (body,) in rows]

    def known_namespaces(self) -> list[tuple[str, str]]:
        return [(i, n) for i, n in self._db.execute("SELECT idx, ns FROM known_namespaces")]

    def restore_jobs(self) -> list[RestoreJob]:
        rows = self._db.execute("SELECT body FROM restore_jobs").fetchall()
        return [RestoreJob(**json.loads(body)) for (body,) in rows]

    # -- mirroring changes

    def put_index(self, info: IndexInfo) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO indexes VALUES (?, ?)",
                (info.name, json.dumps(asdict(info))),
            )

    def drop_index(self, name: str) -> None:
        with self._db:
            for table in ("records", "namespaces", "known_namespaces"):
                self._db.execute(f"DELETE FROM {table} WHERE idx = ?", (name,))
            self._db.execute("DELETE FROM indexes WHERE name = ?", (name,))

    def put_namespace(self, index: str, ns: str, schema: dict[str, object] | None) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO namespaces VALUES (?, ?, ?)",
                (index, ns, json.dumps(schema) if schema is not None else None),
            )

    def drop_namespace(self, index: str, ns: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM records WHERE idx = ? AND ns = ?", (index, ns))
            for table in ("namespaces", "known_namespaces"):
                self._db.execute(f"DELETE FROM {table} WHERE idx = ? AND ns = ?", (index, ns))

    def put_records(self, index: str, ns: str, items: Iterable[tuple[str, StoredRecord]]) -> None:
        rows = [
            (
                index,
                ns,
                rid,
                json.dumps(r.values),
                json.dumps(r.sparse) if r.sparse is not None else None,
                json.dumps(r.metadata),
            )
            for rid, r in items
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", rows)

    def remove_records(self, index: str, ns: str, ids: Iterable[str]) -> None:
        with self._db:
            self._db.executemany(
                "DELETE FROM records WHERE idx = ? AND ns = ? AND id = ?",
                ((index, ns, rid) for rid in ids),
            )

    def put_backup(self, backup: Backup) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO backups VALUES (?, ?)",
                (backup.backup_id, json.dumps(asdict(backup))),
            )

    def drop_backup(self, backup_id: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM backups WHERE id = ?", (backup_id,))

    def put_restore_job(self, job: RestoreJob) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO restore_jobs VALUES (?, ?)",
                (job.restore_job_id, json.dumps(asdict(job))),
            )

    def mark_namespace_known(self, index: str, ns: str) -> None:
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO known_namespaces VALUES (?, ?)", (index, ns))


def _backup(body: dict[str, Any]) -> Backup:
    """A backup from its stored JSON; older files have no outcome or snapshot."""
    raw = body.pop("snapshot", None) or {}
    snapshot = {
        ns: {
            rid: StoredRecord(r["values"], r.get("sparse"), r["metadata"])
            for rid, r in held.items()
        }
        for ns, held in raw.items()
    }
    return Backup(**body, snapshot=snapshot)


def restore(store: Store, backend: SqliteBackend) -> None:
    """Load everything `backend` holds into an empty store (without mirroring it back)."""
    with store.lock:
        for info in backend.indexes():
            store.indexes[info.name] = IndexState(store, info)
        for index, ns, schema in backend.namespaces():
            state = store.indexes.get(index)
            if state is not None:
                namespace = state.namespaces[ns] = Namespace(state, ns, explicit=True)
                namespace.schema = schema
        for index, ns, rid, record in backend.records():
            state = store.indexes.get(index)
            if state is None:
                continue
            if ns not in state.namespaces:
                state.namespaces[ns] = Namespace(state, ns)
            state.namespaces[ns].records[rid] = record
            state.namespaces[ns].known = True
        for index, ns in backend.known_namespaces():
            state = store.indexes.get(index)
            if state is not None:
                state.namespaces.setdefault(ns, Namespace(state, ns)).known = True
        for backup in backend.backups():
            backup.ready_at = float("-inf")  # the clock it was timed on is gone
            store.backups[backup.backup_id] = backup
        for job in backend.restore_jobs():
            job.ready_at = float("-inf")
            store.restore_jobs[job.restore_job_id] = job
