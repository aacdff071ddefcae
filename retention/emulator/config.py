"""The emulator's settings, one frozen value shared by the server, the store and the limits.

Every undocumented corner of Pinecone's behaviour that a test might want to flip is a field
here rather than a constant in a route, so that a test states the assumption it depends on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from retention.emulator.filtering import DEFAULT_READINGS, Readings
from retention.emulator.model import BACKUP_OUTCOMES, BackupOutcome

Clock = Callable[[], float]
MissingNamespace = Literal["empty", "never_created", "not_found"]
MISSING_NAMESPACE_MODES: tuple[MissingNamespace, ...] = ("empty", "never_created", "not_found")

DEFAULT_PORT = 5080
DEFAULT_FAULT_STATUSES = (429, 500, 503)
DOCUMENTS_ON_VECTOR_STATUSES = (400, 404, 412)


@dataclass(frozen=True)
class EmulatorConfig:
    """How one emulator instance listens, stores, limits and misbehaves."""

    host: str = "127.0.0.1"
    """Interface to bind; loopback unless you ask otherwise."""
    port: int = 0
    """0 picks a free port (in-process use); the command line defaults to 5080."""
    data_dir: Path | None = None
    """Directory for the SQLite file; None keeps everything in memory."""
    indexes: tuple[tuple[str, int], ...] = ()
    """Indexes created at start (name, dimension), cosine, serverless."""
    api_key: str | None = None
    """When set, every request must carry it in `Api-Key`, else 401."""
    limits: Literal["pinecone", "off"] = "pinecone"
    limit_overrides: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """`--limit NAME=VALUE` settings, applied with `retention.quotas.override`."""
    retry_after: bool = False
    """Send `Retry-After` on 429s (Pinecone's behaviour here is undocumented)."""
    fault_rate: float = 0.0
    fault_statuses: tuple[int, ...] = DEFAULT_FAULT_STATUSES
    latency_ms: float = 0.0
    lag_ms: float = 0.0
    """Writes become visible to reads only this long after they were accepted."""
    seed: int | None = None
    readings: Readings = DEFAULT_READINGS
    """Filter evaluation switches ($ne/$nin on missing fields, negation on lists)."""
    lsn_headers: Literal["reads", "query", "none"] = "reads"
    """Which reads carry `x-pinecone-max-indexed-lsn`: Pinecone documents it for queries only
    (DOC:check-data-freshness); every read (fetch, list, fetch by metadata, dry-run counts,
    describe namespace), queries only, or none. Our verification must hold under each."""
    missing_namespace: MissingNamespace = "empty"
    """Data-plane reads and deletes in a namespace without records (see `requestparts.existing`
    for the operations and the evidence): `empty` answers an empty success everywhere;
    `never_created` answers 404 `Namespace not found` only where the namespace never held a
    record nor was created (what the official SDK's own integration suite expects), and success
    in one that was emptied; `not_found` answers 404 in an emptied one too."""
    update_by_filter_cap: int = 100_000
    """Records one update-by-filter changes at most (it reports every match)."""
    delete_by_filter_cap: int | None = None
    """Records one filtered delete removes at most; None (the default) means no cap."""
    backup_ready_ms: float = 200.0
    """How long a new backup reports `Initializing` before its outcome."""
    backup_min_age_s: float = 900.0
    """A backup holds only the records last written at least this long before it was made:
    Pinecone documents 15 minutes (DOC:guides/manage-data/backups-overview)."""
    restore_ready_ms: float = 200.0
    """How long a restore job is `Pending`, and its new index `Initializing`, before both are
    done (`Completed`, `Ready`)."""
    version_gates: bool = True
    """Answer a feature that `X-Pinecone-Api-Version` predates as that version would (404 for a
    route it lacks, unknown body fields ignored); off serves every feature under any version."""
    backup_outcome: BackupOutcome = "Ready"
    """What a backup turns into after `backup_ready_ms`; `InitializationFailed` tests a backup
    that fails."""
    old_version_documents: Literal["describe", "hide"] = "describe"
    """How an API version before 2026-07 sees a document index (undocumented): in its own
    `spec` shape, with the dense field's `dimension`/`metric` (describe), or not at all: 404
    on describe, left out of the list (hide)."""
    wrong_plane_body: Literal["rpc", "error"] = "rpc"
    """The body of the 400 refusing a vectors-API call on a document index (its message is
    Pinecone's, its shape unconfirmed): the data plane's `rpcStatus` (rpc) or the documents
    API's `{"error": ..., "status": 400}` (error)."""
    documents_on_vector_status: int = 400
    """The status refusing a documents-API call on a vector index (no source; 400, 404 or 412),
    in the documents API's error body."""
    text_match_in_fetch: bool = True
    """Whether a filtered fetch takes `$match_*` operators (Pinecone's sources conflict: the
    SDK and Go guide say yes, the fetch reference says search only)."""
    documents_edge_errors: Literal["text", "json"] = "text"
    """401 and 429 on documents routes: plain text from the auth/rate-limit layer (what the
    2026-07 OAS describes) or the documents API's JSON error body."""
    matched_records: Literal["counted", "omitted"] = "counted"
    """Does a filtered documents delete answer `matched_records` (counted), or `{}` as it may
    when the count is not made in time (omitted; the 2026-07 OAS makes the field optional)?"""
    documents_request_id: bool = False
    """Send `x-pinecone-request-id` on documents-API responses (absent "today", per SDK 10)."""
    clock: Clock = time.monotonic
    """Seconds, monotonic: rate limits, lag and backups read time only from here."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got: {self.port}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got: {self.fault_rate:g}")
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise ValueError(f"latency_ms must be a non-negative number, got: {self.latency_ms:g}")
        if not (math.isfinite(self.lag_ms) and self.lag_ms >= 0):
            raise ValueError(f"lag_ms must be a non-negative number, got: {self.lag_ms:g}")
        if not (math.isfinite(self.restore_ready_ms) and self.restore_ready_ms >= 0):
            raise ValueError(
                f"restore_ready_ms must be a non-negative number, got: {self.restore_ready_ms:g}"
            )
        if self.missing_namespace not in MISSING_NAMESPACE_MODES:
            raise ValueError(
                "missing_namespace must be empty, never_created or not_found, got: "
                f"{self.missing_namespace}"
            )
        if not (math.isfinite(self.backup_min_age_s) and self.backup_min_age_s >= 0):
            raise ValueError(
                f"backup_min_age_s must be a non-negative number, got: {self.backup_min_age_s:g}"
            )
        if self.backup_outcome not in BACKUP_OUTCOMES:
            raise ValueError(
                f"backup_outcome must be Ready or InitializationFailed, got: {self.backup_outcome}"
            )
        if self.fault_rate > 0 and not self.fault_statuses:
            raise ValueError("fault_statuses must name at least one status when fault_rate > 0")
        if self.documents_on_vector_status not in DOCUMENTS_ON_VECTOR_STATUSES:
            raise ValueError(
                "documents_on_vector_status must be 400, 404 or 412, got: "
                f"{self.documents_on_vector_status}"
            )
        for status in self.fault_statuses:
            if not 400 <= status <= 599:
                raise ValueError(f"fault statuses must be 4xx or 5xx, got: {status}")
