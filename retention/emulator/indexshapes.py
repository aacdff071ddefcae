"""Index create requests and index descriptions, in the two control-plane shapes.

API 2026-07 (what SDK 10.x sends and requires) describes a vector index by a `schema` whose
only field is a reserved one, `_values` (`dense_vector`, with `dimension` and `metric`) or
`_sparse_values` (`sparse_vector`), plus a `deployment`; SDK 10 translates the older
arguments into exactly that (SDK10:`_internal/legacy_index_translation.py`, which notes that
such a schema persists no document schema: the index is an ordinary vector index). A schema
with any other field is a document index (`documentschema`), served by the documents API
(`documents`); an older version describes one per `EmulatorConfig.old_version_documents`: in
its own shape, `dimension`/`metric` those of the dense field (none if it has none), or not at
all (404, left out of the list). API 2025-04 to
2026-04 use `dimension`, `metric`, `vector_type` and `spec.serverless`, whose optional
`schema` (2025-10, `MetadataSchema`) names the filterable metadata fields.

Descriptions echo what creation said. A metadata schema shows as `spec.serverless.schema` in
the older shape and, in the 2026-07 one, as untyped entries next to the vector field of
`schema.fields`: SDK 10 decodes "fields from indexes created before typed schemas", which
"carry no `type` on the wire" (SDK10:`models/indexes/schema.py`).

Under version gating (`EmulatorConfig.version_gates`), a request body in the other version's
shape is refused as a body missing the field that version requires (422, the control plane's
deserialisation error, as the spec's examples word it), and fields a version does not know
are ignored as unknown fields: `vector_type` before 2025-01 (sparse indexes arrived with API
2025-01, GH:pinecone-io/pinecone-ts-client#327) and `spec.serverless.schema` before 2025-10
(first in the 2025-10 spec; FACTS §1 dates namespace schemas 2025-10). Which one Pinecone
answers for each is a guess: the closest documented behaviour.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from retention.emulator.documentschema import (
    DENSE_TYPE,
    check_document_schema,
    field_of_type,
    is_document_schema,
)
from retention.emulator.handling import Call
from retention.emulator.model import IndexInfo, VectorType
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.schemas import check_metadata_schema

DENSE_FIELD = "_values"
SPARSE_FIELD = "_sparse_values"
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
METRICS = ("cosine", "euclidean", "dotproduct")
SPARSE_FROM = "2025-01"
METADATA_SCHEMA_FROM = "2025-10"
SCHEMA_SHAPE_FROM = "2026-07"


def missing_field(name: str) -> ApiError:
    return ApiError(
        422, f"Failed to deserialize the JSON body into the target type: missing field `{name}`"
    )


def check_name(raw: object) -> str:
    if not isinstance(raw, str) or not NAME.match(raw):
        raise bad_request(
            "Index name must contain only lowercase alphanumeric characters or hyphens, and "
            "must not begin or end with a hyphen."
        )
    return raw


def check_protection(raw: object) -> str:
    protection = raw or "disabled"
    if protection not in ("enabled", "disabled"):
        raise bad_request("deletion_protection must be 'enabled' or 'disabled'")
    return str(protection)


def check_tags(raw: object) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise bad_request("tags must be an object of strings")
    return {str(k): v for k, v in raw.items()}


def parse_create(call: Call) -> IndexInfo:
    """An index from a 2026-07 (`schema` + `deployment`) or older (`spec`) create request."""
    body = call.body
    gated = call.runtime.config.version_gates
    new_shape = call.at_least(SCHEMA_SHAPE_FROM)
    if gated and new_shape and "schema" not in body:
        raise missing_field("schema")
    if gated and not new_shape and "spec" not in body:
        raise missing_field("spec")
    name = check_name(body.get("name"))
    use_schema = new_shape if gated else "schema" in body
    info = _from_schema(body) if use_schema else _from_spec(call)
    info.name = name
    info.uid = str(uuid.uuid4())
    info.deletion_protection = check_protection(body.get("deletion_protection"))
    info.tags = check_tags(body.get("tags"))
    return info


def _from_schema(body: Any) -> IndexInfo:
    """The vector field of a 2026-07 schema, and its deployment."""
    schema = body.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, dict):
        raise bad_request("schema must be an object with a 'fields' object")
    where = _deployment(body.get("deployment"))
    if is_document_schema(fields):
        return document_index_info(check_document_schema(fields), where)
    if len(fields) != 1:
        raise bad_request(
            "The emulator serves one vector field per vector index: schema.fields must hold "
            f"exactly one of {DENSE_FIELD} (dense_vector) or {SPARSE_FIELD} (sparse_vector)"
        )
    key, field = next(iter(fields.items()))
    if not isinstance(field, dict):
        raise bad_request(f"schema.fields.{key} must be an object")
    wanted = "dense_vector" if key == DENSE_FIELD else "sparse_vector"
    if field.get("type") != wanted:
        raise bad_request(f"schema.fields.{key} must have type {wanted}")
    description = field.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request(f"schema.fields.{key}.description must be a string")
    if key == DENSE_FIELD:
        dimension, metric = check_dense(field.get("dimension"), field.get("metric"))
        kind: VectorType = "dense"
    else:
        dimension, metric, kind = None, check_sparse_metric(field.get("metric")), "sparse"
    return IndexInfo(
        name="",
        dimension=dimension,
        metric=metric,
        cloud=str(where.get("cloud") or "aws"),
        region=str(where.get("region") or "us-east-1"),
        vector_type=kind,
        description=description,
    )


def _deployment(raw: object) -> dict[str, Any]:
    """A 2026-07 `deployment`: managed (the default); `pod` is refused as Pinecone words it."""
    where = raw or {}
    if not isinstance(where, dict):
        raise bad_request("deployment must be an object")
    kind = where.get("deployment_type", "managed")
    if kind == "pod":
        raise bad_request("deployment_type 'pod' is not supported on this API version")
    if kind != "managed":
        raise bad_request("The emulator serves serverless (managed) indexes only")
    return where


def document_index_info(fields: dict[str, dict[str, Any]], where: dict[str, Any]) -> IndexInfo:
    """A document index: its schema kept as echoed; `dimension`/`metric` its dense field's."""
    dense = field_of_type(fields, DENSE_TYPE)
    return IndexInfo(
        name="",
        dimension=None if dense is None else int(fields[dense]["dimension"]),
        metric="cosine" if dense is None else str(fields[dense]["metric"]),
        cloud=str(where.get("cloud") or "aws"),
        region=str(where.get("region") or "us-east-1"),
        vector_type="dense" if dense is not None or field_of_type(fields, "string") else "sparse",
        document_schema=fields,
    )


