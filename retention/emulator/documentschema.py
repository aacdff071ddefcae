"""Document schemas (API 2026-07): what a document index declares at creation, and its echo.

A 2026-07 `schema` holding anything besides the reserved vector fields `_values` and
`_sparse_values` makes a document index (docs/pinecone-documents-api.md §1). Declarable fields
(§2, from the Go SDK v7's generated `CreateIndexSchema`): at most one `dense_vector`
(`dimension`, `metric`, `description`), at most one `sparse_vector` (`description` only) and
at most 100 `string` fields with `full_text_search`. Metadata types (`float`, `number`,
`boolean`, `string_list`, a `string` without search) are refused: metadata is indexed at
upsert. Names are 1-64 bytes, not `$...` nor `_...`; descriptions at most 256 bytes. The
empty-schema message is Pinecone's; the others are not published and name the rule.

Integrated embedding (`embed`, `sparse_embed`, `store_text`) needs a model, which the emulator
does not have: it refuses those, saying so. Describe echoes the schema with the server's
defaults filled in (`language` `en`, `stemming`/`stop_words` false, `store_text` true,
`description` null).
"""

from __future__ import annotations

from typing import Any

from retention.emulator.refusals import ApiError, bad_request

DENSE_TYPE = "dense_vector"
SPARSE_TYPE = "sparse_vector"
RESERVED_VECTOR_FIELDS = frozenset({"_values", "_sparse_values"})
MAX_FTS_FIELDS = 100
MAX_NAME_BYTES = 64
MAX_DESCRIPTION_BYTES = 256
MAX_NGRAM = 10
METRICS = ("cosine", "euclidean", "dotproduct")
METADATA_TYPES = ("float", "number", "boolean", "string_list")
EMPTY_SCHEMA = (
    "Schema must contain at least one of the following field types: dense_vector, "
    "sparse_vector, string with full_text_search"
)

Fields = dict[str, dict[str, Any]]


def is_document_schema(fields: dict[str, Any]) -> bool:
    """Any schema but one made only of `_values` / `_sparse_values` is a document schema."""
    return not fields or not set(fields) <= RESERVED_VECTOR_FIELDS


def check_document_schema(fields: dict[str, Any]) -> Fields:
    """The schema's fields as describe will echo them, or the 400 Pinecone answers."""
    if not fields:
        raise bad_request(EMPTY_SCHEMA)
    out: Fields = {}
    for name, field in fields.items():
        _check_name(name)
        if not isinstance(field, dict):
            raise bad_request(f"schema.fields.{name} must be an object")
        out[name] = _check_field(name, field)
    kinds = [f["type"] for f in out.values()]
    if kinds.count(DENSE_TYPE) > 1:
        raise bad_request("Schema may contain at most one dense_vector field")
    if kinds.count(SPARSE_TYPE) > 1:
        raise bad_request("Schema may contain at most one sparse_vector field")
    if kinds.count("string") > MAX_FTS_FIELDS:
        raise bad_request(
            f"Schema may contain at most {MAX_FTS_FIELDS} string fields with full_text_search"
        )
    return out


def _check_name(name: str) -> None:
    if not 1 <= len(name.encode()) <= MAX_NAME_BYTES:
        raise bad_request(f"Field name '{name}' must be 1 to {MAX_NAME_BYTES} bytes long")
    if name.startswith("$"):
        raise bad_request(f"Field name '{name}' must not start with '$'")
    if name.startswith("_"):
        raise bad_request(
            f"Field name '{name}' is reserved: names starting with '_' are reserved "
            "(_id, _values, _sparse_values)"
        )


