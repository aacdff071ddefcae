"""An in-memory Inventory for planner tests: a dict of indexes, namespaces and records.

It evaluates filters with the emulator's own evaluator (not the client's), set to a chosen
`Semantics`, so tests can play Pinecone's undocumented corners every way and a misreading in
the client's filter language shows up here; and it counts the calls it answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from retention.emulator.filtering import compile_request_filter
from retention.errors import NotFound
from retention.filters import DEFAULT_SEMANTICS, Filter, Metadata, Semantics, to_json
from retention.planning.inventory import VECTOR_INDEX, IndexKind, NamespaceInfo
from tests.readings import readings_of

Records = dict[str, dict[str, dict[str, Metadata]]]  # index -> namespace -> id -> metadata


@dataclass
class MemoryInventory:
    data: Records
    semantics: Semantics = DEFAULT_SEMANTICS
    ids_files: Mapping[str, Sequence[str]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    kinds: Mapping[str, IndexKind] = field(default_factory=dict)
    """Indexes that are not vector indexes, by name."""

    def _ns(self, index: str, namespace: str) -> dict[str, Metadata]:
        if index not in self.data:
            raise NotFound(f"Index {index} not found.", status=404)
        return self.data[index].get(namespace, {})

    def _matching(self, index: str, namespace: str, where: Filter) -> list[str]:
        check = compile_request_filter(to_json(where), readings_of(self.semantics), with_not=False)
        return sorted(i for i, m in self._ns(index, namespace).items() if check(m))

    async def index_host(self, index: str) -> str:
        self.calls["index_host"] += 1
        if index not in self.data:
            raise NotFound(f"Index {index} not found.", status=404)
        return f"https://{index}-abc123.svc.example.pinecone.io"

    async def index_kind(self, index: str) -> IndexKind:
        self.calls["index_kind"] += 1
        return self.kinds.get(index, VECTOR_INDEX)

    async def namespaces(self, index: str) -> Sequence[NamespaceInfo]:
        self.calls["namespaces"] += 1
        return [NamespaceInfo(n, len(r)) for n, r in sorted(self.data[index].items())]

    async def count(self, index: str, namespace: str, where: Filter) -> int:
        self.calls["count"] += 1
        return len(self._matching(index, namespace, where))

    async def sample(self, index: str, namespace: str, where: Filter, limit: int) -> Sequence[str]:
        self.calls["sample"] += 1
        return self._matching(index, namespace, where)[:limit]

    async def matching(
        self, index: str, namespace: str, where: Filter
    ) -> AsyncIterator[Sequence[tuple[str, Metadata]]]:
        records = self._ns(index, namespace)
        ids = self._matching(index, namespace, where)
        for start in range(0, len(ids), 100):
            self.calls["matching"] += 1
            yield [(i, records[i]) for i in ids[start : start + 100]]

    async def list_ids(
        self, index: str, namespace: str, prefix: str
    ) -> AsyncIterator[Sequence[str]]:
        ids = sorted(i for i in self._ns(index, namespace) if i.startswith(prefix))
        for start in range(0, len(ids), 100):
            self.calls["list_ids"] += 1
            yield ids[start : start + 100]

    async def fetch_metadata(
        self, index: str, namespace: str, ids: Sequence[str]
    ) -> Mapping[str, Metadata]:
        self.calls["fetch_metadata"] += 1
        assert len(ids) <= 1000
        records = self._ns(index, namespace)
        return {i: records[i] for i in ids if i in records}

    async def read_ids_file(self, path: str) -> AsyncIterator[Sequence[str]]:
        ids = list(self.ids_files[path])
        for start in range(0, len(ids), 1000):
            yield ids[start : start + 1000]
