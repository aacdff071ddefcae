"""Typed answers from Pinecone, parsed once from raw JSON at the edge.

Raw JSON never leaves this package: the planner and applier see frozen dataclasses with the
fields they need, plus `ResponseInfo` (request id, LSNs) so that a journal can name the exact
request and verify freshness (a read whose `max_indexed_lsn` >= a delete's `lsn` sees it).

Namespaces: Pinecone's default namespace is `__default__` in paths and (since API 2025-04)
bodies, and `""` in older bodies, query strings and some stats answers. Everything returned
here uses `DEFAULT_NAMESPACE` for it, so callers compare one spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from retention.identifiers import canonical_namespace

JSON = dict[str, Any]


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ResponseInfo:
    """What the response headers say about a request: its id and the LSNs, when present."""

    request_id: str | None = None
    lsn: int | None = None
    """`x-pinecone-request-lsn`: the log position of a write."""
    max_indexed_lsn: int | None = None
    """`x-pinecone-max-indexed-lsn`: writes up to here are visible to this read."""

    @classmethod
    def from_response(cls, response: httpx.Response) -> ResponseInfo:
        headers = response.headers
        return cls(
            request_id=headers.get("x-pinecone-request-id"),
            lsn=_int_header(headers, "x-pinecone-request-lsn"),
            max_indexed_lsn=_int_header(headers, "x-pinecone-max-indexed-lsn"),
        )


@dataclass(frozen=True)
class IndexDescription:
    """An index as the control plane describes it, in either the 2026-07 or the older shape."""

    name: str
    host: str
    """Data-plane base URL, always with a scheme (`https://` when Pinecone gave none)."""
    ready: bool
    state: str
    deletion_protection: str | None = None
    dimension: int | None = None
    metric: str | None = None
    serverless: bool | None = None
    """Is it a serverless index (the only kind Pinecone backs up)? None when the description
    does not say. Up to 2026-04, `spec` holds `serverless` or `pod`. In 2026-07,
    `deployment.deployment_type` is `managed` for serverless (FACTS §7); FACTS records no
    2026-07 pod index, and the SDK's own code and tests send and read `"pod"` for one, so `pod`
    means False, and any other type (`byoc`, whatever comes next) is not read as either."""
    schema: Mapping[str, str] = field(default_factory=dict)
    """The typed fields of a 2026-07 `schema`, name -> type (`dense_vector`, `string`, ...);
    empty in the older shape. Untyped entries (a vector index's legacy `{"filterable": true}`
    metadata fields) are left out."""

    @property
    def documents(self) -> bool:
        """Is it a document index, served by the documents API only?

        The schema decides, and nothing else does (docs/pinecone-documents-api.md §1): one made
        only of the reserved vector fields `_values` / `_sparse_values` is a vector index, as
        is one whose fields are `semantic_text` (integrated embedding, the records API); any
        other typed field makes a document index."""
        return any(
            name not in VECTOR_INDEX_FIELDS and kind not in VECTOR_INDEX_TYPES
            for name, kind in self.schema.items()
        )

    @property
    def data_fields(self) -> Mapping[str, str]:
        """The fields of a document index's schema (vectors and searchable text), which a
        metadata filter cannot compare; empty for a vector index."""
        return dict(self.schema) if self.documents else {}

    @classmethod
    def from_json(cls, data: JSON) -> IndexDescription:
        status = data.get("status") or {}
        dimension, metric = data.get("dimension"), data.get("metric")
        fields = ((data.get("schema") or {}).get("fields") or {}).get("_values") or {}
        if dimension is None and isinstance(fields, dict):  # 2026-07 schema/deployment shape
            dimension, metric = fields.get("dimension"), fields.get("metric")
        return cls(
            name=str(data["name"]),
            host=with_scheme(str(data["host"])),
            ready=bool(status.get("ready", False)),
            state=str(status.get("state", "Unknown")),
            deletion_protection=data.get("deletion_protection"),
            dimension=int(dimension) if dimension is not None else None,
            metric=str(metric) if metric is not None else None,
            serverless=_serverless(data),
            schema=_schema_fields(data),
        )


VECTOR_INDEX_FIELDS = frozenset({"_values", "_sparse_values"})
VECTOR_INDEX_TYPES = frozenset({"semantic_text"})


def _schema_fields(data: JSON) -> dict[str, str]:
    """The typed fields of a description's `schema` (2026-07), name -> type."""
    schema = data.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, dict):
        return {}
    return {
        str(name): spec["type"]
        for name, spec in fields.items()
        if isinstance(spec, dict) and isinstance(spec.get("type"), str)
    }


def _serverless(data: JSON) -> bool | None:
    """What `IndexDescription.serverless` says, from `spec` (<= 2026-04) or `deployment`."""
    spec = data.get("spec")
    if isinstance(spec, dict):
        if "serverless" in spec:
            return True
        if "pod" in spec:
            return False
    deployment = data.get("deployment")
    kind = deployment.get("deployment_type") if isinstance(deployment, dict) else None
    return {"managed": True, "pod": False}.get(kind) if isinstance(kind, str) else None


