"""The one way tests write policies and fill the emulator.

Policies are built as documents (dicts) and written as YAML; records go into the emulator at
once, without limits, faults or lag. Dataset shapes (how many records, which metadata) stay
with the tests that need them; the writing happens here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from retention.emulator import Emulator

Document = dict[str, Any]
Data = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""namespace -> record ID -> metadata."""


def policy(
    name: str,
    index: str,
    include: Sequence[str],
    rules: Sequence[Mapping[str, Any]],
    **spec: Any,
) -> Document:
    """A RetentionPolicy document. Without `limits` it may delete whole namespaces (most tests
    are about what is selected; the default guard has tests of its own); `limits=None` leaves
    the key out, so the default guard applies."""
    spec.setdefault("limits", {"maxPercent": 100})
    if spec["limits"] is None:
        del spec["limits"]
    return {
        "apiVersion": "retention/v1",
        "kind": "RetentionPolicy",
        "metadata": {"name": name},
        "spec": {
            "index": index,
            "namespaces": {"include": list(include)},
            **spec,
            "rules": [dict(r) for r in rules],
        },
    }


def hold(
    name: str, index: str, include: Sequence[str], protect: Sequence[Any], **spec: Any
) -> Document:
    """A LegalHold document (`spec` adds fields, such as `project`)."""
    return {
        "apiVersion": "retention/v1",
        "kind": "LegalHold",
        "metadata": {"name": name},
        "spec": {
            "index": index,
            "namespaces": {"include": list(include)},
            "protect": list(protect),
            **spec,
        },
    }


def ttl_rule(name: str, older: str, field: str = "created_at", unit: str = "s") -> Document:
    """A TTL rule: records whose `field` (epoch `unit`) is older than `older`."""
    return {"name": name, "olderThan": older, "field": field, "unit": unit}


def where_rule(name: str, **equal: Any) -> Document:
    """A rule selecting the records whose fields equal the given values."""
    return {"name": name, "where": dict(equal)}


def yaml_text(*docs: Mapping[str, Any]) -> str:
    """The documents as one YAML file (a shared value is written out each time: policy files
    may not use anchors)."""
    return yaml.dump_all([dict(d) for d in docs], Dumper=_PlainDumper, sort_keys=False)


def write_policies(
    directory: Path, docs: Iterable[Mapping[str, Any]], file: str = "policies.yaml"
) -> Path:
    """The documents in `directory/file`; returns the directory to hand to the CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / file).write_text(yaml_text(*docs))
    return directory


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def seed(emulator: Emulator, index: str, data: Data) -> None:
    """Store the records of `data` in the existing `index`, each with a vector of its
    dimension."""
    values = [0.1] * emulator.store.indexes[index].info.dimension
    for ns, records in data.items():
        emulator.upsert(
            index, ns, [(rid, values, meta) for rid, meta in records.items()], validate=False
        )


DOCUMENT_SCHEMA = {
    "emb": {"type": "dense_vector", "dimension": 2, "metric": "cosine"},
    "body": {"type": "string", "full_text_search": {}},
}
"""The schema of the document indexes tests make: a dense vector and a searchable text."""


def seed_documents(emulator: Emulator, index: str, data: Data) -> None:
    """Store the records of `data` as documents of the existing document `index` (schema
    `DOCUMENT_SCHEMA`): their metadata as the documents' fields, beside a vector and a text."""
    for ns, records in data.items():
        emulator.upsert_documents(
            index,
            ns,
            (
                {"_id": rid, "emb": [0.1, 0.2], "body": f"about {rid}", **meta}
                for rid, meta in records.items()
            ),
        )