def _from_spec(call: Call) -> IndexInfo:
    """A 2025-04 to 2026-04 create request: dimension, metric, vector_type, spec.serverless."""
    body = call.body
    gated = call.runtime.config.version_gates
    spec = body.get("spec") or {}
    if not isinstance(spec, dict) or "serverless" not in spec:
        raise bad_request("The emulator serves serverless indexes only: give spec.serverless")
    where = spec["serverless"] or {}
    if not isinstance(where, dict):
        raise bad_request("spec.serverless must be an object")
    kind = body.get("vector_type") or "dense"
    if gated and not call.at_least(SPARSE_FROM):
        kind = "dense"  # an unknown field before sparse indexes existed
    if kind == "sparse":
        if body.get("dimension") is not None:
            raise bad_request("Sparse vector indexes must not specify a dimension")
        dimension, metric = None, check_sparse_metric(body.get("metric"))
    elif kind == "dense":
        dimension, metric = check_dense(body.get("dimension"), body.get("metric"))
    else:
        raise bad_request(f"vector_type must be 'dense' or 'sparse', got {kind!r}")
    raw_schema = where.get("schema")
    if gated and not call.at_least(METADATA_SCHEMA_FROM):
        raw_schema = None
    return IndexInfo(
        name="",
        dimension=dimension,
        metric=metric,
        cloud=str(where.get("cloud") or "aws"),
        region=str(where.get("region") or "us-east-1"),
        vector_type="sparse" if kind == "sparse" else "dense",
        metadata_schema=check_metadata_schema(raw_schema),
    )


def check_dense(dimension: object, metric: object) -> tuple[int, str]:
    if not isinstance(dimension, int) or isinstance(dimension, bool) or not 1 <= dimension <= 20000:
        raise bad_request(f"Dimension must be an integer between 1 and 20000, got {dimension!r}")
    metric = metric or "cosine"
    if metric not in METRICS:
        raise bad_request(f"Metric must be one of cosine, euclidean or dotproduct, got {metric!r}")
    return dimension, str(metric)


def check_sparse_metric(metric: object) -> str:
    """Sparse indexes score by dot product only (the spec's `metric` description)."""
    if metric not in (None, "dotproduct"):
        raise bad_request(f"Sparse vector indexes must use the metric dotproduct, got {metric!r}")
    return "dotproduct"


def schema_fields(
    kind: VectorType,
    dimension: int | None,
    metric: str,
    metadata_schema: dict[str, Any] | None,
    description: str | None = None,
) -> dict[str, Any]:
    """The 2026-07 `schema` of a vector index: its reserved vector field, then legacy ones."""
    field: dict[str, Any]
    if kind == "sparse":
        field = {"type": "sparse_vector"}
    else:
        field = {"type": "dense_vector", "dimension": dimension, "metric": metric}
    if description is not None:
        field["description"] = description
    fields = {SPARSE_FIELD if kind == "sparse" else DENSE_FIELD: field}
    legacy = (metadata_schema or {}).get("fields") or {}
    fields.update({k: dict(v) for k, v in legacy.items()})
    return {"fields": fields}


def index_model(call: Call, info: IndexInfo, *, ready: bool, host: str) -> dict[str, Any]:
    """`IndexModel` in the request's version: 2026-07 or the older `spec` shape."""
    status = (
        {"ready": True, "state": "Ready"} if ready else {"ready": False, "state": "Initializing"}
    )
    on_demand = {"mode": "OnDemand", "status": {"state": "Ready"}}
    common: dict[str, Any] = {
        "name": info.name,
        "host": host,
        "status": status,
        "deletion_protection": info.deletion_protection,
        "tags": info.tags,
    }
    if call.at_least(SCHEMA_SHAPE_FROM):
        schema = (
            {"fields": {k: dict(v) for k, v in info.document_schema.items()}}
            if info.document_schema is not None
            else schema_fields(
                info.vector_type,
                info.dimension,
                info.metric,
                info.metadata_schema,
                info.description,
            )
        )
        out = {
            **common,
            "schema": schema,
            "deployment": {
                "deployment_type": "managed",
                "cloud": info.cloud,
                "region": info.region,
            },
            "read_capacity": on_demand,
        }
        if info.source_backup_id is not None:
            out["source_backup_id"] = info.source_backup_id
        return out
    if info.tags is None:  # the older specs type `tags` as an object, never null
        del common["tags"]
    serverless: dict[str, Any] = {
        "cloud": info.cloud,
        "region": info.region,
        "read_capacity": on_demand,
    }
    if info.metadata_schema is not None:
        serverless["schema"] = info.metadata_schema
    out = {**common, "metric": info.metric, "vector_type": info.vector_type}
    if info.dimension is not None:
        out["dimension"] = info.dimension
    out["spec"] = {"serverless": serverless}
    return out
