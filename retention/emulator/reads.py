"""Data-plane reads: fetch, fetch by metadata, list and query, over what is visible now.

Pagination follows Pinecone: `list` walks IDs in bitwise order from a `skip_past` token (the
documented examples are base64 JSON `{"skip_past": ..., "prefix": ...}`), and
`pagination.next` appears only when another page exists. `fetch_by_metadata` pages the same
way through the matching records. Queries are a brute-force scan; on a sparse index they
take a `sparseVector`, score by dot product over shared indices, drop zero scores and allow
`topK` up to 1,000, as Pinecone's sparse-index limitations say
(DOC:guides/index-data/indexing-overview, "Limitations").
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from retention.emulator.handling import Call, Reply
from retention.emulator.records import StoredRecord, check_id, check_sparse, check_values
from retention.emulator.refusals import bad_request
from retention.emulator.requestparts import (
    decode_token,
    encode_token,
    existing,
    int_param,
    namespace_name,
    predicate,
    read_headers,
    subject,
    usage,
)
from retention.emulator.routing import FETCH_BY_METADATA_FROM, require
from retention.emulator.store import Namespace, Predicate
from retention.identifiers import MAX_IDS_PER_REQUEST

MAX_TOP_K = 10_000
MAX_SPARSE_TOP_K = 1_000


def fetch(call: Call) -> Reply:
    state = call.vector_index(write=False)
    name = namespace_name(call)
    ids = call.query_list("ids")
    if not ids:
        raise bad_request("Fetch request must include at least one ID")
    if len(ids) > MAX_IDS_PER_REQUEST:
        raise bad_request(
            f"Number of provided IDs: {len(ids)} exceeds the maximum amount per request: "
            f"{MAX_IDS_PER_REQUEST}"
        )
    for rid in ids:
        check_id(rid)
    call.charge(state.info.name, subject(name), [("fetch", "requests", 1)])
    ns = existing(call, state, name)
    vectors = {rid: ns.records[rid].to_json(rid) for rid in ids if rid in ns.records}
    body = {"vectors": vectors, "namespace": name, "usage": usage()}
    return Reply(body, headers=read_headers(call, ns))


def fetch_by_metadata(call: Call) -> Reply:
    require(call, FETCH_BY_METADATA_FROM)
    state = call.vector_index(write=False)
    name = namespace_name(call)
    match = predicate(
        call, call.pick("filter", default={}), "Empty filter provided for fetch by metadata request"
    )
    limit = int_param(call.pick("limit"), "limit", default=100, low=1, high=10_000)
    token = call.pick("paginationToken", "pagination_token")
    call.charge(state.info.name, subject(name), [("fetch_by_metadata", "requests", 1)])
    ns = existing(call, state, name, evidenced=False)
    start = decode_token(token)["skip_past"] if token else ""
    found = list(islice(_matching_from(ns, match, start), limit + 1))
    page = found[:limit]
    body: dict[str, Any] = {
        "vectors": {rid: record.to_json(rid) for rid, record in page},
        "namespace": name,
        "usage": usage(max(1, math.ceil(len(page) / 100))),
    }
    if len(found) > limit:
        body["pagination"] = {"next": encode_token({"skip_past": page[-1][0]})}
    return Reply(body, headers=read_headers(call, ns))


def _matching_from(
    ns: Namespace, match: Predicate, start: str
) -> Iterator[tuple[str, StoredRecord]]:
    fields = ns.filterable_fields()
    for rid in ns.ids_from(start, after=bool(start)):
        record = ns.records[rid]
        meta = record.metadata
        if fields is not None:
            meta = {k: v for k, v in meta.items() if k in fields}
        if match(meta):
            yield rid, record


def list_ids(call: Call) -> Reply:
    state = call.vector_index(write=False)
    name = namespace_name(call)
    prefix = call.query("prefix") or ""
    limit = int_param(call.query("limit"), "limit", default=100, low=1, high=None)
    token = call.query("paginationToken") or call.query("pagination_token")
    call.charge(state.info.name, subject(name), [("list", "requests", 1)])
    ns = existing(call, state, name, evidenced=False)
    if token:
        payload = decode_token(token)
        ids = ns.ids_from(payload["skip_past"], after=True)
    else:
        ids = ns.ids_from(prefix, after=False)
    found: list[str] = []
    for rid in ids:
        if not rid.startswith(prefix):
            break
        found.append(rid)
        if len(found) > limit:
            break
    page = found[:limit]
    body: dict[str, Any] = {
        "vectors": [{"id": rid} for rid in page],
        "namespace": name,
        "usage": usage(),
    }
    if len(found) > limit:
        body["pagination"] = {
            "next": encode_token({"skip_past": page[-1], "prefix": prefix or None})
        }
    return Reply(body, headers=read_headers(call, ns))


def query(call: Call) -> Reply:
    state = call.vector_index(write=False)
    name = namespace_name(call)
    sparse_index = state.info.dimension is None
    high = MAX_SPARSE_TOP_K if sparse_index else MAX_TOP_K
    top_k = int_param(call.pick("topK", "top_k"), "topK", default=10, low=1, high=high)
    raw_filter = call.pick("filter")
    match = predicate(call, raw_filter, "Empty filter is not allowed") if raw_filter else None
    include_values = call.pick("includeValues", "include_values", False) is True
    include_metadata = call.pick("includeMetadata", "include_metadata", False) is True
    call.charge(
        state.info.name, subject(name), [("query", "requests", 1), ("query", "read_units", 1)]
    )
    ns = existing(call, state, name)
    score = _sparse_target(call, ns) if sparse_index else _dense_target(call, ns)
    matches: list[dict[str, Any]] = []
    if score is not None:
        candidates = ns.matching(match) if match is not None else ns.records.items()
        sign = -1.0 if state.info.metric == "euclidean" else 1.0  # distances rank ascending
        scored = ((sign * score(r), rid, r) for rid, r in candidates)
        if sparse_index:  # records sharing no index with the query score 0 and are dropped
            scored = (item for item in scored if item[0] != 0.0)
        for rank, rid, record in heapq.nlargest(top_k, scored):
            item: dict[str, Any] = {"id": rid, "score": sign * rank, "values": []}
            item.update(record.to_json(rid, values=include_values, metadata=include_metadata))
            matches.append(item)
    body = {"matches": matches, "namespace": name, "usage": usage()}
    return Reply(body, headers=read_headers(call, ns, query=True))


Score = Callable[[StoredRecord], float]


def _dense_target(call: Call, ns: Namespace) -> Score | None:
    """How a dense query scores a record: by `vector`, or by the stored vector of `id`."""
    vector, by_id = call.pick("vector"), call.pick("id")
    if (vector is None) == (by_id is None):
        raise bad_request("Query request must specify exactly one of vector or id")
    info = ns.index.info
    if by_id is not None:
        found = ns.records.get(check_id(by_id))
        if found is None:
            return None
        target = found.values
    else:
        target = check_values(vector, info.dimension or 0)
    dense = _scorer(info.metric, target)
    return lambda record: float(dense(record.values))


def _sparse_target(call: Call, ns: Namespace) -> Score | None:
    """How a sparse query scores a record: the dot product over the indices both share."""
    raw, by_id = call.pick("sparseVector", "sparse_vector"), call.pick("id")
    if call.pick("vector") not in (None, []):
        raise bad_request("This index is sparse: query with sparseVector, not a dense vector")
    if (raw is None) == (by_id is None):
        raise bad_request("Query request must specify exactly one of sparseVector or id")
    if by_id is not None:
        found = ns.records.get(check_id(by_id))
        sparse = found.sparse if found is not None else None
    else:
        sparse = check_sparse(raw)
    if not sparse:
        return None
    weights: dict[int, float] = {
        int(i): float(v) for i, v in zip(sparse["indices"], sparse["values"], strict=True)
    }

    def dot(record: StoredRecord) -> float:
        held = record.sparse or {"indices": [], "values": []}
        pairs = zip(held["indices"], held["values"], strict=True)
        return sum((float(v) * weights.get(int(i), 0.0) for i, v in pairs), 0.0)

    return dot


def _scorer(metric: str, target: list[float]) -> Any:
    if metric == "dotproduct":
        return lambda v: sum(a * b for a, b in zip(v, target, strict=True))
    if metric == "euclidean":  # squared distance, as Pinecone reports it
        return lambda v: sum((a - b) ** 2 for a, b in zip(v, target, strict=True))
    norm = math.sqrt(sum(b * b for b in target)) or 1.0

    def cosine(v: list[float]) -> float:
        dot = sum(a * b for a, b in zip(v, target, strict=True))
        return dot / ((math.sqrt(sum(a * a for a in v)) or 1.0) * norm)

    return cosine
