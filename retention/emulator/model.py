"""Indexes, backups and restore jobs as the emulator keeps them; wire shapes live elsewhere.

An index is a serverless vector index, dense (`dimension` set) or sparse (`dimension` None,
metric `dotproduct`), or a document index (API 2026-07: `document_schema` set, served by the
documents API only); pod indexes are refused at creation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from retention.emulator.records import StoredRecord

BackupOutcome = Literal["Ready", "InitializationFailed"]
BACKUP_OUTCOMES: tuple[BackupOutcome, ...] = ("Ready", "InitializationFailed")
VectorType = Literal["dense", "sparse"]


@dataclass
class IndexInfo:
    """A serverless vector index: what its create request said, and where it came from.

    `metadata_schema` is the metadata-indexing schema of API 2025-10 (`spec.serverless.schema`,
    `{"fields": {name: {"filterable": true}}}`): only those fields are filterable. `description`
    is the note given on the vector field of a 2026-07 schema; `source_backup_id` names the
    backup an index was restored from.
    """

    name: str
    dimension: int | None
    metric: str = "cosine"
    uid: str = ""
    cloud: str = "aws"
    region: str = "us-east-1"
    deletion_protection: str = "disabled"
    tags: dict[str, str] | None = None
    vector_type: VectorType = "dense"
    metadata_schema: dict[str, Any] | None = None
    description: str | None = None
    source_backup_id: str | None = None
    document_schema: dict[str, dict[str, Any]] | None = None
    """The fields of a document index's schema as describe echoes them; None: a vector index."""


@dataclass
class Backup:
    """A point-in-time copy: its description and the records it holds.

    It reports `Initializing` until `ready_at` on the emulator clock, then `outcome`.
    `snapshot` (namespace -> id -> record) is what a restore brings back: the records that
    were old enough when the backup was made (`EmulatorConfig.backup_min_age_s`); the counts
    describe it. A failed backup keeps what it would have held; nothing restores from it.
    """

    backup_id: str
    source_index_name: str
    source_index_id: str
    dimension: int | None
    metric: str
    cloud: str
    region: str
    created_at: str
    ready_at: float
    name: str | None = None
    description: str | None = None
    record_count: int = 0
    namespace_count: int = 0
    size_bytes: int = 0
    tags: dict[str, str] | None = field(default=None)
    outcome: BackupOutcome = "Ready"
    snapshot: dict[str, dict[str, StoredRecord]] = field(default_factory=dict)
    vector_type: VectorType = "dense"
    metadata_schema: dict[str, Any] | None = None


@dataclass
class RestoreJob:
    """One restore of a backup into a new index: `Pending` until `ready_at`, then `Completed`.

    The times are ISO 8601 (UTC) as the control plane reports them; `completed_at` is when the
    job will have completed, shown only once it has.
    """

    restore_job_id: str
    backup_id: str
    target_index_name: str
    target_index_id: str
    created_at: str
    completed_at: str
    ready_at: float
