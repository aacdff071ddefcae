"""The documents API (2026-07) of a document index: upsert, list, fetch and delete.

All routes are `POST /namespaces/{namespace}/documents/{op}` with snake_case JSON bodies, as
docs/pinecone-documents-api.md §3-§4 give them (from the 2026-07 OAS via the Go SDK v7, SDK
10.2.0 and Pinecone's reference pages). The namespace is the (percent-decoded) path segment;
`__default__` is an ordinary name here. Errors are `{"error": {"code", "message"}, "status"}`
(the `documents` plane); writes answer 202 with `x-pinecone-request-lsn`, reads 200 with no LSN
header. `search` is not served yet.

A document is stored as a `StoredRecord`: the schema's dense field in `values`, its sparse
field in `sparse`, everything else (searchable strings and metadata) in `metadata`, so the
store, persistence, the namespace API and the filter evaluator serve documents unchanged.

Rate limits are the vectors API's, operation by operation (§6, inferred): upsert as upsert,
list as list, fetch by IDs as fetch, fetch by filter as fetch by metadata, deletes as the
vectors API's deletes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from retention.emulator.documentschema import DENSE_TYPE, SPARSE_TYPE, Fields, field_of_type
from retention.emulator.documentschema import text_fields as searchable
from retention.emulator.filtering import DocumentFields, compile_request_filter
from retention.emulator.handling import Call, Reply
from retention.emulator.records import (
    MAX_UPSERT_BYTES,
    MAX_UPSERT_RECORDS,
    StoredRecord,
    check_id,
    check_metadata,
    check_sparse,
    check_values,
)
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.requestparts import (
    decode_token,
    encode_token,
    existing,
    int_param,
    write_headers,
)
from retention.emulator.store import IndexState, Namespace, Predicate
from retention.identifiers import MAX_ID_LENGTH, MAX_IDS_PER_REQUEST

MAX_LIST_LIMIT = 100
MAX_FETCH_LIMIT = 10_000
MAX_TEXT_BYTES = 100 * 1024
TEXT_MATCH_IN_WRITES = (
    "Text match operators ($match_phrase, $match_all, $match_any) are not supported in delete "
    "or update filters; use them in search"
)
TEXT_MATCH_IN_FETCH = (
    "Text match operators ($match_phrase, $match_all, $match_any) are only supported in search"
)
WRONG_PLANE = (
    "This index has no document schema, so it is served by the vectors API, not the documents "
    "API. Use /vectors/upsert, /vectors/fetch, /vectors/list, /vectors/delete or /query."
)


def document_index(call: Call) -> tuple[IndexState, Fields]:
    """The index and its schema; a vector index refuses the documents API."""
    state = call.index()
    fields = state.info.document_schema
    if fields is None:
        raise ApiError(call.runtime.config.documents_on_vector_status, WRONG_PLANE)
    return state, fields


def path_namespace(call: Call) -> str:
    name = call.path("namespace")
    if not name.strip():
        raise bad_request("namespace must not be empty")
    if len(name) > 512 or "\0" in name or not name.isascii():
        raise bad_request("namespace must be at most 512 ASCII characters without NUL")
    return name


# -- upsert


def upsert(call: Call) -> Reply:
    state, fields = document_index(call)
    name = path_namespace(call)
    if call.size > MAX_UPSERT_BYTES:
        raise ApiError(
            413,
            f"Request size {call.size} bytes exceeds the maximum supported size of "
            f"{MAX_UPSERT_BYTES} bytes",
        )
    raw = call.body.get("documents")
    if not isinstance(raw, list) or not raw:
        raise bad_request("documents must be a non-empty list of documents")
    if len(raw) > MAX_UPSERT_RECORDS:
        raise bad_request(
            f"Number of provided documents: {len(raw)} exceeds the maximum amount per request: "
            f"{MAX_UPSERT_RECORDS}"
        )
    records = dict(parse_document(item, fields) for item in raw)
    who = name
    call.charge(state.info.name, who, [("upsert", "requests", 1), ("upsert", "bytes", call.size)])
    lsn = state.namespace(name).write(lambda ns: ns.put(records))
    return Reply({"upserted_count": len(raw)}, status=202, headers=write_headers(lsn))


def parse_document(item: object, fields: Fields) -> tuple[str, StoredRecord]:
    """One document of an upsert: its `_id` and what it stores, or Pinecone's 400."""
    if not isinstance(item, Mapping):
        raise bad_request("Each document must be an object with an _id")
    rid = check_id(item.get("_id"), "Document _id")
    for key in item:
        if key != "_id" and (key.startswith("_") or key.startswith("$")):
            raise bad_request(f"Document {rid}: field name '{key}' is reserved")
    dense, sparse = field_of_type(fields, DENSE_TYPE), field_of_type(fields, SPARSE_TYPE)
    present = sorted(k for k in item if k in fields)
    if not present:
        raise bad_request(
            f"Document {rid} has no schema field; it needs at least one of: "
            f"{', '.join(sorted(fields))}"
        )
    if dense is not None and dense not in item:
        raise bad_request(f"Document {rid} is missing the required field '{dense}'")
    values: list[float] = []
    if dense is not None:
        values = check_values(item[dense], int(fields[dense]["dimension"]))
    vector = check_sparse(item.get(sparse)) if sparse is not None else None
    texts = {k: _text(rid, k, item[k]) for k in searchable(fields) if k in item}
    others = {k: v for k, v in item.items() if k != "_id" and k not in fields}
    metadata = {**check_metadata(others), **texts}
    return rid, StoredRecord(values, vector, metadata)


