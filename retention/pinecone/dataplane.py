"""The data plane of one index: list, fetch, count and delete records and namespaces.

Each method is one Pinecone operation and reserves, per request, the keys Pinecone limits it
by (`retention.quotas`): a delete of n ids costs 1 delete request on the namespace and n
delete records on the namespace and on the index; a filtered delete costs 1 delete request
and 1 delete-by-metadata request on the namespace and the index; a dry-run count is an update
by metadata. Requests never exceed Pinecone's 1,000 ids.

The default namespace is spelled differently per place, and here explicitly:

    path    /namespaces/__default__          required there
    body    "namespace": "__default__"       what the docs advise for delete/update/fetch_by_metadata
    query   ?namespace=                      what the official SDK sends for list and fetch
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from itertools import islice
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from retention.errors import NotFound
from retention.identifiers import DEFAULT_NAMESPACE, MAX_IDS_PER_REQUEST, canonical_namespace
from retention.pinecone.models import (
    Count,
    DeleteResult,
    FetchResult,
    IdPage,
    NamespaceDescription,
    NamespacePage,
    Record,
    RecordPage,
    ResponseInfo,
)
from retention.pinecone.pacing import Key
from retention.pinecone.session import Session

MAX_FETCH_QUERY = 16_000
"""Characters of id query string per fetch request, so URLs stay within proxy limits."""

Filter = Mapping[str, Any]


def _query_namespace(namespace: str) -> str:
    ns = canonical_namespace(namespace)
    return "" if ns == DEFAULT_NAMESPACE else ns


class _Page(Protocol):
    @property
    def next(self) -> str | None: ...


P = TypeVar("P", bound=_Page)


async def pages(start: str | None, page: Callable[[str | None], Awaitable[P]]) -> AsyncIterator[P]:
    """Every page from token `start`, each asked for once the one before it was taken."""
    token = start
    while True:
        got = await page(token)
        yield got
        if got.next is None:
            return
        token = got.next


def chunks(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(ids)
    while batch := list(islice(it, size)):
        yield batch


def _fetch_chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    length = 0
    for id_ in ids:
        cost = len(quote(id_, safe="")) + 5  # "&ids="
        if batch and (len(batch) >= MAX_IDS_PER_REQUEST or length + cost > MAX_FETCH_QUERY):
            yield batch
            batch, length = [], 0
        batch.append(id_)
        length += cost
    if batch:
        yield batch


def next_token(data: Mapping[str, Any]) -> str | None:
    token = (data.get("pagination") or {}).get("next")
    return str(token) if token else None


def check_batch(ids: Sequence[str]) -> None:
    """Refuse a delete batch Pinecone would refuse (or that would send nothing)."""
    if not 1 <= len(ids) <= MAX_IDS_PER_REQUEST:
        raise ValueError(f"a batch holds 1 to {MAX_IDS_PER_REQUEST} IDs, got: {len(ids)}")


def require_filter(filter: Filter) -> None:
    if not filter:
        raise ValueError("filter must not be empty: Pinecone rejects it, and it would mean 'all'")


class IndexClient:
    """Data-plane operations of the vector index `name` served at `host` (a URL with scheme);
    `DocumentIndexClient` (`retention.pinecone.documents`) serves a document index through the
    same methods."""

    api_version: str | None = None
    """The `X-Pinecone-Api-Version` of every request to this index; None: the session's."""

    def __init__(self, session: Session, *, name: str, host: str, concurrency: int = 4) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be positive, got: {concurrency}")
        self.session = session
        self.name = name
        self.host = host.rstrip("/")
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f"IndexClient(name={self.name!r}, host={self.host!r})"

    def _url(self, path: str) -> str:
        return f"{self.host}{path}"

    def _ns_path(self, namespace: str) -> str:
        return self._url(f"/namespaces/{quote(canonical_namespace(namespace), safe='')}")

    def delete_weights(self, namespace: str, ids: int) -> dict[Key, float]:
        """What one delete of `ids` IDs in `namespace` counts against, in the client's pacing
        (a caller that spaces its own deletes asks here rather than naming the keys)."""
        ns = canonical_namespace(namespace)
        return {
            self._keys("delete_requests", ns): 1,
            self._keys("delete_records", ns): ids,
            self._keys("delete_records"): ids,
        }

    def filter_delete_weights(self, namespace: str) -> dict[Key, float]:
        """What one filtered delete in `namespace` counts against."""
        return {
            self._keys("delete_requests", namespace): 1,
            self._keys("delete_by_metadata_requests", namespace): 1,
            self._keys("delete_by_metadata_requests"): 1,
        }

    def _keys(self, family: str, namespace: str | None = None) -> Key:
        if namespace is None:
            return (family, self.name)
        return (family, self.name, canonical_namespace(namespace))

    def list_namespaces(
        self, *, prefix: str | None = None, limit: int | None = None, start: str | None = None
    ) -> AsyncIterator[NamespacePage]:
        """Pages of namespaces, following `pagination.next` from token `start`."""

        async def page(token: str | None) -> NamespacePage:
            params = {"prefix": prefix, "limit": limit, "paginationToken": token}
            data, response = await self.session.send_json(
                "GET",
                self._url("/namespaces"),
                operation="list_namespaces",
                api_version=self.api_version,
                params={k: v for k, v in params.items() if v is not None},
            )
            info = ResponseInfo.from_response(response)
            total = data.get("total_count")
            return NamespacePage(
                namespaces=tuple(
                    NamespaceDescription.from_json(ns) for ns in data.get("namespaces") or ()
                ),
                next=next_token(data),
                total_count=int(total) if total is not None else None,
                info=info,
            )

        return pages(start, page)

    async def describe_namespace(self, namespace: str) -> NamespaceDescription:
        """The namespace's record count; `NotFound` if it does not exist."""
        data, response = await self.session.send_json(
            "GET",
            self._ns_path(namespace),
            operation="describe_namespace",
            api_version=self.api_version,
        )
        data.setdefault("name", namespace)
        return NamespaceDescription.from_json(data, ResponseInfo.from_response(response))

    async def delete_namespace(self, namespace: str, *, missing_ok: bool = False) -> ResponseInfo:
        """Delete a namespace and all its records.

        Idempotent in effect: if a retried attempt finds the namespace gone (the first one
        succeeded but its answer was lost), `missing_ok=True` makes that a success.
        """
        try:
            response = await self.session.send(
                "DELETE",
                self._ns_path(namespace),
                operation="delete_namespace",
                api_version=self.api_version,
            )
        except NotFound:
            if not missing_ok:
                raise
            return ResponseInfo()
        return ResponseInfo.from_response(response)

    def list_ids(
        self,
        namespace: str,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        start: str | None = None,
    ) -> AsyncIterator[IdPage]:
        """Pages of record ids (optionally under `prefix`) in Pinecone's order."""

        async def page(token: str | None) -> IdPage:
            params: dict[str, Any] = {"namespace": _query_namespace(namespace)}
            params.update(
                (k, v)
                for k, v in (("prefix", prefix), ("limit", limit), ("paginationToken", token))
                if v is not None
            )
            data, response = await self.session.send_json(
                "GET",
                self._url("/vectors/list"),
                operation="list_ids",
                weights={self._keys("list_requests"): 1},
                params=params,
            )
            return IdPage(
                ids=tuple(str(v["id"]) for v in data.get("vectors") or ()),
                next=next_token(data),
                info=ResponseInfo.from_response(response),
            )

        return pages(start, page)

    async def fetch(self, ids: Iterable[str], namespace: str) -> FetchResult:
        """Fetch records by id, at most 1,000 per request; missing ids are left out."""
        records: dict[str, Record] = {}
        infos: list[ResponseInfo] = []
        ns = _query_namespace(namespace)
        for batch in _fetch_chunks(ids):
            params: list[tuple[str, str]] = [("ids", id_) for id_ in batch]
            if ns:
                params.append(("namespace", ns))
            data, response = await self.session.send_json(
                "GET",
                self._url("/vectors/fetch"),
                operation="fetch",
                weights={self._keys("fetch_requests"): 1},
                params=params,
            )
            infos.append(ResponseInfo.from_response(response))
            for record in _vectors(data):
                records[record.id] = record
        return FetchResult(records=records, infos=tuple(infos))

    def fetch_by_metadata(
        self, filter: Filter, namespace: str, *, limit: int | None = None, start: str | None = None
    ) -> AsyncIterator[RecordPage]:
        """Pages of records matching `filter`, following `pagination.next`."""
        require_filter(filter)

        async def page(token: str | None) -> RecordPage:
            body: dict[str, Any] = {"filter": filter, "namespace": canonical_namespace(namespace)}
            if limit is not None:
                body["limit"] = limit
            if token is not None:
                body["paginationToken"] = token
            data, response = await self.session.send_json(
                "POST",
                self._url("/vectors/fetch_by_metadata"),
                operation="fetch_by_metadata",
                weights={self._keys("fetch_by_metadata_requests", namespace): 1},
                json=body,
            )
            return RecordPage(
                records=tuple(_vectors(data)),
                next=next_token(data),
                info=ResponseInfo.from_response(response),
            )

        return pages(start, page)

    async def count(self, filter: Filter, namespace: str) -> Count:
        """How many records match `filter` now: an update by metadata with `dryRun: true`."""
        require_filter(filter)
        body = {
            "namespace": canonical_namespace(namespace),
            "filter": filter,
            "setMetadata": {},
            "dryRun": True,
        }
        data, response = await self.session.send_json(
            "POST",
            self._url("/vectors/update"),
            operation="count",
            weights={
                self._keys("update_requests", namespace): 1,
                self._keys("update_by_metadata_requests", namespace): 1,
                self._keys("update_by_metadata_requests"): 1,
            },
            json=body,
        )
        matched = data.get("matchedRecords", data.get("matched_records", 0))
        return Count(matched=int(matched or 0), info=ResponseInfo.from_response(response))

    async def _delete(self, body: dict[str, Any], weights: Mapping[Key, float]) -> ResponseInfo:
        # Deletes are idempotent (absent ids are ignored), so the retries in Session.send may
        # repeat one whose answer was lost without harm.
        response = await self.session.send(
            "POST", self._url("/vectors/delete"), operation="delete", weights=weights, json=body
        )
        return ResponseInfo.from_response(response)

    async def delete_batch(self, ids: Sequence[str], namespace: str) -> DeleteResult:
        """Delete at most 1,000 records by ID in one request (a caller that runs its own
        workers, as the executor does, sends each batch through here)."""
        check_batch(ids)
        ns = canonical_namespace(namespace)
        info = await self._delete(
            {"namespace": ns, "ids": list(ids)}, self.delete_weights(ns, len(ids))
        )
        return DeleteResult(requests=1, ids_sent=len(ids), infos=(info,))

    async def delete_ids(
        self, ids: Iterable[str], namespace: str, *, batch_size: int = MAX_IDS_PER_REQUEST
    ) -> DeleteResult:
        """Delete records by id in batches of at most 1,000, a few requests in flight."""
        if not 1 <= batch_size <= MAX_IDS_PER_REQUEST:
            raise ValueError(
                f"batch_size must be between 1 and {MAX_IDS_PER_REQUEST}, got: {batch_size}"
            )
        ns = canonical_namespace(namespace)
        batches = chunks(ids, batch_size)
        infos: list[ResponseInfo] = []
        sizes: list[int] = []

        async def worker() -> None:
            # Workers take batches in order and reserve in that order: first come first served.
            for batch in batches:
                done = await self.delete_batch(batch, ns)
                infos.extend(done.infos)
                sizes.append(done.ids_sent)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self.concurrency):
                    group.create_task(worker())
        except ExceptionGroup as failed:
            # The first failure stops the other workers; callers see it as one plain error.
            raise failed.exceptions[0]  # noqa: B904 - keeps its own cause (the httpx error)
        return DeleteResult(requests=len(sizes), ids_sent=sum(sizes), infos=tuple(infos))

    async def delete_by_filter(self, filter: Filter, namespace: str) -> DeleteResult:
        """Delete every record in `namespace` matching `filter`, in one request."""
        require_filter(filter)
        ns = canonical_namespace(namespace)
        info = await self._delete(
            {"namespace": ns, "filter": filter}, self.filter_delete_weights(ns)
        )
        return DeleteResult(requests=1, ids_sent=0, infos=(info,))

    async def delete_all(self, namespace: str) -> DeleteResult:
        """Delete every record in `namespace` (`deleteAll`), keeping the namespace."""
        ns = canonical_namespace(namespace)
        info = await self._delete(
            {"namespace": ns, "deleteAll": True}, {self._keys("delete_requests", ns): 1}
        )
        return DeleteResult(requests=1, ids_sent=0, infos=(info,))


def _vectors(data: Mapping[str, Any]) -> Iterator[Record]:
    vectors = data.get("vectors") or {}
    items = vectors.values() if isinstance(vectors, dict) else vectors
    for item in items:
        if isinstance(item, dict) and "id" in item:
            yield Record.from_json(item)
