"""The data plane of a document index (API 2026-07), behind `IndexClient`'s methods.

A document index refuses the vectors API; it is served by
`POST /namespaces/{namespace}/documents/{list|fetch|delete}` with snake_case bodies
(docs/pinecone-documents-api.md §3-§4), and every request to it, the namespaces API included,
says `X-Pinecone-Api-Version: 2026-07`. The planner and the applier call the same methods as
on a vector index; what differs is here:

- **count**: there is no dry-run update, so a filter is counted by paging a filtered fetch,
  10,000 documents a page, each with only one field the filter names (a few dozen bytes);
- **filtered delete**: its answer carries `matched_records`, Pinecone's count of what the
  filter selected as it ran, returned in `DeleteResult.matched`;
- **records**: a document's `_id` is its ID and its fields are its metadata, less the
  schema's fields (vectors and searchable text, which a metadata filter cannot compare);
- **freshness**: fetch and list carry no `x-pinecone-max-indexed-lsn`, so a delete is seen
  only by reading until it shows.

Rate limits are those of the vectors API by verb (§6, inferred): a filtered fetch is a fetch
by metadata, a filtered delete a delete by metadata.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from retention.errors import PineconeError
from retention.identifiers import MAX_IDS_PER_REQUEST, canonical_namespace
from retention.pinecone.dataplane import (
    Filter,
    IndexClient,
    check_batch,
    chunks,
    next_token,
    pages,
    require_filter,
)
from retention.pinecone.models import (
    Count,
    DeleteResult,
    FetchResult,
    IdPage,
    Record,
    RecordPage,
    ResponseInfo,
)
from retention.pinecone.session import DOCUMENTS_API_VERSION, Session

COUNT_PAGE = 10_000
"""Documents per page of a counting fetch: the most Pinecone returns."""
MAX_LIST_PAGE = 100


class DocumentIndexClient(IndexClient):
    """Data-plane operations of the document index `name` at `host`; `schema` is its
    describe's typed fields (name -> type)."""

    api_version = DOCUMENTS_API_VERSION

    def __init__(
        self,
        session: Session,
        *,
        name: str,
        host: str,
        schema: Mapping[str, str],
        concurrency: int = 4,
    ) -> None:
        super().__init__(session, name=name, host=host, concurrency=concurrency)
        self.schema = dict(schema)

    def __repr__(self) -> str:
        return f"DocumentIndexClient(name={self.name!r}, host={self.host!r})"

    def _documents(self, namespace: str, op: str) -> str:
        return f"{self._ns_path(namespace)}/documents/{op}"

    async def _post(
        self, namespace: str, op: str, operation: str, body: Mapping[str, Any], weights: Any
    ) -> tuple[dict[str, Any], ResponseInfo]:
        data, response = await self.session.send_json(
            "POST",
            self._documents(namespace, op),
            operation=operation,
            weights=weights,
            json=body,
            api_version=self.api_version,
        )
        return data, ResponseInfo.from_response(response)

    def list_ids(
        self,
        namespace: str,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        start: str | None = None,
    ) -> AsyncIterator[IdPage]:
        """Pages of document IDs (optionally under `prefix`), in Pinecone's order."""
        if limit is not None and not 1 <= limit <= MAX_LIST_PAGE:
            raise ValueError(f"a list page holds 1 to {MAX_LIST_PAGE} IDs, got: {limit}")

        async def page(token: str | None) -> IdPage:
            body = _present(prefix=prefix, limit=limit, pagination_token=token)
            data, info = await self._post(
                namespace, "list", "list_ids", body, {self._keys("list_requests"): 1}
            )
            return IdPage(
                ids=tuple(_ids(data.get("documents"), "list")),
                next=next_token(data),
                info=info,
            )

        return pages(start, page)

    async def fetch(self, ids: Iterable[str], namespace: str) -> FetchResult:
        """Fetch documents by ID, at most 1,000 per request; missing IDs are left out."""
        records: dict[str, Record] = {}
        infos: list[ResponseInfo] = []
        for batch in chunks(ids, MAX_IDS_PER_REQUEST):
            data, info = await self._post(
                namespace, "fetch", "fetch", {"ids": batch}, {self._keys("fetch_requests"): 1}
            )
            infos.append(info)
            for record in self._records(data):
                records[record.id] = record
        return FetchResult(records=records, infos=tuple(infos))

    def fetch_by_metadata(
        self, filter: Filter, namespace: str, *, limit: int | None = None, start: str | None = None
    ) -> AsyncIterator[RecordPage]:
        """Pages of the documents matching `filter`, every field but the schema's."""
        return self._matching(filter, namespace, limit=limit, start=start, include=None)

    def _matching(
        self,
        filter: Filter,
        namespace: str,
        *,
        limit: int | None,
        start: str | None,
        include: Sequence[str] | None,
    ) -> AsyncIterator[RecordPage]:
        require_filter(filter)

        async def page(token: str | None) -> RecordPage:
            body = _present(
                filter=filter, include_fields=include, limit=limit, pagination_token=token
            )
            data, info = await self._post(
                namespace,
                "fetch",
                "fetch_by_metadata",
                body,
                {self._keys("fetch_by_metadata_requests", namespace): 1},
            )
            return RecordPage(records=tuple(self._records(data)), next=next_token(data), info=info)

        return pages(start, page)

    async def count(self, filter: Filter, namespace: str) -> Count:
        """How many documents match `filter` now: a filtered fetch, page by page, each
        document with one field the filter names (so its answer stays small)."""
        include = [next(iter(_named_fields(filter)), "_id")]
        matched = 0
        async for found in self._matching(
            filter, namespace, limit=COUNT_PAGE, start=None, include=include
        ):
            matched += len(found.records)
        return Count(matched=matched, info=ResponseInfo())

    async def delete_batch(self, ids: Sequence[str], namespace: str) -> DeleteResult:
        """Delete at most 1,000 documents by ID in one request."""
        check_batch(ids)
        _, info = await self._post(
            namespace,
            "delete",
            "delete",
            {"ids": list(ids)},
            self.delete_weights(namespace, len(ids)),
        )
        return DeleteResult(requests=1, ids_sent=len(ids), infos=(info,))

    async def delete_by_filter(self, filter: Filter, namespace: str) -> DeleteResult:
        """Delete every document in `namespace` matching `filter`, in one request; the answer
        says how many it matched."""
        require_filter(filter)
        weights = self.filter_delete_weights(namespace)
        data, info = await self._post(namespace, "delete", "delete", {"filter": filter}, weights)
        return DeleteResult(
            requests=1, ids_sent=0, infos=(info,), matched=_matched(data.get("matched_records"))
        )

    async def delete_all(self, namespace: str) -> DeleteResult:
        """Delete every document in `namespace` (`delete_all`), keeping the namespace."""
        _, info = await self._post(
            namespace,
            "delete",
            "delete",
            {"delete_all": True},
            {self._keys("delete_requests", canonical_namespace(namespace)): 1},
        )
        return DeleteResult(requests=1, ids_sent=0, infos=(info,))

    def _records(self, data: Mapping[str, Any]) -> Iterator[Record]:
        documents = data.get("documents")
        if not isinstance(documents, dict):
            raise _malformed("fetch", "documents is not an object")
        for key, document in documents.items():
            if not isinstance(document, dict):
                raise _malformed("fetch", f"document {key!r} is not an object")
            rid = document.get("_id", key)
            if not isinstance(rid, str):
                raise _malformed("fetch", f"document {key!r} has no string _id")
            yield Record(
                id=rid,
                metadata={
                    k: v for k, v in document.items() if k not in self.schema and k[:1] != "_"
                },
            )


def _present(**values: Any) -> dict[str, Any]:
    """A request body of the options given: the documents API takes no `null` options."""
    return {k: v for k, v in values.items() if v is not None}


def _ids(items: object, operation: str) -> Iterator[str]:
    if not isinstance(items, list):
        raise _malformed(operation, "documents is not a list")
    for item in items:
        rid = item.get("_id") if isinstance(item, dict) else None
        if not isinstance(rid, str):
            raise _malformed(operation, "a listed document has no string _id")
        yield rid


def _matched(value: object) -> int | None:
    """`matched_records`, a count, or None when absent or not a count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _malformed(operation: str, what: str) -> PineconeError:
    """An answer the documents API does not give: refused rather than read as 'nothing'."""
    return PineconeError(f"{operation}: malformed documents answer: {what}", operation=operation)


def _named_fields(filter: Filter) -> Iterator[str]:
    """The field names a filter compares, outermost first."""
    for key, value in filter.items():
        if key.startswith("$"):
            clauses = value if isinstance(value, list) else [value]
            for clause in clauses:
                if isinstance(clause, Mapping):
                    yield from _named_fields(clause)
        else:
            yield key