def _text(rid: str, name: str, value: object) -> str:
    if not isinstance(value, str):
        raise bad_request(f"Document {rid}: field '{name}' must be a string")
    if len(value.encode()) > MAX_TEXT_BYTES:
        raise bad_request(
            f"Document {rid}: field '{name}' exceeds the maximum of {MAX_TEXT_BYTES} bytes"
        )
    return value


class Shaper:
    """Stored documents as fetch returns them, for one schema; `include` None means every
    field. Made once per answer: a page holds up to 10,000 documents."""

    def __init__(self, fields: Fields, include: list[str] | None) -> None:
        self.dense = field_of_type(fields, DENSE_TYPE)
        self.sparse = field_of_type(fields, SPARSE_TYPE)
        self.include = None if include is None else frozenset(include)

    def __call__(self, rid: str, record: StoredRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"_id": rid}
        include = self.include
        if include is None:
            out.update(record.metadata)
        else:
            out.update((k, v) for k, v in record.metadata.items() if k in include)
        if self.dense is not None and record.values and (include is None or self.dense in include):
            out[self.dense] = record.values
        wanted = include is None or self.sparse in include
        if self.sparse is not None and record.sparse is not None and wanted:
            out[self.sparse] = record.sparse
        return out


# -- list


def list_documents(call: Call) -> Reply:
    state, _ = document_index(call)
    name = path_namespace(call)
    prefix = call.body.get("prefix") or ""
    if not isinstance(prefix, str) or len(prefix) > MAX_ID_LENGTH or not prefix.isascii():
        raise bad_request(f"prefix must be an ASCII string of at most {MAX_ID_LENGTH} characters")
    limit = _limit(call, "limit", MAX_LIST_LIMIT)
    token = _token(call)
    call.charge(state.info.name, name, [("list", "requests", 1)])
    ns = existing(call, state, name, evidenced=False)
    if token is not None:
        ids = ns.ids_from(decode_token(token)["skip_past"], after=True)
    else:
        ids = ns.ids_from(prefix, after=False)
    found: list[str] = []
    for rid in ids:
        if not rid.startswith(prefix) or len(found) > limit:
            break
        found.append(rid)
    page = found[:limit]
    body: dict[str, Any] = {
        "documents": [{"_id": rid} for rid in page],
        "namespace": name,
        "usage": {"read_units": 1},
    }
    if len(found) > limit:
        body["pagination"] = {
            "next": encode_token({"skip_past": page[-1], "prefix": prefix or None})
        }
    return Reply(body)


def _limit(call: Call, name: str, high: int) -> int:
    raw = call.body.get(name)
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool)):
        raise bad_request(f"{name} must be an integer, got {raw!r}")
    return int_param(raw, name, default=100, low=1, high=high)


def _token(call: Call) -> str | None:
    token = call.body.get("pagination_token")
    if token is not None and not isinstance(token, str):
        raise bad_request("pagination_token must be a string")
    return token or None


# -- fetch


def fetch(call: Call) -> Reply:
    state, fields = document_index(call)
    name = path_namespace(call)
    ids, raw_filter = call.body.get("ids"), call.body.get("filter")
    if (ids is None) == (raw_filter is None):
        raise bad_request("Fetch request must specify exactly one of ids or filter")
    include = _include(call.body.get("include_fields"))
    limit = _limit(call, "limit", MAX_FETCH_LIMIT)
    token = _token(call)
    if ids is not None:
        if token is not None:
            raise bad_request("pagination_token is only supported with a filter")
        checked = _ids(ids)
        call.charge(state.info.name, name, [("fetch", "requests", 1)])
        ns = existing(call, state, name)
        found = [(rid, ns.records[rid]) for rid in dict.fromkeys(checked) if rid in ns.records]
        return _fetched(name, found, fields, include, None)
    refusal = None if call.runtime.config.text_match_in_fetch else TEXT_MATCH_IN_FETCH
    match = document_filter(call, fields, raw_filter, refusal)
    call.charge(state.info.name, name, [("fetch_by_metadata", "requests", 1)])
    ns = existing(call, state, name, evidenced=False)
    start = decode_token(token)["skip_past"] if token is not None else ""
    hits = list(islice(_matching_from(ns, match, start), limit + 1))
    page = hits[:limit]
    following = encode_token({"skip_past": page[-1][0]}) if len(hits) > limit else None
    return _fetched(name, page, fields, include, following)


