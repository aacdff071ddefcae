"""The records of every index, with Pinecone's eventual consistency.

Each namespace keeps the records that reads see, plus a queue of accepted writes that are not
visible yet. A write gets the next log sequence number (LSN) of its namespace and is applied
once `lag` seconds have passed on the emulator's clock; filter-based writes are evaluated when
they are applied, as a log replay would. Reads apply whatever is due first. With no lag every
write is applied at once. This is how `--lag-ms` makes a deleted record stay listed for a while
and how `x-pinecone-request-lsn` / `x-pinecone-max-indexed-lsn` stay truthful. Each record also
keeps when it was last written (when the write was accepted, on the emulator's clock; an update
counts as a write): a backup's minimum age is measured from then.

One re-entrant lock guards everything: the server's event loop and a test thread seeding data
through `Emulator.upsert` may touch the store at the same time.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from retention.emulator.config import Clock
from retention.emulator.model import Backup, IndexInfo, RestoreJob
from retention.emulator.records import Metadata, StoredRecord
from retention.emulator.schemas import filterable
from retention.identifiers import DEFAULT_NAMESPACE

Predicate = Callable[[Metadata], bool]
Operation = Callable[["Namespace"], object]


def namespace_key(name: str | None) -> str:
    """`""`, a missing name and `__default__` are the same default namespace."""
    return name or DEFAULT_NAMESPACE


class Backend(Protocol):
    """Where visible changes are mirrored (`persistence.SqliteBackend`), if anywhere."""

    def put_index(self, info: IndexInfo) -> None: ...
    def drop_index(self, name: str) -> None: ...
    def put_namespace(self, index: str, ns: str, schema: dict[str, object] | None) -> None: ...
    def drop_namespace(self, index: str, ns: str) -> None: ...
    def put_records(
        self, index: str, ns: str, items: Iterable[tuple[str, StoredRecord]]
    ) -> None: ...
    def remove_records(self, index: str, ns: str, ids: Iterable[str]) -> None: ...
    def put_backup(self, backup: Backup) -> None: ...
    def drop_backup(self, backup_id: str) -> None: ...
    def put_restore_job(self, job: RestoreJob) -> None: ...
    def mark_namespace_known(self, index: str, ns: str) -> None: ...


@dataclass
class _Pending:
    due: float
    lsn: int
    op: Operation
    accepted: float


class Namespace:
    """One namespace: visible records, pending writes, LSNs, and an ID order for `list`."""

    def __init__(self, index: IndexState, name: str, *, explicit: bool = False) -> None:
        self.index = index
        self.name = name
        self.records: dict[str, StoredRecord] = {}
        self.written: dict[str, float] = {}
        """When each record was last written; absent means long ago (loaded from `--data`,
        whose clock is gone)."""
        self._accepted: float | None = None  # while a delayed write is applied: when it came
        self.explicit = explicit
        self.known = explicit
        """Has this namespace ever held a record or been created? A namespace that was emptied
        stays known; one dropped by `DELETE /namespaces/{ns}` is gone with its object."""
        self.schema: dict[str, object] | None = None
        self.lsn = 0
        self.indexed_lsn = 0
        self._pending: deque[_Pending] = deque()
        self._sorted: list[str] | None = None
        self._stale = 0  # IDs in _sorted that were removed since it was built

    @property
    def exists(self) -> bool:
        return self.explicit or bool(self.records)

    # -- the write log

    def write(self, op: Operation) -> int:
        """Accept a write; return its LSN. It becomes visible after the store's lag."""
        self.lsn += 1
        store = self.index.store
        if store.lag <= 0 and not self._pending:
            op(self)
            self.indexed_lsn = self.lsn
        else:
            now = store.clock()
            self._pending.append(_Pending(now + store.lag, self.lsn, op, now))
        return self.lsn

    def catch_up(self, *, everything: bool = False) -> None:
        """Apply the writes whose lag has passed (all of them with `everything`)."""
        now = self.index.store.clock()
        while self._pending and (everything or self._pending[0].due <= now):
            item = self._pending.popleft()
            self._accepted = item.accepted
            try:
                item.op(self)
            finally:
                self._accepted = None
            self.indexed_lsn = item.lsn

    # -- changes, applied by operations; each is mirrored to the backend

    def put(self, items: dict[str, StoredRecord], *, at: float | None = None) -> None:
        """Store `items`, written `at` (default: when the write was accepted, or now)."""
        if self._sorted is not None and any(rid not in self.records for rid in items):
            self._sorted = None
        self.records.update(items)
        if at is None:
            at = self._accepted if self._accepted is not None else self.index.store.clock()
        self.written.update(dict.fromkeys(items, at))
        backend = self.index.store.backend
        if backend is not None:
            backend.put_records(self.index.info.name, self.name, items.items())
        if items and not self.known:
            self.known = True
            if backend is not None:
                backend.mark_namespace_known(self.index.info.name, self.name)

    def remove(self, ids: Iterable[str]) -> int:
        gone = [rid for rid in ids if self.records.pop(rid, None) is not None]
        for rid in gone:
            self.written.pop(rid, None)
        if gone:
            # Removed IDs stay in the sorted order and are skipped when listed; re-sorting a
            # million IDs after every delete would make `list` the bottleneck.
            self._stale += len(gone)
            if self._sorted is not None and self._stale > len(self._sorted) // 2:
                self._sorted = None
            backend = self.index.store.backend
            if backend is not None:
                backend.remove_records(self.index.info.name, self.name, gone)
        return len(gone)

    def matching(self, predicate: Predicate) -> Iterator[tuple[str, StoredRecord]]:
        """Visible records matching a filter, honouring the namespace's filterable schema."""
        fields = self.filterable_fields()
        if fields is None:
            return ((rid, r) for rid, r in self.records.items() if predicate(r.metadata))
        return (
            (rid, r)
            for rid, r in self.records.items()
            if predicate({k: v for k, v in r.metadata.items() if k in fields})
        )

    def written_before(self, cutoff: float) -> dict[str, StoredRecord]:
        """Copies of the visible records last written at or before `cutoff`."""
        written = self.written
        return {
            rid: record.copy()
            for rid, record in self.records.items()
            if written.get(rid, -math.inf) <= cutoff
        }

    def filterable_fields(self) -> frozenset[str] | None:
        """The fields filters see: the namespace's schema, else the index's, else all (None)."""
        if self.schema:
            return filterable(self.schema)
        return filterable(self.index.info.metadata_schema)

    def sorted_ids(self) -> list[str]:
        """IDs in bitwise order (code-point order equals byte order for ASCII IDs)."""
        if self._sorted is None:
            self._sorted = sorted(self.records)
            self._stale = 0
        return self._sorted

    def ids_from(self, start: str, *, after: bool) -> Iterator[str]:
        """Visible IDs from `start` on, in order, without copying the tail of the order."""
        ids = self.sorted_ids()
        i = bisect.bisect_right(ids, start) if after else bisect.bisect_left(ids, start)
        records = self.records
        # By index from i, not islice (which steps through the first i IDs on every page).
        return (ids[j] for j in range(i, len(ids)) if ids[j] in records)


