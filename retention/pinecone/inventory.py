"""The planner's Inventory answered by Pinecone (or the emulator) through our client.

This is the edge between the pure planner and the network: it resolves each index once, pages
through namespaces, IDs and matches, and reads ID files from disk. Every failure propagates, so
a plan is never made from a partial view.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TextIO

from retention.filters import Filter, Metadata, to_json
from retention.identifiers import LIST_PAGE, MAX_IDS_PER_REQUEST
from retention.pinecone import DocumentIndexClient, IndexClient, PineconeClient
from retention.planning.inventory import VECTOR_INDEX, IndexKind, NamespaceInfo
from retention.policy.idfile import id_batches

MATCH_PAGE = 1000
"""Records per page of fetch by metadata (at most 10,000, and 4 MB)."""


class LiveInventory:
    def __init__(self, client: PineconeClient, *, progress: TextIO | None = None) -> None:
        self.client = client
        self._indexes = client.indexes()
        self._progress = progress  # a terminal: show how far ID files have been read
        self._ids_read = 0
        self._shown_at = 0.0

    async def index(self, name: str) -> IndexClient:
        return await self._indexes.get(name)

    async def index_host(self, index: str) -> str:
        return (await self.index(index)).host

    async def index_kind(self, index: str) -> IndexKind:
        client = await self.index(index)
        if isinstance(client, DocumentIndexClient):
            return IndexKind(documents=True, data_fields=dict(client.schema))
        return VECTOR_INDEX

    async def namespaces(self, index: str) -> Sequence[NamespaceInfo]:
        client = await self.index(index)
        found: list[NamespaceInfo] = []
        async for page in client.list_namespaces(limit=LIST_PAGE):
            found.extend(NamespaceInfo(ns.name, ns.record_count) for ns in page.namespaces)
        return found

    async def count(self, index: str, namespace: str, where: Filter) -> int:
        client = await self.index(index)
        return (await client.count(to_json(where), namespace)).matched

    async def sample(self, index: str, namespace: str, where: Filter, limit: int) -> Sequence[str]:
        client = await self.index(index)
        async for page in client.fetch_by_metadata(to_json(where), namespace, limit=limit):
            return [r.id for r in page.records]
        return []

    async def matching(
        self, index: str, namespace: str, where: Filter
    ) -> AsyncIterator[Sequence[tuple[str, Metadata]]]:
        client = await self.index(index)
        async for page in client.fetch_by_metadata(to_json(where), namespace, limit=MATCH_PAGE):
            yield [(r.id, r.metadata) for r in page.records]

    async def list_ids(
        self, index: str, namespace: str, prefix: str
    ) -> AsyncIterator[Sequence[str]]:
        client = await self.index(index)
        async for page in client.list_ids(namespace, prefix=prefix or None, limit=LIST_PAGE):
            yield page.ids

    async def fetch_metadata(
        self, index: str, namespace: str, ids: Sequence[str]
    ) -> Mapping[str, Metadata]:
        client = await self.index(index)
        result = await client.fetch(ids, namespace)
        return {i: r.metadata for i, r in result.records.items()}

    async def read_ids_file(self, path: str) -> AsyncIterator[Sequence[str]]:
        for batch in id_batches(path, MAX_IDS_PER_REQUEST):
            yield batch
            self._show(len(batch))

    def _show(self, n: int) -> None:
        """One line on a terminal, redrawn at most five times a second: an erasure list of
        millions of IDs takes a while to check against the index."""
        self._ids_read += n
        now = time.monotonic()
        if self._progress is not None and now - self._shown_at >= 0.2:
            self._shown_at = now
            self._progress.write(f"\rchecking ID files: {self._ids_read:,} IDs read")
            self._progress.flush()

    def finish(self) -> None:
        """End the progress line, if one was drawn."""
        if self._progress is not None and self._shown_at:
            self._progress.write(f"\rchecking ID files: {self._ids_read:,} IDs read\n")
            self._progress.flush()
