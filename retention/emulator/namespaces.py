"""Index statistics and the namespace API (`/describe_index_stats`, `/namespaces`).

The default namespace is `__default__` in the namespace API and, in statistics, under API
versions 2025-04 and later (`""` before: Pinecone's documents disagree, so this follows the
version). `record_count` goes out as a string, as protojson writes a uint64 and as Pinecone's
own responses show, although the OpenAPI file declares an integer.

A document index is served here too (SDK 10: stats "work on every kind of index"); its stats
take the vector shape, `dimension`/`metric` those of its dense field (the document-index
shape is unconfirmed), and `__default__` is an ordinary namespace name in it.
"""

from __future__ import annotations

from typing import Any

from retention.emulator.handling import Call, Reply
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.requestparts import (
    NAMESPACE_NOT_FOUND,
    decode_token,
    encode_token,
    int_param,
    read_headers,
)
from retention.emulator.routing import CREATE_NAMESPACE_FROM, require
from retention.emulator.schemas import check_metadata_schema
from retention.emulator.store import Namespace, namespace_key
from retention.identifiers import DEFAULT_NAMESPACE


def describe_index_stats(call: Call) -> Reply:
    state = call.index()
    raw_filter = call.pick("filter")
    if raw_filter:
        raise bad_request(
            "Serverless and Starter indexes do not support describing index stats with "
            "metadata filtering."
        )
    call.charge(state.info.name, DEFAULT_NAMESPACE, [("describe_index_stats", "requests", 1)])
    default_name = DEFAULT_NAMESPACE if call.at_least("2025-04") else ""
    namespaces: dict[str, Any] = {}
    total = 0
    for ns in state.visible_namespaces():
        plain = state.info.document_schema is not None  # `__default__` is just a name there
        key = default_name if ns.name == DEFAULT_NAMESPACE and not plain else ns.name
        namespaces[key] = {"vectorCount": len(ns.records)}
        total += len(ns.records)
    body: dict[str, Any] = {"namespaces": namespaces}
    if state.info.dimension is not None:  # a sparse index has none (SDK 10: None then)
        body["dimension"] = state.info.dimension
    body.update(
        indexFullness=0.0,
        totalVectorCount=total,
        metric=state.info.metric,
        vectorType=state.info.vector_type,
    )
    if call.at_least("2026-07"):
        body["memoryFullness"] = 0.0
        body["storageFullness"] = 0.0
    return Reply(body)


def describe(ns: Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ns.name, "record_count": str(len(ns.records))}
    if ns.schema is not None:
        out["schema"] = ns.schema
    return out


def list_namespaces(call: Call) -> Reply:
    state = call.index()
    prefix = call.query("prefix") or ""
    limit = int_param(call.query("limit"), "limit", default=100, low=1, high=None)
    token = call.query("paginationToken") or call.query("pagination_token")
    matching = [ns for ns in state.visible_namespaces() if ns.name.startswith(prefix)]
    start = decode_token(token)["skip_past"] if token else None
    remaining = [ns for ns in matching if start is None or ns.name > start]
    page = remaining[:limit]
    body: dict[str, Any] = {
        "namespaces": [describe(ns) for ns in page],
        "total_count": len(matching),
    }
    if len(remaining) > limit:
        body["pagination"] = {"next": encode_token({"skip_past": page[-1].name})}
    return Reply(body)


def create_namespace(call: Call) -> Reply:
    require(call, CREATE_NAMESPACE_FROM)
    state = call.index()
    name = call.pick("name")
    if not isinstance(name, str) or not name:
        raise bad_request("Namespace name must be a non-empty string")
    if name == DEFAULT_NAMESPACE:
        raise bad_request(f"Namespace name {DEFAULT_NAMESPACE} is reserved")
    if len(name) > 512 or "\0" in name or not name.isascii():
        raise bad_request("Namespace name must be at most 512 ASCII characters without NUL")
    schema = check_metadata_schema(call.pick("schema"))
    ns = state.namespace(name)
    if ns.exists:
        raise ApiError(409, f"Namespace {name} already exists")
    ns.explicit = ns.known = True
    ns.schema = schema
    if call.store.backend is not None:
        call.store.backend.put_namespace(state.info.name, ns.name, schema)
    return Reply(describe(ns))


def describe_namespace(call: Call) -> Reply:
    state = call.index()
    ns = state.namespace(namespace_key(call.path("namespace")))
    if not ns.exists:
        raise ApiError(404, NAMESPACE_NOT_FOUND)
    return Reply(describe(ns), headers=read_headers(call, ns))


def delete_namespace(call: Call) -> Reply:
    state = call.index()
    key = namespace_key(call.path("namespace"))
    ns = state.namespace(key)
    if not ns.exists:
        raise ApiError(404, NAMESPACE_NOT_FOUND)
    state.drop_namespace(key)
    return Reply({})
