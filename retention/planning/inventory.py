"""What the planner needs to know about the live index, as a protocol.

The planner is pure: it asks these questions and never talks HTTP itself. Production answers
them through the Pinecone client (`retention.pinecone.inventory.LiveInventory`); tests answer
them from memory. Every method fails by raising; the planner never turns a failed read into a
smaller plan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from retention.filters import Filter, Metadata


@dataclass(frozen=True)
class NamespaceInfo:
    name: str  # as the namespaces API names it: "__default__" for the default namespace
    records: int


@dataclass(frozen=True)
class IndexKind:
    """What kind of index a policy targets: a vector index, or a document index (API 2026-07)
    whose schema declares `data_fields` (name -> type: vectors and searchable text), which
    metadata filters cannot compare."""

    documents: bool = False
    data_fields: Mapping[str, str] = field(default_factory=dict)


VECTOR_INDEX = IndexKind()


class Inventory(Protocol):
    async def index_host(self, index: str) -> str:
        """The data-plane host of the index (raises NotFound when there is no such index)."""
        ...

    async def index_kind(self, index: str) -> IndexKind:
        """Whether the index is a vector or a document index, and its schema's fields."""
        ...

    async def namespaces(self, index: str) -> Sequence[NamespaceInfo]:
        """Every namespace of the index, with its record count."""
        ...

    async def count(self, index: str, namespace: str, where: Filter) -> int:
        """The exact number of records matching `where` (a dry-run update on a vector index,
        a filtered fetch on a document index)."""
        ...

    async def sample(self, index: str, namespace: str, where: Filter, limit: int) -> Sequence[str]:
        """A few IDs of records matching `where`."""
        ...

    def matching(
        self, index: str, namespace: str, where: Filter
    ) -> AsyncIterator[Sequence[tuple[str, Metadata]]]:
        """Pages of (id, metadata) for every record matching `where` (fetch by metadata)."""
        ...

    def list_ids(self, index: str, namespace: str, prefix: str) -> AsyncIterator[Sequence[str]]:
        """Pages of the IDs starting with `prefix`."""
        ...

    async def fetch_metadata(
        self, index: str, namespace: str, ids: Sequence[str]
    ) -> Mapping[str, Metadata]:
        """Metadata of those of `ids` that exist (absent IDs are left out)."""
        ...

    def read_ids_file(self, path: str) -> AsyncIterator[Sequence[str]]:
        """Batches of the IDs in a policy's ID file."""
        ...
