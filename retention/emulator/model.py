"""Indexes and backups as the emulator keeps them; the wire shapes live in `controlplane`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from retention.emulator.records import StoredRecord

BackupOutcome = Literal["Ready", "InitializationFailed"]
BACKUP_OUTCOMES: tuple[BackupOutcome, ...] = ("Ready", "InitializationFailed")


@dataclass
class IndexInfo:
    """A serverless dense index; Pinecone's other kinds (pod, sparse, documents) are refused."""

    name: str
    dimension: int
    metric: str = "cosine"
    uid: str = ""
    cloud: str = "aws"
    region: str = "us-east-1"
    deletion_protection: str = "disabled"
    tags: dict[str, str] | None = None


@dataclass
class Backup:
    """A point-in-time copy: its description and the records it holds.

    It reports `Initializing` until `ready_at` on the emulator clock, then `outcome`.
    `snapshot` (namespace -> id -> record) is what a restore would bring back: the records that
    were old enough when the backup was made (`EmulatorConfig.backup_min_age_s`); the counts
    describe it. A failed backup keeps what it would have held; nothing restores from it.
    """

    backup_id: str
    source_index_name: str
    source_index_id: str
    dimension: int
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
