"""The emulator's own reading of Pinecone's metadata filters, from shared/pinecone/FACTS.md §1.

This module deliberately shares nothing with `retention.filters`, the client's filter language:
the emulator stands in for Pinecone's server, so a misreading in the client must show up as a
disagreement with the emulator, not pass everywhere at once. A differential test compares the
two under every reading of the undocumented corners (`Readings`).

What Pinecone documents, and this module does:

- `$eq $ne $gt $gte $lt $lte $in $nin $exists` under a field, `$and`/`$or` lists of filters at
  the top level, `{field: value}` as `$eq`, several operators on one field ANDed.
- Range operators take and compare numbers only; `$in`/`$nin` take strings and numbers, at
  most 10,000 of them; `$exists` takes a boolean. Numbers compare as 64-bit floats.
- A list field (of strings) matches `$eq`/`$in` when any element does.
- `$ne` does not match a record without the field.
- `$not` under a field from API version 2026-07 on (older versions refuse it).
- On a document index (`DocumentFields`): `$match_phrase`, `$match_all`, `$match_any` on
  full-text search fields only, comparison operators on metadata fields only (the schema's
  fields refuse them), and no text match where the route refuses it (delete, update).

Rejections are 400s worded as Pinecone's own where they are known (`illegal condition for
field …`); they carry no advice, because Pinecone's do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from retention.emulator.records import is_number
from retention.emulator.refusals import bad_request
from retention.identifiers import MAX_IN_VALUES

Fields = Mapping[str, object]
Match = Callable[[Fields], bool]

_ABSENT = object()


@dataclass(frozen=True)
class Readings:
    """How the emulator answers where Pinecone's documentation is silent.

    Each is a switch so that a test can state which answer it depends on, and our safety can
    be checked under every one of them.
    """

    ne_on_missing: bool = False
    """Whether `$ne` matches a record without the field (it did before March 2024)."""
    nin_on_missing: bool = True
    """Whether `$nin` matches a record without the field (a weak hint says it does)."""
    negation_on_lists: Literal["none_equal", "any_differs"] = "none_equal"
    """What `$ne`/`$nin` mean on a list field: no element equal, or some element different."""


DEFAULT_READINGS = Readings()
EVERY_READING = tuple(
    Readings(ne, nin, lists)
    for ne in (False, True)
    for nin in (True, False)
    for lists in ("none_equal", "any_differs")
)


@dataclass(frozen=True)
class DocumentFields:
    """What a filter on a document index must know of its schema (API 2026-07).

    `data` are the schema's fields (vectors and searchable strings): comparison operators on
    them are refused. `text` are the searchable (`full_text_search`) strings: the only fields
    `$match_*` takes. `text_refusal`, when set, is the 400 for any `$match_*` (a delete or an
    update takes none)."""

    data: frozenset[str]
    text: frozenset[str]
    text_refusal: str | None = None


def compile_request_filter(
    raw: object, readings: Readings, *, with_not: bool, document: DocumentFields | None = None
) -> Match:
    """A request's `filter` as a predicate over a record's metadata; a 400 when Pinecone would
    refuse it. The caller refuses an empty filter with the route's own wording first."""
    if isinstance(raw, list):
        raise bad_request("Proto field is not repeating, cannot start list")
    return _Compiler(readings, with_not, document).filter(raw)


@dataclass(frozen=True)
class _Compiler:
    readings: Readings
    with_not: bool
    document: DocumentFields | None = None

    def filter(self, raw: object) -> Match:
        if not isinstance(raw, dict) or not raw:
            raise bad_request(f"illegal filter, got {_shown(raw)}")
        parts = [self.entry(key, value) for key, value in raw.items()]
        return _all(parts)

    def entry(self, key: str, value: object) -> Match:
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise bad_request(f"illegal condition for field {key}, got {_shown(value)}")
            parts = [self.filter(item) for item in value]
            return _all(parts) if key == "$and" else _any(parts)
        if key.startswith("$"):
            raise bad_request(f"illegal condition for field {key}: unsupported operator")
        if isinstance(value, dict):
            if not value or any(not op.startswith("$") for op in value):
                raise bad_request(f"illegal condition for field {key}, got {_shown(value)}")
            return _all([self.operator(key, op, arg) for op, arg in value.items()])
        return self.operator(key, "$eq", value)

    def operator(self, name: str, op: str, arg: object) -> Match:
        build = _OPERATORS.get(op)
        if op == "$not" and self.with_not:
            if not isinstance(arg, dict) or not arg:
                raise bad_request(f"illegal condition for field {name}, got {_shown(arg)}")
            inner = self.entry(name, arg)
            return lambda m: not inner(m)
        if op in TEXT_MATCH and self.document is not None:
            return self.text_match(name, op, arg, self.document)
        if build is None:
            raise bad_request(f"illegal condition for field {name}: unsupported operator")
        if self.document is not None and name in self.document.data:
            raise bad_request(
                f"illegal condition for field {name}: {op} is not supported on a schema field "
                "(vector or full-text search field); filter on metadata fields"
            )
        made = build(name, arg, self.readings)
        if made is None:
            raise bad_request(f"illegal condition for field {name}, got {_shown({op: arg})}")
        return made

    def text_match(self, name: str, op: str, arg: object, document: DocumentFields) -> Match:
        if document.text_refusal is not None:
            raise bad_request(document.text_refusal)
        if name not in document.text:
            raise bad_request(
                f"illegal condition for field {name}: {op} needs a string field with "
                "full_text_search"
            )
        if not isinstance(arg, str) or not tokens(arg):
            raise bad_request(f"illegal condition for field {name}, got {_shown({op: arg})}")
        wanted = tokens(arg)
        test = _TEXT_TESTS[op]
        return lambda m: isinstance(m.get(name), str) and test(tokens(str(m[name])), wanted)


