"""The control plane: indexes (create, list, describe, configure, delete) and backups.

Request and description shapes per API version live in `indexshapes`; restores in
`restores`. `host` is where the index's data plane answers: a path under this server,
`http://HOST:PORT/index/NAME`, with its scheme, because the SDK (and our client) would
prepend `https://` to a bare host.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from retention.emulator.handling import Call, Reply
from retention.emulator.indexshapes import (
    SCHEMA_SHAPE_FROM,
    check_protection,
    check_tags,
    parse_create,
    schema_fields,
)
from retention.emulator.indexshapes import index_model as shaped_model
from retention.emulator.model import Backup, IndexInfo
from retention.emulator.records import StoredRecord
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.requestparts import encode_token, int_param, offset_token
from retention.emulator.store import IndexState

DATA_PREFIX = "/index"


def data_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}{DATA_PREFIX}/{quote(name, safe='')}"


def index_model(call: Call, state: IndexState) -> dict[str, Any]:
    base = f"{call.request.url.scheme}://{call.request.url.netloc}"
    return shaped_model(call, state.info, ready=state.ready, host=data_url(base, state.info.name))


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lookup(call: Call, param: str = "name") -> IndexState:
    name = call.path(param)
    state = call.store.indexes.get(name)
    if state is None:
        raise ApiError(404, f"Index {name} not found.")
    return state


def _hidden(call: Call, state: IndexState) -> bool:
    """Is this a document index that the request's (pre-2026-07) version does not see?"""
    return (
        state.info.document_schema is not None
        and call.runtime.config.old_version_documents == "hide"
        and not call.at_least(SCHEMA_SHAPE_FROM)
    )


def list_indexes(call: Call) -> Reply:
    states = sorted(call.store.indexes.values(), key=lambda s: s.info.name)
    shown = [index_model(call, state) for state in states if not _hidden(call, state)]
    return Reply({"indexes": shown})


def describe_index(call: Call) -> Reply:
    state = _lookup(call)
    if _hidden(call, state):
        raise ApiError(404, f"Index {state.info.name} not found.")
    return Reply(index_model(call, state))


def create_index(call: Call) -> Reply:
    info = parse_create(call)
    if info.name in call.store.indexes:
        raise ApiError(409, "Resource already exists.")
    state = call.store.add_index(info)
    return Reply(index_model(call, state), status=201)


def configure_index(call: Call) -> Reply:
    state = _lookup(call)
    info = state.info
    protection = call.body.get("deletion_protection")
    if protection is not None:
        info.deletion_protection = check_protection(protection)
    tags = check_tags(call.body.get("tags"))
    if tags is not None:  # an empty value removes a tag, as Pinecone documents
        merged = {**(info.tags or {}), **tags}
        info.tags = {k: v for k, v in merged.items() if v != ""} or None
    call.store.save_index(info)
    return Reply(index_model(call, state), status=202)


def delete_index(call: Call) -> Reply:
    state = _lookup(call)
    if state.info.deletion_protection == "enabled":
        raise ApiError(
            403,
            "Deletion protection is enabled for this index. Disable deletion protection "
            "before retrying.",
        )
    call.store.drop_index(state.info.name)
    return Reply(None, status=202)


# -- backups


def backup_model(call: Call, backup: Backup) -> dict[str, Any]:
    done = call.store.clock() >= backup.ready_at
    out: dict[str, Any] = {
        "backup_id": backup.backup_id,
        "source_index_name": backup.source_index_name,
        "source_index_id": backup.source_index_id,
        "status": backup.outcome if done else "Initializing",
        "cloud": backup.cloud,
        "region": backup.region,
        "name": backup.name,
        "description": backup.description,
        "record_count": backup.record_count,
        "namespace_count": backup.namespace_count,
        "size_bytes": backup.size_bytes,
        "tags": backup.tags,
        "created_at": backup.created_at,
    }
    if call.at_least("2026-07"):
        out["schema"] = schema_fields(
            backup.vector_type, backup.dimension, backup.metric, backup.metadata_schema
        )
    else:
        out["dimension"] = backup.dimension
        out["metric"] = backup.metric
        out["schema"] = backup.metadata_schema
    return {k: v for k, v in out.items() if v is not None}


