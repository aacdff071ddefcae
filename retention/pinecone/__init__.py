"""`retention`'s own async client for Pinecone's REST API, and its rate limiter.

connect() / PineconeClient(http, settings)
    .control                ControlPlane: describe_index, list_indexes, create_backup, ...
    .index(name)            IndexClient: list_ids, fetch, count, delete_ids, ...
    .limiter                RateLimiter shared by every index of this client
"""

from __future__ import annotations

from retention.pinecone.client import PineconeClient, PineconeSettings, connect
from retention.pinecone.control import ControlPlane
from retention.pinecone.dataplane import MAX_IDS, IndexClient
from retention.pinecone.models import (
    DEFAULT_NAMESPACE,
    Backup,
    Count,
    DeleteResult,
    FetchResult,
    IdPage,
    IndexDescription,
    IndexStats,
    NamespaceDescription,
    NamespacePage,
    Record,
    RecordPage,
    ResponseInfo,
)
from retention.pinecone.ratelimit import RateLimiter, Reservation
from retention.pinecone.retrying import Retrying, RetryPolicy

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_IDS",
    "Backup",
    "ControlPlane",
    "Count",
    "DeleteResult",
    "FetchResult",
    "IdPage",
    "IndexClient",
    "IndexDescription",
    "IndexStats",
    "NamespaceDescription",
    "NamespacePage",
    "PineconeClient",
    "PineconeSettings",
    "RateLimiter",
    "Record",
    "RecordPage",
    "Reservation",
    "ResponseInfo",
    "RetryPolicy",
    "Retrying",
    "connect",
]