def _fetched(
    name: str,
    found: list[tuple[str, StoredRecord]],
    fields: Fields,
    include: list[str] | None,
    following: str | None,
) -> Reply:
    shape = Shaper(fields, include)
    body: dict[str, Any] = {
        "documents": {rid: shape(rid, r) for rid, r in found},
        "namespace": name,
        "usage": {"read_units": max(1, math.ceil(len(found) / 100))},
    }
    if following is not None:
        body["pagination"] = {"next": following}
    return Reply(body)


def _include(raw: object) -> list[str] | None:
    """`include_fields`: omitted, `[]` and `["*"]` all mean every field (for fetch)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise bad_request("include_fields must be a list of field names")
    return None if not raw or "*" in raw else list(raw)


def _ids(raw: object) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        raise bad_request("ids must be a list of strings")
    if not raw:
        raise bad_request("ids must not be empty")
    if len(raw) > MAX_IDS_PER_REQUEST:
        raise bad_request(
            f"Number of provided IDs: {len(raw)} exceeds the maximum amount per request: "
            f"{MAX_IDS_PER_REQUEST}"
        )
    return [check_id(rid, "Document _id") for rid in raw]


def _matching_from(ns: Namespace, match: Predicate, start: str) -> Iterator[tuple[str, Any]]:
    for rid in ns.ids_from(start, after=bool(start)):
        record = ns.records[rid]
        if match(record.metadata):
            yield rid, record


def document_filter(call: Call, fields: Fields, raw: object, text_refusal: str | None) -> Predicate:
    """A filter over documents: the emulator's evaluator, told the index's schema."""
    if isinstance(raw, dict) and not raw:
        raise bad_request("Empty filter is not allowed")
    document = DocumentFields(frozenset(fields), searchable(fields), text_refusal)
    readings = call.runtime.config.readings
    return compile_request_filter(raw, readings, with_not=True, document=document)


# -- delete


def delete(call: Call) -> Reply:
    state, fields = document_index(call)
    name = path_namespace(call)
    ids, raw_filter = call.body.get("ids"), call.body.get("filter")
    delete_all = call.body.get("delete_all", False)
    if not isinstance(delete_all, bool):
        raise bad_request("delete_all must be a boolean")
    given = (ids is not None) + (raw_filter is not None) + delete_all
    if given != 1:
        raise bad_request("Delete request must specify exactly one of ids, filter or delete_all")
    index = state.info.name
    if raw_filter is not None:
        if isinstance(raw_filter, dict) and not raw_filter:
            raise bad_request("Delete with empty metadata filter is not allowed")
        match = document_filter(call, fields, raw_filter, TEXT_MATCH_IN_WRITES)
        call.charge(index, name, [("delete", "requests", 1), ("delete_by_metadata", "requests", 1)])
        ns = existing(call, state, name)
        cap = call.runtime.config.delete_by_filter_cap
        hits = [rid for rid, _ in ns.matching(match)]
        matched = len(hits) if cap is None else min(cap, len(hits))
        lsn = ns.write(lambda n: _delete_matching(n, match, cap))
        counted = call.runtime.config.matched_records == "counted"
        body = {"matched_records": matched} if counted else {}
        return Reply(body, status=202, headers=write_headers(lsn))
    if delete_all:
        call.charge(index, name, [("delete", "requests", 1)])
        ns = existing(call, state, name)
        lsn = ns.write(lambda n: n.remove(list(n.records)))
    else:
        checked = _ids(ids)
        call.charge(index, name, [("delete", "requests", 1), ("delete", "records", len(checked))])
        ns = existing(call, state, name)
        lsn = ns.write(lambda n: n.remove(checked))
    return Reply({}, status=202, headers=write_headers(lsn))


def _delete_matching(ns: Namespace, match: Predicate, cap: int | None) -> None:
    ids = [rid for rid, _ in ns.matching(match)]
    ns.remove(ids if cap is None else ids[:cap])
