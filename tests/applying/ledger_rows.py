"""Reading an erasure ledger back in tests, and its consistency with what the index holds."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def rows(path: Path, sql: str, *args: object) -> list[dict[str, Any]]:
    """The rows of a query on the ledger at `path`, as dicts (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def digest(record_id: str) -> bytes:
    return hashlib.sha256(record_id.encode()).digest()


def recorded_digests(path: Path, *, answered: bool = False) -> set[bytes]:
    """The digests of the IDs the ledger holds as sent (or, `answered`, as deleted)."""
    join = "JOIN id_batch_ends b ON b.batch_id = e.batch_id" if answered else ""
    return {r["id_sha256"] for r in rows(path, f"SELECT e.id_sha256 FROM erased_ids e {join}")}


def check_consistent(path: Path) -> None:
    """The ledger is whole: SQLite finds it intact, every row refers to an existing row, and
    every end belongs to a start."""
    assert rows(path, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    assert rows(path, "PRAGMA foreign_key_check") == []
    for table, key, parent in (
        ("run_ends", "run_id", "runs"),
        ("actions", "run_id", "runs"),
        ("action_ends", "action_id", "actions"),
        ("id_batches", "action_id", "actions"),
        ("id_batch_ends", "batch_id", "id_batches"),
        ("erased_ids", "batch_id", "id_batches"),
    ):
        orphans = rows(
            path, f"SELECT COUNT(*) AS n FROM {table} WHERE {key} NOT IN (SELECT id FROM {parent})"
        )
        assert orphans == [{"n": 0}], table


def check_records_every_erasure(path: Path, gone: Iterable[str]) -> None:
    """Every ID gone from the index is in the ledger, sent before it was deleted; every batch
    the ledger holds as answered is gone from the index."""
    gone_digests = {digest(i) for i in gone}
    sent = recorded_digests(path)
    missing = gone_digests - sent
    assert not missing, f"{len(missing)} IDs were erased without a ledger entry"
    assert recorded_digests(path, answered=True) <= gone_digests
