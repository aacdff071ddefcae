"""Indexes and backups as the emulator keeps them; the wire shapes live in `controlplane`."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """A point-in-time copy's description; it turns Ready at `ready_at` on the emulator clock."""

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
