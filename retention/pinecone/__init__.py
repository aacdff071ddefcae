"""`retention`'s own async client for Pinecone's REST API, and its pacing.

connect() / PineconeClient(http, settings)
    .control                ControlPlane: describe_index, list_indexes
    .index(name)            IndexClient: list_ids, fetch, count, delete_ids, delete_weights, ...
                            (DocumentIndexClient, the same methods, for a document index)
    .indexes()              Indexes: one run's IndexClients, each host resolved once
    .quota(key), .quotas    the published quotas the client paces by
    .pacer                  Pacer shared by every index of this client

retention.pinecone.inventory.LiveInventory answers the planner's questions through it.
"""

from __future__ import annotations

from retention.pinecone.client import Indexes, PineconeClient, PineconeSettings, connect
from retention.pinecone.control import ControlPlane
from retention.pinecone.dataplane import IndexClient
from retention.pinecone.documents import DocumentIndexClient
from retention.pinecone.models import (
    Count,
    DeleteResult,
    FetchResult,
    IdPage,
    IndexDescription,
    NamespaceDescription,
    NamespacePage,
    Record,
    RecordPage,
    ResponseInfo,
)
from retention.pinecone.pacing import Pacer, Reservation
from retention.pinecone.retrying import Retrying, RetryPolicy

__all__ = [
    "ControlPlane",
    "Count",
    "DeleteResult",
    "DocumentIndexClient",
    "FetchResult",
    "IdPage",
    "IndexClient",
    "IndexDescription",
    "Indexes",
    "NamespaceDescription",
    "NamespacePage",
    "Pacer",
    "PineconeClient",
    "PineconeSettings",
    "Record",
    "RecordPage",
    "Reservation",
    "ResponseInfo",
    "RetryPolicy",
    "Retrying",
    "connect",
]
