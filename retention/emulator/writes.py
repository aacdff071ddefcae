"""Data-plane writes: upsert, update (by ID or by filter, with dry runs) and delete.

Each write is validated and charged against the rate limits at once, then handed to the
namespace's write log; what it changes becomes visible after the configured lag. Charges follow
Pinecone's limits table: a delete by IDs costs one delete request and one delete record per
ID; a filtered delete costs a delete request and a delete-by-metadata request; `deleteAll`
costs a delete request; an update by filter, dry run included, costs an update request and an
update-by-metadata request.

Under an API version before 2025-10, `filter` and `dryRun` are no fields of `UpdateRequest`
(FACTS §4), so they are ignored as unknown fields and the update needs an `id` (`routing`).
A sparse index takes `sparseValues` and no dense `values`.
"""

from __future__ import annotations

from retention.emulator.handling import Call, Reply
from retention.emulator.records import (
    MAX_UPSERT_BYTES,
    Metadata,
    StoredRecord,
    check_id,
    check_metadata,
    check_sparse,
    check_values,
    parse_vectors,
)
from retention.emulator.refusals import bad_request
from retention.emulator.requestparts import (
    existing,
    namespace_name,
    predicate,
    read_headers,
    subject,
    write_headers,
)
from retention.emulator.routing import UPDATE_BY_FILTER_FROM, gated
from retention.emulator.store import Namespace, Predicate
from retention.identifiers import MAX_IDS_PER_REQUEST


def upsert(call: Call) -> Reply:
    state = call.vector_index(write=True)
    name = namespace_name(call)
    if call.size > MAX_UPSERT_BYTES:
        raise bad_request(
            f"Request size {call.size} bytes exceeds the maximum supported size of "
            f"{MAX_UPSERT_BYTES} bytes"
        )
    records = parse_vectors(call.pick("vectors"), state.info.dimension)
    call.charge(
        state.info.name,
        subject(name),
        [("upsert", "requests", 1), ("upsert", "bytes", call.size)],
    )
    lsn = state.namespace(name).write(lambda ns: ns.put(records))
    return Reply({"upsertedCount": len(records)}, headers=write_headers(lsn))


def delete(call: Call) -> Reply:
    state = call.vector_index(write=True)
    name = namespace_name(call)
    ids = call.pick("ids")
    delete_all = call.pick("deleteAll", "delete_all", False) is True
    raw_filter = call.pick("filter")
    if delete_all and ids:
        raise bad_request("No explicit IDs allowed when delete_all=true")
    if delete_all and raw_filter is not None:
        raise bad_request("No filter allowed when delete_all=true")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise bad_request("ids must be a list of strings")
    if ids and len(ids) > MAX_IDS_PER_REQUEST:
        raise bad_request(
            f"Number of provided IDs: {len(ids)} exceeds the maximum amount per request: "
            f"{MAX_IDS_PER_REQUEST}"
        )
    index, who = state.info.name, subject(name)
    if raw_filter is not None:  # ids are silently ignored next to a filter, as Pinecone does
        match = predicate(call, raw_filter, "Delete with empty metadata filter is not allowed")
        call.charge(index, who, [("delete", "requests", 1), ("delete_by_metadata", "requests", 1)])
        ns = existing(call, state, name)
        cap = call.runtime.config.delete_by_filter_cap
        lsn = ns.write(lambda n: _delete_matching(n, match, cap))
    elif delete_all:
        call.charge(index, who, [("delete", "requests", 1)])
        ns = existing(call, state, name)
        lsn = ns.write(lambda n: n.remove(list(n.records)))
    elif ids:
        for rid in ids:
            check_id(rid)
        call.charge(index, who, [("delete", "requests", 1), ("delete", "records", len(ids))])
        ns = existing(call, state, name)
        lsn = ns.write(lambda n: n.remove(ids))
    else:
        raise bad_request("Delete request must specify one of ids, filter or delete_all")
    return Reply({}, headers=write_headers(lsn))


def _delete_matching(ns: Namespace, match: Predicate, cap: int | None) -> None:
    ids = [rid for rid, _ in ns.matching(match)]
    ns.remove(ids if cap is None else ids[:cap])


def update(call: Call) -> Reply:
    state = call.vector_index(write=True)
    name = namespace_name(call)
    rid = call.pick("id")
    by_filter = not gated(call, UPDATE_BY_FILTER_FROM)
    raw_filter = call.pick("filter") if by_filter else None
    values = call.pick("values")
    sparse = check_sparse(call.pick("sparseValues", "sparse_values"))
    set_metadata = check_metadata(call.pick("setMetadata", "set_metadata"))
    if rid is not None and raw_filter is not None:
        raise bad_request("Update request must specify either id or filter, not both")
    if rid is None:
        if not by_filter:
            raise bad_request(f"Update request must specify an id (API version {call.version})")
        if raw_filter is None:
            raise bad_request("Update request must specify either id or filter")
    if raw_filter is not None:
        if values is not None or sparse is not None:
            raise bad_request("Update by metadata request does not support updating vector values.")
        match = predicate(call, raw_filter, "Update with empty metadata filter is not allowed")
        return _update_by_filter(call, name, match, set_metadata)
    rid = check_id(rid)
    dense = _update_values(state.info.dimension, values)
    index, who = state.info.name, subject(name)
    call.charge(index, who, [("update", "requests", 1), ("update", "records", 1)])
    lsn = state.namespace(name).write(lambda n: _update_one(n, rid, dense, sparse, set_metadata))
    return Reply({}, headers=write_headers(lsn))


def _update_values(dimension: int | None, values: object) -> list[float] | None:
    """New dense values of an update by ID, checked against the index (none for a sparse one)."""
    if values is None or (dimension is None and values == []):
        return None
    if dimension is None:
        raise bad_request("This index is sparse: update sparseValues, not dense values")
    return check_values(values, dimension)


def _update_by_filter(call: Call, name: str, match: Predicate, set_metadata: Metadata) -> Reply:
    state = call.vector_index(write=True)
    index, who = state.info.name, subject(name)
    dry_run = call.pick("dryRun", "dry_run", False) is True
    call.charge(index, who, [("update", "requests", 1), ("update_by_metadata", "requests", 1)])
    ns = state.namespace(name)
    matched = sum(1 for _ in ns.matching(match))
    headers: dict[str, str] = {}
    if dry_run:
        headers.update(read_headers(call, ns))
    else:
        cap = call.runtime.config.update_by_filter_cap
        lsn = ns.write(lambda n: _update_matching(n, match, set_metadata, cap))
        headers.update(write_headers(lsn))
    return Reply({"matchedRecords": matched}, headers=headers)


def _update_one(
    ns: Namespace,
    rid: str,
    values: list[float] | None,
    sparse: dict[str, list[object]] | None,
    set_metadata: Metadata,
) -> None:
    old = ns.records.get(rid)
    if old is None:
        return
    metadata = {**old.metadata, **set_metadata}
    new = StoredRecord(
        values if values is not None else old.values,
        sparse if sparse is not None else old.sparse,
        metadata,
    )
    ns.put({rid: new})


def _update_matching(ns: Namespace, match: Predicate, set_metadata: Metadata, cap: int) -> None:
    changed: dict[str, StoredRecord] = {}
    for rid, record in ns.matching(match):
        if len(changed) >= cap:
            break
        metadata = {**record.metadata, **set_metadata}
        changed[rid] = StoredRecord(record.values, record.sparse, metadata)
    if changed:
        ns.put(changed)
