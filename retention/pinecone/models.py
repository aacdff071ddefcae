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
        )


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
    """What a delete sent: Pinecone answers `{}`, so this is no proof that anything was removed."""

    requests: int
    ids_sent: int
    infos: tuple[ResponseInfo, ...]

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
