"""Running the emulator: uvicorn in a background thread, started and stopped from Python.

Tests, benchmarks and `retention demo` need a real server on a real socket (the official SDK
talks HTTP), but they also need it to start on a free port, report where it listens, and
stop cleanly without leaking threads. The socket is bound here, before uvicorn starts, so the
port is known at once and never raced for, and a port in use or a `--data` that cannot hold the
database is one line (`RetentionError`) rather than a traceback from a thread.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from retention.emulator.app import build_app, build_runtime
from retention.emulator.config import EmulatorConfig
from retention.emulator.controlplane import data_url
from retention.emulator.documents import parse_document
from retention.emulator.documentschema import check_document_schema
from retention.emulator.handling import Runtime
from retention.emulator.indexshapes import document_index_info
from retention.emulator.model import IndexInfo
from retention.emulator.persistence import FILE_NAME, SqliteBackend, restore
from retention.emulator.records import StoredRecord, check_id, check_metadata, check_sparse
from retention.emulator.store import Store, namespace_key
from retention.errors import RetentionError

_START_TIMEOUT_S = 10.0

SeedRecord = tuple[str, Sequence[float], Mapping[str, Any]] | Mapping[str, Any]


class Emulator:
    """A running emulator; use `Emulator.start(config)` or `with Emulator.start() as emu:`."""

    def __init__(self, config: EmulatorConfig, runtime: Runtime, backend: SqliteBackend | None):
        self.config = config
        self.runtime = runtime
        self.store = runtime.store
        self._backend = backend
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.controller_url = ""

    @classmethod
    def start(cls, config: EmulatorConfig | None = None) -> Emulator:
        """Open the store, create `config.indexes`, listen, and return once requests are served."""
        config = config or EmulatorConfig()
        backend = _open_backend(config.data_dir) if config.data_dir is not None else None
        store = Store(clock=config.clock, lag=config.lag_ms / 1000, backend=backend)
        if backend is not None:
            restore(store, backend)
        emulator = cls(config, build_runtime(config, store), backend)
        for name, dimension in config.indexes:
            if name not in store.indexes:
                emulator.create_index(name, dimension)
        try:
            emulator._serve()
        except BaseException:
            if backend is not None:
                backend.close()
            raise
        return emulator

    def _serve(self) -> None:
        sock = _bind(self.config.host, self.config.port)
        port = sock.getsockname()[1]
        shown = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        shown = f"[{shown}]" if ":" in shown else shown
        self.controller_url = f"http://{shown}:{port}"
        uconfig = uvicorn.Config(
            build_app(self.runtime),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(uconfig)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="retention-emulator", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"the emulator did not start on {self.controller_url}")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock

    def index_host(self, name: str) -> str:
        """The data-plane base URL of an index, with its scheme (what `host` describes)."""
        return data_url(self.controller_url, name)

    def stop(self) -> None:
        """Stop serving, apply pending writes, and close the database."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.store.flush()
        if self._backend is not None:
            with self.store.lock:
                self._backend.close()
            self._backend = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- seeding and inspecting without HTTP (tests, benchmarks, the demo)

    def create_index(
        self, name: str, dimension: int | None, metric: str = "cosine", *, sparse: bool = False
    ) -> None:
        """A serverless index, dense of `dimension`, or `sparse` (no dimension, dotproduct)."""
        if sparse and (dimension is not None or metric not in ("cosine", "dotproduct")):
            raise ValueError("a sparse index has no dimension and the metric dotproduct")
        if not sparse and dimension is None:
            raise ValueError("a dense index needs a dimension")
        info = IndexInfo(
            name=name,
            dimension=dimension,
            metric="dotproduct" if sparse else metric,
            uid=name,
            vector_type="sparse" if sparse else "dense",
        )
        with self.store.lock:
            if name in self.store.indexes:
                raise ValueError(f"index {name!r} already exists")
            self.store.add_index(info)

    def create_document_index(self, name: str, fields: Mapping[str, Mapping[str, Any]]) -> None:
        """A document index (API 2026-07) of schema `fields`, checked as a create request's."""
        info = document_index_info(
            check_document_schema({k: dict(v) for k, v in fields.items()}), {}
        )
        info.name = info.uid = name
        with self.store.lock:
            if name in self.store.indexes:
                raise ValueError(f"index {name!r} already exists")
            self.store.add_index(info)

    def upsert_documents(
        self, index: str, namespace: str, documents: Iterable[Mapping[str, Any]]
    ) -> int:
        """Store documents at once, each checked against the index's schema as an upsert's,
        skipping limits, faults and lag; return how many."""
        with self.store.lock:
            state = self.store.indexes[index]
            fields = state.info.document_schema
            if fields is None:
                raise ValueError(f"index {index!r} is not a document index")
            items = dict(parse_document(d, fields) for d in documents)
            ns = state.namespace(namespace)
            ns.catch_up(everything=True)
            ns.put(items, at=self.store.clock())
        return len(items)

    def upsert(
        self,
        index: str,
        namespace: str,
        records: Iterable[SeedRecord],
        *,
        validate: bool = True,
        age_s: float = 0.0,
    ) -> int:
        """Store records at once, skipping limits, faults and lag; return how many.

        A record is `(id, values, metadata)` or the wire form `{"id", "values", "metadata"}`,
        which may carry `sparse_values` (`{"indices", "values"}`; a sparse index's records have
        those and empty `values`).
        They count as written now, or `age_s` seconds ago on the emulator's clock (a backup
        holds only records at least `config.backup_min_age_s` old).
        """
        items: dict[str, StoredRecord] = {}
        for item in records:
            sparse = None
            if isinstance(item, Mapping):
                rid, values, meta = item["id"], item.get("values") or [], item.get("metadata") or {}
                raw_sparse = item.get("sparse_values", item.get("sparseValues"))
                sparse = check_sparse(raw_sparse) if validate else raw_sparse
            else:
                rid, values, meta = item
            if validate:
                check_id(rid)
                metadata = check_metadata(meta)
            else:
                metadata = dict(meta)
            items[rid] = StoredRecord([float(v) for v in values], sparse, metadata)
        with self.store.lock:
            state = self.store.indexes[index]
            ns = state.namespace(namespace)
            ns.catch_up(everything=True)
            ns.put(items, at=self.store.clock() - age_s)
        return len(items)

    def records(self, index: str, namespace: str = "") -> dict[str, StoredRecord]:
        """A copy of the records reads would see now in a namespace."""
        with self.store.lock:
            state = self.store.indexes[index]
            return dict(state.namespace(namespace_key(namespace)).records)


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), or one `RetentionError` line saying why not."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: uvicorn writes headers and body apart, and with
        # Nagle's algorithm each keep-alive response would wait ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except (OSError, UnicodeError) as exc:
        sock.close()
        raise RetentionError(f"cannot listen on {where}: {_bind_problem(exc)}") from None
    return sock


def _bind_problem(exc: OSError | UnicodeError) -> str:
    if isinstance(exc, UnicodeError):
        return "the host is not a host name"
    if isinstance(exc, socket.gaierror):
        return f"the host is unknown here ({exc.strerror})"
    if exc.errno == errno.EADDRINUSE:
        return "the port is in use (another emulator?); pick another port, or 0 for any free one"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no interface of this machine has that address"
    return (exc.strerror or str(exc)).lower()


def _open_backend(directory: Path) -> SqliteBackend:
    """The SQLite mirror in `directory`, or one `RetentionError` line saying why not."""
    where = f"cannot keep records in {directory}"
    if directory.exists() and not directory.is_dir():
        raise RetentionError(f"{where}: it is not a directory")
    try:
        return SqliteBackend(directory)
    except sqlite3.DatabaseError as exc:
        file = directory / FILE_NAME
        if file.is_file():
            raise RetentionError(
                f"{where}: {file} is not an emulator database ({exc}); move it away"
            ) from None
        raise RetentionError(f"{where}: {exc}") from None
    except OSError as exc:
        raise RetentionError(f"{where}: {(exc.strerror or str(exc)).lower()}") from None