def _check_field(name: str, field: dict[str, Any]) -> dict[str, Any]:
    kind = field.get("type")
    description = _description(name, field.get("description"))
    if kind == DENSE_TYPE:
        return _dense(name, field, description)
    if kind == SPARSE_TYPE:
        extra = sorted(set(field) - {"type", "description"})
        if extra:
            raise bad_request(f"sparse_vector field '{name}' does not take {', '.join(extra)}")
        return {"type": SPARSE_TYPE, "description": description}
    if kind == "string" and "full_text_search" in field:
        return _searchable_string(name, field, description)
    if kind == "integer":
        raise ApiError(422, f"schema.fields.{name}: unknown variant `integer`")
    if kind in METADATA_TYPES or kind == "string":
        raise bad_request(
            f"Field '{name}' of type {kind} cannot be declared: metadata fields are indexed "
            "automatically at upsert; declare dense_vector, sparse_vector or string with "
            "full_text_search"
        )
    raise bad_request(f"schema.fields.{name}.type {kind!r} is not supported")


def _description(name: str, raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise bad_request(f"schema.fields.{name}.description must be a string")
    if len(raw.encode()) > MAX_DESCRIPTION_BYTES:
        raise bad_request(
            f"schema.fields.{name}.description must be at most {MAX_DESCRIPTION_BYTES} bytes"
        )
    return raw


def _dense(name: str, field: dict[str, Any], description: str | None) -> dict[str, Any]:
    dimension, metric = field.get("dimension"), field.get("metric") or "cosine"
    if not isinstance(dimension, int) or isinstance(dimension, bool) or not 1 <= dimension <= 20000:
        raise bad_request(f"Dimension must be an integer between 1 and 20000, got {dimension!r}")
    if metric not in METRICS:
        raise bad_request(f"Metric must be one of cosine, euclidean or dotproduct, got {metric!r}")
    return {
        "type": DENSE_TYPE,
        "dimension": dimension,
        "metric": metric,
        "description": description,
    }


def _searchable_string(name: str, field: dict[str, Any], description: str | None) -> dict[str, Any]:
    if "filterable" in field:
        raise bad_request(
            f"Field '{name}' cannot be filterable: a field is either filtered or searched"
        )
    for option in ("embed", "sparse_embed", "store_text"):
        if option in field:
            raise bad_request(
                f"Field '{name}': {option} (integrated embedding) is not served by the emulator"
            )
    fts = field["full_text_search"]
    if not isinstance(fts, dict):
        raise bad_request(f"schema.fields.{name}.full_text_search must be an object")
    language = fts.get("language") or "en"
    if language not in ("en", "english"):
        raise bad_request(f"Field '{name}': language {language!r} is not supported")
    stemming, stop_words = fts.get("stemming", False), fts.get("stop_words", False)
    if not isinstance(stemming, bool) or not isinstance(stop_words, bool):
        raise bad_request(f"Field '{name}': stemming and stop_words must be booleans")
    if stop_words and not stemming:
        raise bad_request(f"Field '{name}': stop_words requires stemming")
    config: dict[str, Any] = {"language": "en", "stemming": stemming, "stop_words": stop_words}
    if fts.get("ngram") is not None:
        if stemming or stop_words:
            raise bad_request(f"Field '{name}': ngram cannot be combined with stemming/stop_words")
        config["ngram"] = _ngram(name, fts["ngram"])
    return {
        "type": "string",
        "full_text_search": config,
        "store_text": True,
        "description": description,
    }


def _ngram(name: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(f"Field '{name}': ngram must be an object")
    low, high, prefix = raw.get("min_gram"), raw.get("max_gram"), raw.get("prefix_only", False)
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high <= MAX_NGRAM):
        raise bad_request(
            f"Field '{name}': ngram needs integers 1 <= min_gram <= max_gram <= {MAX_NGRAM}"
        )
    if not isinstance(prefix, bool):
        raise bad_request(f"Field '{name}': ngram.prefix_only must be a boolean")
    return {"min_gram": low, "max_gram": high, "prefix_only": prefix}


def field_of_type(fields: Fields, kind: str) -> str | None:
    """The name of the (only) field of `kind`, if the schema has one."""
    return next((name for name, f in fields.items() if f.get("type") == kind), None)


def text_fields(fields: Fields) -> frozenset[str]:
    return frozenset(name for name, f in fields.items() if f.get("type") == "string")
