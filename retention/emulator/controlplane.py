"""The control plane: indexes (create, list, describe, configure, delete) and backups.

An index description has two shapes. API 2026-07 (what SDK 10.x sends and requires) describes
a vector index by a `schema` with the reserved `_values` field and a `deployment`; API 2025-04
to 2026-04 use `dimension`, `metric` and `spec.serverless`. Both are accepted on create and
answered by the request's `X-Pinecone-Api-Version`.

`host` is where the index's data plane answers: a path under this server,
`http://HOST:PORT/index/NAME`, with its scheme, because the SDK (and our client) would
prepend `https://` to a bare host.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from retention.emulator.handling import Call, Reply
from retention.emulator.model import Backup, IndexInfo
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.requestparts import decode_token, encode_token, int_param
from retention.emulator.store import IndexState

DATA_PREFIX = "/index"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
_METRICS = ("cosine", "euclidean", "dotproduct")


def data_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}{DATA_PREFIX}/{quote(name, safe='')}"


def index_model(call: Call, info: IndexInfo) -> dict[str, Any]:
    base = f"{call.request.url.scheme}://{call.request.url.netloc}"
    status = {"ready": True, "state": "Ready"}
    common = {
        "name": info.name,
        "host": data_url(base, info.name),
        "status": status,
        "deletion_protection": info.deletion_protection,
        "tags": info.tags,
    }
    if call.at_least("2026-07"):
        return {
            **common,
            "schema": {"fields": {"_values": _values_field(info)}},
            "deployment": {
                "deployment_type": "managed",
                "cloud": info.cloud,
                "region": info.region,
            },
            "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
        }
    if info.tags is None:  # the older specs type `tags` as an object, never null
        del common["tags"]
    return {
        **common,
        "dimension": info.dimension,
        "metric": info.metric,
        "vector_type": "dense",
        "spec": {
            "serverless": {
                "cloud": info.cloud,
                "region": info.region,
                "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
            }
        },
    }


def _values_field(info: IndexInfo) -> dict[str, Any]:
    return {"type": "dense_vector", "dimension": info.dimension, "metric": info.metric}


def _lookup(call: Call, param: str = "name") -> IndexState:
    name = call.path(param)
    state = call.store.indexes.get(name)
    if state is None:
        raise ApiError(404, f"Index {name} not found.")
    return state


def list_indexes(call: Call) -> Reply:
    infos = sorted((s.info for s in call.store.indexes.values()), key=lambda i: i.name)
    return Reply({"indexes": [index_model(call, info) for info in infos]})


def describe_index(call: Call) -> Reply:
    return Reply(index_model(call, _lookup(call).info))


def create_index(call: Call) -> Reply:
    info = parse_create(call.body)
    if info.name in call.store.indexes:
        raise ApiError(409, "Resource already exists.")
    call.store.add_index(info)
    return Reply(index_model(call, info), status=201)


def parse_create(body: dict[str, Any] | Any) -> IndexInfo:
    """An index from a 2026-07 (`schema` + `deployment`) or older (`spec`) create request."""
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad_request(
            "Index name must contain only lowercase alphanumeric characters or hyphens, and "
            "must not begin or end with a hyphen."
        )
    if "schema" in body:
        fields = (body.get("schema") or {}).get("fields") or {}
        values = fields.get("_values")
        if not isinstance(values, dict) or values.get("type") != "dense_vector":
            raise bad_request(
                "The emulator serves dense vector indexes: give schema.fields._values"
            )
        dimension, metric = values.get("dimension"), values.get("metric", "cosine")
        where = body.get("deployment") or {}
        if where.get("deployment_type", "managed") != "managed":
            raise bad_request("The emulator serves serverless (managed) indexes only")
    else:
        dimension, metric = body.get("dimension"), body.get("metric") or "cosine"
        spec = body.get("spec") or {}
        if "serverless" not in spec:
            raise bad_request("The emulator serves serverless indexes only: give spec.serverless")
        if body.get("vector_type", "dense") != "dense":
            raise bad_request("The emulator serves dense vector indexes only")
        where = spec["serverless"] or {}
    if not isinstance(dimension, int) or isinstance(dimension, bool) or not 1 <= dimension <= 20000:
        raise bad_request(f"Dimension must be an integer between 1 and 20000, got {dimension!r}")
    if metric not in _METRICS:
        raise bad_request(f"Metric must be one of cosine, euclidean or dotproduct, got {metric!r}")
    protection = body.get("deletion_protection") or "disabled"
    if protection not in ("enabled", "disabled"):
        raise bad_request("deletion_protection must be 'enabled' or 'disabled'")
    return IndexInfo(
        name=name,
        dimension=dimension,
        metric=metric,
        uid=str(uuid.uuid4()),
        cloud=str(where.get("cloud") or "aws"),
        region=str(where.get("region") or "us-east-1"),
        deletion_protection=protection,
        tags=_tags(body.get("tags")),
    )


def _tags(raw: object) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise bad_request("tags must be an object of strings")
    return {str(k): v for k, v in raw.items()}


def configure_index(call: Call) -> Reply:
    state = _lookup(call)
    info = state.info
    protection = call.body.get("deletion_protection")
    if protection is not None:
        if protection not in ("enabled", "disabled"):
            raise bad_request("deletion_protection must be 'enabled' or 'disabled'")
        info.deletion_protection = protection
    tags = _tags(call.body.get("tags"))
    if tags is not None:  # an empty value removes a tag, as Pinecone documents
        merged = {**(info.tags or {}), **tags}
        info.tags = {k: v for k, v in merged.items() if v != ""} or None
    call.store.save_index(info)
    return Reply(index_model(call, info), status=202)


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
        field = {"type": "dense_vector", "dimension": backup.dimension, "metric": backup.metric}
        out["schema"] = {"fields": {"_values": field}}
    else:
        out["dimension"] = backup.dimension
        out["metric"] = backup.metric
    return {k: v for k, v in out.items() if v is not None}


def create_backup(call: Call) -> Reply:
    """Snapshot the records of every namespace that are old enough, as Pinecone documents.

    A backup holds only records last written at least `backup_min_age_s` (15 minutes) before
    it was made; younger ones, and writes still inside the lag, are left out. Only serverless
    indexes exist here, which are the ones Pinecone backs up.
    """
    state = _lookup(call, "index_name")
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
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        ready_at=now + config.backup_ready_ms / 1000,
        name=name if isinstance(name, str) else None,
        description=description if isinstance(description, str) else None,
        record_count=records,
        namespace_count=len(snapshot),
        size_bytes=records * (info.dimension * 4 + 64),
        tags=info.tags,
        outcome=config.backup_outcome,
        snapshot=snapshot,
    )
    call.store.add_backup(backup)
    return Reply(backup_model(call, backup), status=201)


def list_backups(call: Call) -> Reply:
    only = call.path("index_name") if "index_name" in call.request.path_params else None
    if only is not None:
        _lookup(call, "index_name")
    backups = sorted(
        (b for b in call.store.backups.values() if only in (None, b.source_index_name)),
        key=lambda b: (b.created_at, b.backup_id),
    )
    limit = int_param(call.query("limit"), "limit", default=10, low=1, high=100)
    token = call.query("paginationToken")
    start = int(decode_token(token)["skip_past"]) if token else 0
    page = backups[start : start + limit]
    body: dict[str, Any] = {"data": [backup_model(call, b) for b in page]}
    if start + limit < len(backups):
        body["pagination"] = {"next": encode_token({"skip_past": str(start + limit)})}
    return Reply(body)


def _backup(call: Call) -> Backup:
    backup_id = call.path("backup_id")
    backup = call.store.backups.get(backup_id)
    if backup is None:
        raise ApiError(404, f"Backup {backup_id} not found.")
    return backup


def describe_backup(call: Call) -> Reply:
    return Reply(backup_model(call, _backup(call)))


def delete_backup(call: Call) -> Reply:
    call.store.drop_backup(_backup(call).backup_id)
    return Reply(None, status=202)