class IndexState:
    """One index: its description and its namespaces."""

    def __init__(self, store: Store, info: IndexInfo) -> None:
        self.store = store
        self.info = info
        self.namespaces: dict[str, Namespace] = {}
        self.ready_at = -math.inf
        """It describes itself `Initializing` until then (a restore), on the store's clock."""

    @property
    def ready(self) -> bool:
        return self.store.clock() >= self.ready_at

    def namespace(self, name: str | None) -> Namespace:
        """The namespace, caught up with its due writes, created (invisibly) if new."""
        key = namespace_key(name)
        ns = self.namespaces.get(key)
        if ns is None:
            ns = self.namespaces[key] = Namespace(self, key)
        ns.catch_up()
        return ns

    def visible_namespaces(self) -> list[Namespace]:
        out = []
        for ns in self.namespaces.values():
            ns.catch_up()
            if ns.exists:
                out.append(ns)
        return sorted(out, key=lambda n: n.name)

    def drop_namespace(self, key: str) -> None:
        self.namespaces.pop(key, None)
        if self.store.backend is not None:
            self.store.backend.drop_namespace(self.info.name, key)

    def record_count(self) -> int:
        return sum(len(ns.records) for ns in self.visible_namespaces())


class Store:
    """Every index of one emulator, loaded from and mirrored to an optional backend."""

    def __init__(self, *, clock: Clock, lag: float, backend: Backend | None = None) -> None:
        self.clock = clock
        self.lag = lag
        self.backend = backend
        self.lock = threading.RLock()
        self.indexes: dict[str, IndexState] = {}
        self.backups: dict[str, Backup] = {}
        self.restore_jobs: dict[str, RestoreJob] = {}

    def add_index(self, info: IndexInfo) -> IndexState:
        state = self.indexes[info.name] = IndexState(self, info)
        if self.backend is not None:
            self.backend.put_index(info)
        return state

    def save_index(self, info: IndexInfo) -> None:
        if self.backend is not None:
            self.backend.put_index(info)

    def drop_index(self, name: str) -> None:
        del self.indexes[name]
        if self.backend is not None:
            self.backend.drop_index(name)

    def add_backup(self, backup: Backup) -> None:
        self.backups[backup.backup_id] = backup
        if self.backend is not None:
            self.backend.put_backup(backup)

    def drop_backup(self, backup_id: str) -> None:
        del self.backups[backup_id]
        if self.backend is not None:
            self.backend.drop_backup(backup_id)

    def add_restore_job(self, job: RestoreJob) -> None:
        self.restore_jobs[job.restore_job_id] = job
        if self.backend is not None:
            self.backend.put_restore_job(job)

    def flush(self) -> None:
        """Apply every pending write, lag or not (before a clean shutdown)."""
        with self.lock:
            for state in self.indexes.values():
                for ns in state.namespaces.values():
                    ns.catch_up(everything=True)