def create_backup(call: Call) -> Reply:
    """Snapshot the records of every namespace that are old enough, as Pinecone documents.

    A backup holds only records last written at least `backup_min_age_s` (15 minutes) before
    it was made; younger ones, and writes still inside the lag, are left out. Only serverless
    indexes exist here, which are the ones Pinecone backs up.
    """
    state = _lookup(call, "index_name")
    if state.info.document_schema is not None:
        raise bad_request("Backups are not supported for indexes with a document schema")
    name, description = call.body.get("name"), call.body.get("description")
    config = call.runtime.config
    now = call.store.clock()
    cutoff = now - config.backup_min_age_s
    snapshot = {ns.name: ns.written_before(cutoff) for ns in state.visible_namespaces()}
    snapshot = {ns: records for ns, records in snapshot.items() if records}
    records = sum(len(held) for held in snapshot.values())
    info = state.info
    backup = Backup(
        backup_id=str(uuid.uuid4()),
        source_index_name=info.name,
        source_index_id=info.uid,
        dimension=info.dimension,
        metric=info.metric,
        cloud=info.cloud,
        region=info.region,
        created_at=now_iso(),
        ready_at=now + config.backup_ready_ms / 1000,
        name=name if isinstance(name, str) else None,
        description=description if isinstance(description, str) else None,
        record_count=records,
        namespace_count=len(snapshot),
        size_bytes=_size_bytes(info, snapshot),
        tags=info.tags,
        outcome=config.backup_outcome,
        snapshot=snapshot,
        vector_type=info.vector_type,
        metadata_schema=info.metadata_schema,
    )
    call.store.add_backup(backup)
    return Reply(backup_model(call, backup), status=201)


def _size_bytes(info: IndexInfo, snapshot: dict[str, dict[str, StoredRecord]]) -> int:
    """A plausible size: 4 bytes a dense value, 8 a sparse pair, 64 a record besides."""
    held = [record for records in snapshot.values() for record in records.values()]
    dense = (info.dimension or 0) * 4
    return sum(64 + dense + 8 * len((r.sparse or {}).get("indices", ())) for r in held)


def list_backups(call: Call) -> Reply:
    only = call.path("index_name") if "index_name" in call.request.path_params else None
    if only is not None:
        _lookup(call, "index_name")
    backups = sorted(
        (b for b in call.store.backups.values() if only in (None, b.source_index_name)),
        key=lambda b: (b.created_at, b.backup_id),
    )
    return Reply(page_of(call, backups, backup_model))


T = TypeVar("T")


def page_of(
    call: Call, items: Sequence[T], model: Callable[[Call, T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of a control-plane listing (`limit` 1-100, default 10; `paginationToken`):
    `{"data": [...], "pagination": {"next": ...}}`, the pagination only when more remain;
    only the page's items are described."""
    limit = int_param(call.query("limit"), "limit", default=10, low=1, high=100)
    start = offset_token(call.query("paginationToken"))
    body: dict[str, Any] = {"data": [model(call, item) for item in items[start : start + limit]]}
    if start + limit < len(items):
        body["pagination"] = {"next": encode_token({"skip_past": str(start + limit)})}
    return body


def backup_of(call: Call) -> Backup:
    backup_id = call.path("backup_id")
    backup = call.store.backups.get(backup_id)
    if backup is None:
        raise ApiError(404, f"Backup {backup_id} not found.")
    return backup


def describe_backup(call: Call) -> Reply:
    return Reply(backup_model(call, backup_of(call)))


def delete_backup(call: Call) -> Reply:
    """202, or 412 while a restore from the backup is pending (the spec's example wording)."""
    backup = backup_of(call)
    clock = call.store.clock()
    pending = [
        job.restore_job_id
        for job in call.store.restore_jobs.values()
        if job.backup_id == backup.backup_id and clock < job.ready_at
    ]
    if pending:
        raise ApiError(
            412,
            f"Unable to delete backup. There are pending restore jobs for this backup: {pending!r}",
        )
    call.store.drop_backup(backup.backup_id)
    return Reply(None, status=202)
