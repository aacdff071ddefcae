"""`kind: PolicyTest` documents: example records and what the policies must do to them.

The schema has checked their shape; this checks what it cannot (times, metadata Pinecone would
refuse, expectations naming records that are not there, contradictory expectations) and builds
the model, every problem at its FILE:LINE:COL. Whether the expectations hold is
`retention test`'s question, answered offline against the policies loaded beside them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from retention.errors import PolicyError
from retention.identifiers import canonical_namespace
from retention.policy.durations import parse_moment
from retention.policy.model import ExampleRecord, Expectation, PolicyTest
from retention.policy.yamlsource import Document, JsonPath, render_path

_KEPT_BY = re.compile(r"^(protect|hold)(/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$|^observe$")


def build_test(doc: Document) -> tuple[PolicyTest | None, list[PolicyError]]:
    """The model of one schema-valid PolicyTest document, and the problems found."""
    errors: list[PolicyError] = []

    def fail(path: JsonPath, message: str) -> None:
        errors.append(PolicyError(doc.at(path), f"{render_path(path)}: {message}"))

    spec = doc.data["spec"]
    at = _moment(spec["at"])
    if at is None:
        fail(
            ("spec", "at"),
            f"{spec['at']!r} is not an ISO 8601 time with a timezone, such as 2026-12-01T00:00:00Z",
        )
    records: dict[tuple[str, str], ExampleRecord] = {}
    for i, raw in enumerate(spec["records"]):
        record = _record(doc, spec.get("index"), raw, ("spec", "records", i), fail)
        if record is None:
            continue
        key = (record.namespace, record.id)
        if key in records:
            fail(("spec", "records", i, "id"), f"record '{record.id}' is listed twice")
        records[key] = record
    expectations = [
        e
        for i, raw in enumerate(spec["expect"])
        if (e := _expectation(doc, records, raw, ("spec", "expect", i), fail)) is not None
    ]
    if errors or at is None:
        return None, errors
    name = doc.data["metadata"]["name"]
    return PolicyTest(name, at, tuple(expectations), doc.at(("metadata", "name"))), errors


def _moment(text: str) -> datetime | None:
    try:
        return parse_moment(text)
    except ValueError:
        return None


def _record(
    doc: Document, index: str | None, raw: Mapping[str, Any], path: JsonPath, fail: Any
) -> ExampleRecord | None:
    own = raw.get("index", index)
    if own is None:
        fail(path, f"record '{raw['id']}' names no index; give it one, or spec.index")
        return None
    for name, value in raw["metadata"].items():
        problem = metadata_problem(value)
        if problem:  # reported; the record still answers the expectations that name it
            fail((*path, "metadata", name), problem)
    namespace = canonical_namespace(raw.get("namespace", ""))
    return ExampleRecord(own, namespace, raw["id"], dict(raw["metadata"]), doc.at((*path, "id")))


def metadata_problem(value: object) -> str | None:
    """Why Pinecone would not store `value` as a metadata value, or None."""
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return None
        return "Pinecone stores lists of strings only"
    if value is None:
        return "Pinecone stores no null values; leave the field out"
    if isinstance(value, float) and not math.isfinite(value):
        return "Pinecone stores finite numbers only"
    if isinstance(value, str | bool | int | float):
        return None
    return "Pinecone metadata is flat: strings, numbers, booleans and lists of strings"


def _expectation(
    doc: Document,
    records: Mapping[tuple[str, str], ExampleRecord],
    raw: Mapping[str, Any],
    path: JsonPath,
    fail: Any,
) -> Expectation | None:
    matching = [
        r
        for (ns, rid), r in records.items()
        if rid == raw["id"]
        and ("namespace" not in raw or ns == canonical_namespace(raw["namespace"]))
    ]
    if not matching:
        fail((*path, "id"), f"no record '{raw['id']}' in spec.records")
        return None
    if len(matching) > 1:
        fail((*path, "id"), f"records in several namespaces are '{raw['id']}'; add namespace")
        return None
    deleted, by, kept_by = raw["deleted"], raw.get("by"), raw.get("keptBy")
    if deleted and kept_by is not None:
        fail((*path, "keptBy"), "a deleted record is kept by nothing; remove keptBy")
        return None
    if not deleted and by is not None:
        fail((*path, "by"), "a record that is not deleted is deleted by nothing; remove by")
        return None
    if kept_by is not None and not _KEPT_BY.match(kept_by):
        fail((*path, "keptBy"), "keptBy is protect, protect/POLICY, hold, hold/NAME or observe")
        return None
    return Expectation(matching[0], deleted, by, kept_by, doc.at(path))