def with_scheme(host: str) -> str:
    """`host` as a URL: Pinecone returns bare host names, which mean HTTPS.

    Only for hosts that Pinecone itself returns; a configured controller goes through
    `controller_url`, which refuses to guess.
    """
    host = host.rstrip("/")
    return host if "://" in host else f"https://{host}"


def controller_url(value: str, *, name: str = "controller_url") -> str:
    """`value` as the control plane's base URL, or `ValueError` naming `name` and the fix.

    A configured controller must say its scheme: the emulator and local proxies speak plain
    HTTP, and guessing https for `127.0.0.1:5080` would only surface as an SSL error after a
    dozen seconds of retries. Credentials in the URL are refused without being quoted.
    """
    if any(c.isspace() for c in value):
        raise ValueError(f"{name} {value!r} contains whitespace; give the URL alone")
    if "://" not in value:
        raise ValueError(f"{name} {value!r} has no scheme; add http:// or https://")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{name} {value!r} is not a URL: {exc}") from None
    if url.userinfo:
        raise ValueError(
            f"{name} must not carry credentials; give the key in PINECONE_API_KEY only"
        )
    if url.scheme not in ("http", "https"):
        raise ValueError(f"{name} {value!r} must start with http:// or https://")
    if not url.host:
        raise ValueError(f"{name} {value!r} names no host")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"{name} {value!r}: the port must be between 1 and 65535")
    return value.rstrip("/")


@dataclass(frozen=True)
class NamespaceDescription:
    """One namespace and its record count (Pinecone sends the count as a string or a number)."""

    name: str
    record_count: int
    info: ResponseInfo | None = None

    @classmethod
    def from_json(cls, data: JSON, info: ResponseInfo | None = None) -> NamespaceDescription:
        return cls(
            name=canonical_namespace(str(data.get("name", ""))),
            record_count=int(data.get("record_count") or 0),
            info=info,
        )


@dataclass(frozen=True)
class NamespacePage:
    """One page of `list_namespaces`; `next` is the token for the following page, if any."""

    namespaces: tuple[NamespaceDescription, ...]
    next: str | None
    total_count: int | None
    info: ResponseInfo


@dataclass(frozen=True)
class IdPage:
    """One page of `list_ids`."""

    ids: tuple[str, ...]
    next: str | None
    info: ResponseInfo


@dataclass(frozen=True)
class Record:
    """A fetched record; vector values are dropped, retention only needs ids and metadata."""

    id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: JSON) -> Record:
        return cls(id=str(data["id"]), metadata=dict(data.get("metadata") or {}))


@dataclass(frozen=True)
class FetchResult:
    """The records found by `fetch`, by id (missing ids are simply absent), and each request."""

    records: Mapping[str, Record]
    infos: tuple[ResponseInfo, ...]


@dataclass(frozen=True)
class RecordPage:
    """One page of `fetch_by_metadata`."""

    records: tuple[Record, ...]
    next: str | None
    info: ResponseInfo


@dataclass(frozen=True)
class DeleteResult:
    """What a delete sent. The vectors API answers `{}`, so that is no proof that anything was
    removed; a filtered delete of the documents API says how many records it matched."""

    requests: int
    ids_sent: int
    infos: tuple[ResponseInfo, ...]
    matched: int | None = None
    """`matched_records` of a filtered documents delete: Pinecone's own count of what the
    filter selected as it ran; None when the answer has none (the vectors API, ID and
    delete-all deletes, or a count not made in time)."""

    @property
    def lsn(self) -> int | None:
        """The highest write LSN among the requests, to check freshness against."""
        lsns = [i.lsn for i in self.infos if i.lsn is not None]
        return max(lsns) if lsns else None


@dataclass(frozen=True)
class Count:
    """How many records a filter matches now, from an update dry run."""

    matched: int
    info: ResponseInfo


def _optional_int(value: object) -> int | None:
    """A count Pinecone sends as a number or a string (protojson uint64); None if neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class BackupInfo:
    """A backup as the control plane describes it (`BackupModel`).

    `status` is `Initializing`, then `Ready` or a failure (`InitializationFailed` as SDK 10
    names it; the spec's example says `Failed`). A backup holds only records at least about 15
    minutes old, so the counts may be lower than the index's.
    """

    backup_id: str
    status: str
    source_index_name: str
    record_count: int | None = None
    namespace_count: int | None = None
    created_at: str | None = None
    name: str | None = None

    @classmethod
    def from_json(cls, data: JSON) -> BackupInfo:
        return cls(
            backup_id=str(data["backup_id"]),
            status=str(data.get("status") or "Unknown"),
            source_index_name=str(data.get("source_index_name") or ""),
            record_count=_optional_int(data.get("record_count")),
            namespace_count=_optional_int(data.get("namespace_count")),
            created_at=_optional_str(data.get("created_at")),
            name=_optional_str(data.get("name")),
        )
