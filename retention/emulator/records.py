"""Records and the rules Pinecone applies to them on the way in.

Metadata is flat: strings, numbers, booleans and lists of strings, no null, keys not starting
with `$`, at most 40 KB per record. Numbers are stored as 64-bit floats, so an integer comes
back as `2.0`, as it does from Pinecone. The wording of these rejections is not published;
the messages name the field and the rule so that a user can fix the record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from retention.emulator.refusals import bad_request
from retention.identifiers import MAX_ID_LENGTH

MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT_RECORDS = 1000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_SPARSE_VALUES = 1000
"""Non-zero values per sparse vector (DOC:guides/index-data/upsert-data, "Upsert limits")."""
MAX_SPARSE_INDEX = 2**32 - 1
"""Sparse dimensionality is "4.2 billion" (same page): indices are unsigned 32-bit."""

MetaValue = str | int | float | bool | list[str]
Metadata = dict[str, MetaValue]


@dataclass(slots=True)
class StoredRecord:
    """One stored vector: dense values, optional sparse values, flat metadata."""

    values: list[float]
    sparse: dict[str, list[Any]] | None
    metadata: Metadata

    def copy(self) -> StoredRecord:
        """A copy sharing no list or dict with this record (for backups' snapshots)."""
        sparse = None if self.sparse is None else {k: list(v) for k, v in self.sparse.items()}
        metadata: Metadata = {
            k: list(v) if isinstance(v, list) else v for k, v in self.metadata.items()
        }
        return StoredRecord(list(self.values), sparse, metadata)

    def to_json(self, rid: str, *, values: bool = True, metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rid}
        if values:
            out["values"] = self.values
        if self.sparse is not None and values:
            out["sparseValues"] = self.sparse
        if metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


def check_id(rid: object, what: str = "ID") -> str:
    if not isinstance(rid, str):
        raise bad_request(f"{what} must be a string, got {type(rid).__name__}")
    if not 1 <= len(rid) <= MAX_ID_LENGTH:
        raise bad_request(f"{what} must be 1 to {MAX_ID_LENGTH} characters long, got {len(rid)}")
    if not rid.isascii() or "\0" in rid:
        raise bad_request(f"{what} must be ASCII without NUL characters: {rid[:64]!r}")
    return rid


def check_values(raw: object, dimension: int) -> list[float]:
    if not isinstance(raw, list) or not all(is_number(v) for v in raw):
        raise bad_request("Vector values must be a list of numbers")
    if len(raw) != dimension:
        raise bad_request(
            f"Vector dimension {len(raw)} does not match the dimension of the index {dimension}"
        )
    return [float(v) for v in raw]


def check_sparse(raw: object) -> dict[str, list[Any]] | None:
    """Sparse values as Pinecone takes them: `indices` and `values` of one length, at most
    1,000 pairs, indices unique, non-negative and below 2^32. None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise bad_request("sparseValues must be an object with indices and values")
    indices, values = raw.get("indices"), raw.get("values")
    if not isinstance(indices, list) or not isinstance(values, list):
        raise bad_request("sparseValues needs the lists indices and values")
    if len(indices) != len(values):
        raise bad_request(
            f"Sparse vector indices and values must have the same length, got {len(indices)} "
            f"indices and {len(values)} values"
        )
    if len(indices) > MAX_SPARSE_VALUES:
        raise bad_request(
            f"Sparse vector has {len(indices)} non-zero values, more than the maximum of "
            f"{MAX_SPARSE_VALUES}"
        )
    if not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_SPARSE_INDEX
        for i in indices
    ):
        raise bad_request(
            f"Sparse vector indices must be integers between 0 and {MAX_SPARSE_INDEX}"
        )
    if len(set(indices)) != len(indices):
        raise bad_request("Sparse vector indices must be unique")
    if not all(is_number(v) for v in values):
        raise bad_request("sparseValues values must be numbers")
    return {"indices": list(indices), "values": [float(v) for v in values]}


def check_metadata(raw: object) -> Metadata:
    """Flat metadata as Pinecone stores it; raises `ApiError` 400 on what Pinecone refuses."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise bad_request("Metadata must be a JSON object")
    out: Metadata = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise bad_request("Metadata keys must be non-empty strings")
        if key.startswith("$"):
            raise bad_request(f"Metadata key '{key}' must not start with '$'")
        if value is None:
            raise bad_request(
                f"Metadata value for field '{key}' is null: null is not supported; "
                f"remove the key instead"
            )
        if isinstance(value, bool | str):
            out[key] = value
        elif is_number(value):
            out[key] = float(value)
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise bad_request(
                    f"Metadata value for field '{key}' must be a list of strings; "
                    f"lists of other types are not supported"
                )
            out[key] = list(value)
        elif isinstance(value, Mapping):
            raise bad_request(f"Metadata value for field '{key}' is an object: metadata is flat")
        else:
            raise bad_request(f"Metadata value for field '{key}' has an unsupported type")
    size = len(json.dumps(out, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise bad_request(
            f"Metadata size is {size} bytes, which exceeds the limit of "
            f"{MAX_METADATA_BYTES} bytes per vector"
        )
    return out


def parse_vectors(raw: object, dimension: int | None) -> dict[str, StoredRecord]:
    """The `vectors` of an upsert request, validated; later duplicates win, as in Pinecone.

    `dimension` None means a sparse index: each record carries non-empty `sparseValues` and no
    dense values (`values` absent or `[]`, which is what clients send for a sparse record).
    """
    if not isinstance(raw, list) or not raw:
        raise bad_request("Upsert needs a non-empty list of vectors")
    if len(raw) > MAX_UPSERT_RECORDS:
        raise bad_request(
            f"Number of provided vectors: {len(raw)} exceeds the maximum amount per request: "
            f"{MAX_UPSERT_RECORDS}"
        )
    out: dict[str, StoredRecord] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            raise bad_request("Each vector must be an object with an id")
        rid = check_id(item.get("id"), "Vector ID")
        sparse = check_sparse(_pick(item, "sparseValues", "sparse_values"))
        raw_values = item.get("values")
        if dimension is None:
            values = sparse_record_values(rid, raw_values, sparse)
        elif raw_values is None or (raw_values == [] and sparse is not None):
            if sparse is None:
                raise bad_request(f"Vector {rid} has no values")
            raise bad_request("Sparse-only vectors need a sparse index, this index is dense")
        else:
            values = check_values(raw_values, dimension)
        out[rid] = StoredRecord(values, sparse, check_metadata(item.get("metadata")))
    return out


def sparse_record_values(
    rid: str, raw_values: object, sparse: dict[str, list[Any]] | None
) -> list[float]:
    """The (empty) dense values of a record for a sparse index, or Pinecone's 400."""
    if raw_values not in (None, []):
        raise bad_request(
            f"Vector {rid} has dense values, but this index is sparse: send sparseValues only"
        )
    if sparse is None or not sparse["indices"]:
        raise bad_request(f"Vector {rid} needs non-empty sparseValues in a sparse index")
    return []


def _pick(body: Mapping[str, Any], camel: str, snake: str) -> Any:
    return body[camel] if camel in body else body.get(snake)


def is_number(value: object) -> TypeGuard[int | float]:
    """A finite int or float that a 64-bit float can hold (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range, such as 10**400 from JSON
        return False