TEXT_MATCH = ("$match_phrase", "$match_all", "$match_any")
"""Text-match operators (API 2026-07, document indexes, full-text search fields only)."""


def tokens(text: str) -> list[str]:
    """Words as the emulator tokenizes text: lower-cased runs of letters and digits (no stemming,
    stop words or n-grams, whatever the field's configuration says)."""
    return re.findall(r"\w+", text.lower())


def _phrase(have: list[str], wanted: list[str]) -> bool:
    n = len(wanted)
    return any(have[i : i + n] == wanted for i in range(len(have) - n + 1))


_TEXT_TESTS: dict[str, Callable[[list[str], list[str]], bool]] = {
    "$match_phrase": _phrase,
    "$match_all": lambda have, wanted: set(wanted) <= set(have),
    "$match_any": lambda have, wanted: bool(set(wanted) & set(have)),
}


# -- one builder per operator; None means the argument is not one Pinecone takes


def _equal(name: str, arg: object, readings: Readings) -> Match | None:
    key = _scalar_key(arg)
    if key is None:
        return None

    def match(m: Fields) -> bool:
        value = m.get(name, _ABSENT)
        if isinstance(value, list):
            return arg in value if isinstance(arg, str) else False
        return _scalar_key(value) == key

    return match


def _not_equal(name: str, arg: object, readings: Readings) -> Match | None:
    key = _scalar_key(arg)
    if key is None:
        return None
    return _negative(name, frozenset({key}), readings.ne_on_missing, readings)


def _member(name: str, arg: object, readings: Readings) -> Match | None:
    keys = _list_keys(arg)
    if keys is None:
        return None

    def match(m: Fields) -> bool:
        value = m.get(name, _ABSENT)
        if isinstance(value, list):
            return any(("s", e) in keys for e in value)
        return _scalar_key(value) in keys

    return match


def _not_member(name: str, arg: object, readings: Readings) -> Match | None:
    keys = _list_keys(arg)
    if keys is None:
        return None
    return _negative(name, keys, readings.nin_on_missing, readings)


def _negative(
    name: str, keys: frozenset[tuple[str, object]], on_missing: bool, readings: Readings
) -> Match:
    some_differ = readings.negation_on_lists == "any_differs"

    def match(m: Fields) -> bool:
        value = m.get(name, _ABSENT)
        if value is _ABSENT:
            return on_missing
        if isinstance(value, list):
            inside = [("s", e) in keys for e in value]
            return not all(inside) if some_differ else not any(inside)
        return _scalar_key(value) not in keys

    return match


def _ranged(compare: Callable[[float, float], bool]) -> Callable[..., Match | None]:
    def build(name: str, arg: object, readings: Readings) -> Match | None:
        if not is_number(arg):
            return None
        bound = float(arg)

        def match(m: Fields) -> bool:
            value = m.get(name, _ABSENT)
            return is_number(value) and compare(float(value), bound)

        return match

    return build


def _exists(name: str, arg: object, readings: Readings) -> Match | None:
    if not isinstance(arg, bool):
        return None
    return lambda m: (name in m) is arg


_OPERATORS: dict[str, Callable[[str, object, Readings], Match | None]] = {
    "$eq": _equal,
    "$ne": _not_equal,
    "$in": _member,
    "$nin": _not_member,
    "$gt": _ranged(lambda a, b: a > b),
    "$gte": _ranged(lambda a, b: a >= b),
    "$lt": _ranged(lambda a, b: a < b),
    "$lte": _ranged(lambda a, b: a <= b),
    "$exists": _exists,
}


# -- values


def _scalar_key(value: object) -> tuple[str, object] | None:
    """A value as Pinecone compares it: booleans, numbers (as floats) and strings apart."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    if is_number(value):
        return ("n", float(value))
    return None


def _list_keys(arg: object) -> frozenset[tuple[str, object]] | None:
    if not isinstance(arg, list):
        return None
    if len(arg) > MAX_IN_VALUES:
        raise bad_request(
            f"the number of values ({len(arg)}) exceeds the maximum of {MAX_IN_VALUES}"
        )
    keys = [_scalar_key(v) for v in arg]
    if any(k is None or k[0] == "b" for k in keys):
        return None
    return frozenset(k for k in keys if k is not None)


def _all(parts: list[Match]) -> Match:
    if len(parts) == 1:
        return parts[0]
    return lambda m: all(p(m) for p in parts)


def _any(parts: list[Match]) -> Match:
    if len(parts) == 1:
        return parts[0]
    return lambda m: any(p(m) for p in parts)


def _shown(value: object) -> str:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
