"""Metadata schemas: which metadata fields are indexed for filtering.

Namespaces (`POST /namespaces`, 2025-10) and indexes (`spec.serverless.schema`, 2025-10) take
the same `MetadataSchema`: `{"fields": {name: {"filterable": true}}}`. Only `filterable: true`
is supported (SPEC-2025-10 `MetadataSchema`, `CreateNamespaceRequest`; the refusal is worded as
SDK 10 reports the server's).
"""

from __future__ import annotations

from typing import Any

from retention.emulator.refusals import bad_request


def check_metadata_schema(raw: object) -> dict[str, Any] | None:
    """The schema as stored (a copy), None when absent, or Pinecone's 400."""
    if raw is None:
        return None
    fields = raw.get("fields") if isinstance(raw, dict) else None
    if not isinstance(fields, dict):
        raise bad_request("schema must be an object with a 'fields' object")
    for name, config in fields.items():
        if not isinstance(config, dict) or config.get("filterable") is not True:
            raise bad_request(
                f"Field '{name}' is set to filterable: false. Only filterable: true is "
                f"supported in the namespace schema."
            )
    return {"fields": {k: dict(v) for k, v in fields.items()}}


def filterable(schema: dict[str, Any] | None) -> frozenset[str] | None:
    """The fields a schema indexes, or None when every field is (no schema)."""
    if not schema:
        return None
    raw = schema.get("fields")
    if not isinstance(raw, dict):
        return None
    return frozenset(k for k, v in raw.items() if isinstance(v, dict) and v.get("filterable"))
