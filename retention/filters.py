"""Pinecone's metadata filter language as the client speaks it: parse, check, evaluate,
combine, negate, describe.

Policies must only say what Pinecone accepts, and the planner must reason about what a filter
deletes under every reading of the undocumented corners. The emulator has its own evaluator
(`retention.emulator.filtering`), written separately from the same facts; a differential test
keeps the two honest.

Semantics follow Pinecone's documented behaviour:

- Operators `$eq $ne $gt $gte $lt $lte $in $nin $exists`, logical `$and $or` at the top level;
  `{field: value}` is shorthand for `$eq`; several operators on one field are ANDed.
- Range operators compare numbers only; `$in`/`$nin` take strings and numbers (not booleans),
  at most 10,000 values.
- A list field (list of strings) matches `$eq`/`$in` when any element does.
- `$ne` does not match a record that lacks the field. What `$nin` does on a missing field, and
  what `$ne`/`$nin` do on list fields, is not documented; `Semantics` makes those switches so
  that the folding of protections below can be proven safe under every choice.
- Integers are stored as floats: `2` equals `2.0`; booleans are never numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeAlias, TypeGuard

from retention.identifiers import MAX_IN_VALUES

Scalar: TypeAlias = str | int | float | bool
MetaValue: TypeAlias = str | int | float | bool | list[str]
Metadata: TypeAlias = Mapping[str, MetaValue]
PathPart: TypeAlias = str | int

COMPARISON_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
RANGE_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
LOGICAL_OPERATORS = ("$and", "$or")
TEXT_OPERATORS = ("$match_phrase", "$match_all", "$match_any")

_SUPPORTED = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists (and $and, $or at the top level)"


@dataclass(frozen=True)
class Compare:
    """`{field: {op: value}}`; `value` is a tuple for `$in`/`$nin`, a bool for `$exists`."""

    field: str
    op: str
    value: Scalar | tuple[str | int | float, ...]


@dataclass(frozen=True)
class And:
    clauses: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    clauses: tuple[Filter, ...]


Filter: TypeAlias = Compare | And | Or


@dataclass(frozen=True)
class Problem:
    """One reason a filter is invalid; `path` leads from the filter's root to the culprit."""

    path: tuple[PathPart, ...]
    message: str


class FilterError(ValueError):
    """A filter Pinecone would reject (or that a policy must not use)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems[0].message if self.problems else "invalid filter")


@dataclass(frozen=True)
class Semantics:
    """The undocumented corners of Pinecone's evaluator, as switches.

    The defaults are the most likely behaviour; the planner never relies on them (see `negate`).
    """

    ne_matches_missing: bool = False
    nin_matches_missing: bool = True
    list_negation: Literal["none_equal", "any_differs"] = "none_equal"


DEFAULT_SEMANTICS = Semantics()


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Parser:
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: tuple[PathPart, ...], message: str) -> None:
        self.problems.append(Problem(path, message))

    def top(self, raw: object, path: tuple[PathPart, ...]) -> Filter | None:
        if isinstance(raw, list):
            self.fail(path, "a filter is a mapping of field names to conditions, not a list")
            return None
        if not isinstance(raw, Mapping):
            self.fail(path, f"a filter must be a mapping, got {_type_name(raw)}")
            return None
        if not raw:
            self.fail(path, "empty filter: it would match every record")
            return None
        clauses: list[Filter] = []
        for key, value in raw.items():
            sub = (*path, key)
            if not isinstance(key, str):
                self.fail(path, f"field names are strings, got {_type_name(key)} {key!r}")
            elif key in LOGICAL_OPERATORS:
                parsed = self.logical(key, value, sub)
                if parsed is not None:
                    clauses.append(parsed)
            elif key.startswith("$"):
                self.fail(sub, _operator_misplaced(key))
            elif key == "":
                self.fail(sub, "field name must not be empty")
            else:
                parsed = self.field(key, value, sub)
                if parsed is not None:
                    clauses.append(parsed)
        return and_(*clauses)

    def logical(self, op: str, value: object, path: tuple[PathPart, ...]) -> Filter | None:
        if not isinstance(value, list):
            self.fail(path, f"{op} takes a list of filters, got {_type_name(value)}")
            return None
        if not value:
            self.fail(path, f"{op} needs at least one filter")
            return None
        clauses = [self.top(item, (*path, i)) for i, item in enumerate(value)]
        parsed = [c for c in clauses if c is not None]
        if len(parsed) != len(clauses):
            return None
        return _join(And if op == "$and" else Or, parsed)

    def field(self, name: str, value: object, path: tuple[PathPart, ...]) -> Filter | None:
        if isinstance(value, Mapping):
            if not value:
                self.fail(path, f"the condition for field '{name}' is empty")
                return None
            plain = [k for k in value if not (isinstance(k, str) and k.startswith("$"))]
            if plain:
                self.fail(
                    path,
                    f"field '{name}' holds a nested mapping; Pinecone metadata is flat, so "
                    f"filter on a top-level field (for example '{name}_{plain[0]}') or use an "
                    f"operator such as {{$eq: ...}}",
                )
                return None
            clauses = [self.operator(name, op, arg, (*path, op)) for op, arg in value.items()]
            parsed = [c for c in clauses if c is not None]
            if len(parsed) != len(clauses):
                return None
            return _join(And, parsed)
        if isinstance(value, list):
            self.fail(
                path,
                f"a list is not a value for field '{name}': to match any of several values "
                f"write {{{name}: {{$in: [...]}}}}",
            )
            return None
        if value is None:
            self.fail(path, null_message(name))
            return None
        if _is_scalar(value):
            return Compare(name, "$eq", value)
        self.fail(path, f"field '{name}' has an unsupported value of type {_type_name(value)}")
        return None

    def operator(
        self, name: str, op: str, arg: object, path: tuple[PathPart, ...]
    ) -> Filter | None:
        if op in ("$eq", "$ne"):
            if isinstance(arg, list):
                alt = "$in" if op == "$eq" else "$nin"
                self.fail(path, f"{op} takes a single value; to compare with several use {alt}")
            elif arg is None:
                self.fail(path, null_message(name, op))
            elif isinstance(arg, Mapping):
                self.fail(path, f"{op} takes a string, number or boolean, got a mapping")
            elif _is_scalar(arg):
                return Compare(name, op, arg)
            else:
                self.fail(path, f"{op} takes a string, number or boolean, got {_type_name(arg)}")
            return None
        if op in RANGE_OPERATORS:
            if is_number(arg):
                return Compare(name, op, arg)
            hint = ""
            if isinstance(arg, str):
                hint = " (store times as epoch numbers to compare them)"
            self.fail(path, f"{op} compares numbers only, got {_describe_value(arg)}{hint}")
            return None
        if op in ("$in", "$nin"):
            return self.membership(name, op, arg, path)
        if op == "$exists":
            if isinstance(arg, bool):
                return Compare(name, op, arg)
            self.fail(path, f"$exists takes true or false, got {_describe_value(arg)}")
            return None
        if op in LOGICAL_OPERATORS:
            self.fail(path, f"{op} belongs at the top level of a filter, not under field '{name}'")
            return None
        if op in TEXT_OPERATORS:
            self.fail(path, f"full-text operator {op} is not allowed in a metadata filter here")
            return None
        self.fail(path, f"unknown operator {op}; Pinecone supports {_SUPPORTED}")
        return None

    def membership(
        self, name: str, op: str, arg: object, path: tuple[PathPart, ...]
    ) -> Filter | None:
        if not isinstance(arg, list):
            self.fail(path, f"{op} takes a list of values, got {_describe_value(arg)}")
            return None
        if len(arg) > MAX_IN_VALUES:
            self.fail(path, f"{op} takes at most {MAX_IN_VALUES:,} values, got {len(arg):,}")
            return None
        if not arg:
            what = "matches nothing" if op == "$in" else "excludes nothing"
            self.fail(path, f"{op} with an empty list {what}; give at least one value")
            return None
        ok = True
        for i, item in enumerate(arg):
            if isinstance(item, bool) or not (isinstance(item, str) or is_number(item)):
                self.fail(
                    (*path, i), f"{op} takes strings and numbers, got {_describe_value(item)}"
                )
                ok = False
        return Compare(name, op, tuple(arg)) if ok else None


def parse_filter(raw: object) -> Filter:
    """Parse a filter written in Pinecone's JSON form; raise `FilterError` with every problem.

    Besides what Pinecone refuses, this refuses what it accepts but is almost surely a mistake,
    such as `$in: []`, and `$not` (API 2026-07 only), which a policy never needs: the planner
    negates without it.
    """
    parser = _Parser()
    parsed = parser.top(raw, ())
    if parser.problems or parsed is None:
        raise FilterError(parser.problems or [Problem((), "invalid filter")])
    return parsed


# --------------------------------------------------------------------------------------------
# Building and serialising


def and_(*filters: Filter | None) -> Filter | None:
    """AND the given filters (None means "no condition"), flattening nested ANDs."""
    flat: list[Filter] = []
    for f in filters:
        if f is None:
            continue
        flat.extend(f.clauses if isinstance(f, And) else (f,))
    return _join(And, flat)


def or_(*filters: Filter) -> Filter:
    flat: list[Filter] = []
    for f in filters:
        flat.extend(f.clauses if isinstance(f, Or) else (f,))
    joined = _join(Or, flat)
    if joined is None:
        raise ValueError("or_ needs at least one filter")
    return joined


def to_json(f: Filter) -> dict[str, object]:
    """The filter in Pinecone's JSON form, one operator per field clause."""
    if isinstance(f, Compare):
        value = list(f.value) if isinstance(f.value, tuple) else f.value
        return {f.field: {f.op: value}}
    return {"$and" if isinstance(f, And) else "$or": [to_json(c) for c in f.clauses]}


def fields_of(f: Filter) -> frozenset[str]:
    """Every field the filter compares."""
    if isinstance(f, Compare):
        return frozenset({f.field})
    return frozenset().union(*(fields_of(c) for c in f.clauses))


def identity(f: Filter | None) -> str:
    """A filter as Pinecone tells filters apart: its JSON text. Trees compare as Python values,
    where `True == 1 == 1.0`; to Pinecone a boolean, an integer and a float differ, so compare
    and deduplicate filters by this instead ("" for no filter)."""
    return "" if f is None else json.dumps(to_json(f), sort_keys=True, ensure_ascii=True)


def is_tautology(f: Filter) -> bool:
    """True when the filter obviously matches every record (`x exists or x is missing`)."""
    if isinstance(f, And):
        return all(is_tautology(c) for c in f.clauses)
    if isinstance(f, Or):
        if any(is_tautology(c) for c in f.clauses):
            return True
        exists = {
            (c.field, c.value) for c in f.clauses if isinstance(c, Compare) and c.op == "$exists"
        }
        return any((name, not value) in exists for name, value in exists)
    return False


# --------------------------------------------------------------------------------------------
# Evaluation


Predicate: TypeAlias = Callable[[Metadata], bool]
_MISSING = object()


def compile_filter(f: Filter, semantics: Semantics = DEFAULT_SEMANTICS) -> Predicate:
    """The filter as a fast predicate over a record's metadata (the emulator scans with it)."""
    if isinstance(f, And):
        parts = [compile_filter(c, semantics) for c in f.clauses]
        return lambda m: all(p(m) for p in parts)
    if isinstance(f, Or):
        parts = [compile_filter(c, semantics) for c in f.clauses]
        return lambda m: any(p(m) for p in parts)
    return _compile_compare(f, semantics)


def _compile_compare(c: Compare, sem: Semantics) -> Predicate:
    name, op, value = c.field, c.op, c.value
    if op == "$exists":
        return lambda m: (name in m) is value
    if op in ("$eq", "$ne", "$in", "$nin"):
        values = value if isinstance(value, tuple) else (value,)
        strings = frozenset(v for v in values if isinstance(v, str))
        numbers = frozenset(float(v) for v in values if is_number(v))
        bools = frozenset(v for v in values if isinstance(v, bool))

        def contains(x: object) -> bool:
            if isinstance(x, bool):
                return x in bools
            if isinstance(x, str):
                return x in strings
            if isinstance(x, int | float):
                return float(x) in numbers
            return False

        if op in ("$eq", "$in"):

            def positive(m: Metadata) -> bool:
                x = m.get(name, _MISSING)
                if isinstance(x, list):
                    return any(e in strings for e in x)
                return contains(x)

            return positive

        missing = sem.ne_matches_missing if op == "$ne" else sem.nin_matches_missing
        any_differs = sem.list_negation == "any_differs"

        def negative(m: Metadata) -> bool:
            x = m.get(name, _MISSING)
            if x is _MISSING:
                return missing
            if isinstance(x, list):
                if any_differs:
                    return any(e not in strings for e in x)
                return not any(e in strings for e in x)
            return not contains(x)

        return negative

    bound = _bound(value)
    compare: Callable[[float, float], bool] = {
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
    }[op]

    def ranged(m: Metadata) -> bool:
        x = m.get(name, _MISSING)
        return is_number(x) and compare(float(x), bound)

    return ranged


# --------------------------------------------------------------------------------------------
# Negation and folding protections into a rule


@dataclass(frozen=True)
class Negation:
    """A filter that matches no record the original matches, in Pinecone's language.

    `exact`: it also matches every record the original does not (else it spares a few more,
    for instance records whose field holds a string where a number was compared).
    `string_fields`: fields compared with strings through `$ne`/`$nin`. On a *list* field those
    operators are undocumented, so the result is only proven safe where those fields are
    scalar; the planner checks that against Pinecone's own counts before it relies on it.
    """

    filter: Filter
    exact: bool
    string_fields: frozenset[str]


def negate(f: Filter) -> Negation:
    """NOT f, without `$not`, safe whatever Pinecone does with `$ne` or `$nin` on a missing
    field (on scalar fields; `string_fields` names those where lists would matter)."""
    if isinstance(f, And):
        parts = [negate(c) for c in f.clauses]
        return Negation(
            or_(*(p.filter for p in parts)),
            all(p.exact for p in parts),
            frozenset().union(*(p.string_fields for p in parts)),
        )
    if isinstance(f, Or):
        parts = [negate(c) for c in f.clauses]
        combined = and_(*(p.filter for p in parts))
        assert combined is not None
        return Negation(
            combined,
            all(p.exact for p in parts),
            frozenset().union(*(p.string_fields for p in parts)),
        )
    name, op, value = f.field, f.op, f.value
    missing = Compare(name, "$exists", False)
    present = Compare(name, "$exists", True)
    strings = frozenset({name}) if _has_string(value) else frozenset()
    if op == "$exists":
        return Negation(Compare(name, "$exists", not value), True, frozenset())
    if op == "$eq":
        # `$ne` never matches a record without the field, so say "missing" explicitly.
        return Negation(or_(missing, Compare(name, "$ne", value)), True, strings)
    if op == "$ne":
        # Whether `$ne` protects a record that lacks the field is undocumented (it has changed
        # before): spare such records rather than depend on a reading of the server.
        return Negation(Compare(name, "$eq", value), False, strings)
    if op == "$in":
        # `$nin` on a missing field is undocumented: require the field and add "missing".
        nin = and_(present, Compare(name, "$nin", value))
        assert nin is not None
        return Negation(or_(missing, nin), True, strings)
    if op == "$nin":
        # Whether `$nin` protects missing records is undocumented: assume it does.
        return Negation(Compare(name, "$in", value), False, strings)
    opposite = {"$gt": "$lte", "$gte": "$lt", "$lt": "$gte", "$lte": "$gt"}[op]
    # Records whose field is not a number match neither side: they are spared.
    return Negation(or_(missing, Compare(name, opposite, value)), False, frozenset())


@dataclass(frozen=True)
class Folded:
    """A rule's condition with protections folded in: what a filtered delete may send."""

    filter: Filter | None
    exact: bool
    string_fields: frozenset[str]


def exclude(condition: Filter | None, protections: Iterable[Filter]) -> Folded:
    """`condition AND NOT p1 AND NOT p2 ...`; None as condition means every record."""
    negations = [negate(p) for p in protections]
    return Folded(
        and_(condition, *(n.filter for n in negations)),
        all(n.exact for n in negations),
        frozenset().union(*(n.string_fields for n in negations)),
    )


# --------------------------------------------------------------------------------------------
# Describing


def describe(f: Filter, time_fields: Mapping[str, str] | None = None) -> str:
    """A short condition for people: `created_at < 2026-08-26T03:00:00Z and genre == "doc"`.

    `time_fields` maps a field holding epoch numbers to its unit (`s` or `ms`).
    """
    times = time_fields or {}
    return _describe(f, times, top=True)


def _describe(f: Filter, times: Mapping[str, str], top: bool) -> str:
    if isinstance(f, Compare):
        return _describe_compare(f, times)
    word = " and " if isinstance(f, And) else " or "
    text = word.join(_describe(c, times, False) for c in f.clauses)
    return text if top or len(f.clauses) == 1 else f"({text})"


_SYMBOLS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _describe_compare(c: Compare, times: Mapping[str, str]) -> str:
    if c.op == "$exists":
        return f"{c.field} exists" if c.value else f"{c.field} is missing"
    if isinstance(c.value, tuple):
        shown = ", ".join(_literal(v, c.field, times) for v in c.value[:5])
        if len(c.value) > 5:
            shown += f", … {len(c.value) - 5:,} more"
        word = "in" if c.op == "$in" else "not in"
        return f"{c.field} {word} [{shown}]"
    return f"{c.field} {_SYMBOLS[c.op]} {_literal(c.value, c.field, times)}"


def _literal(value: Scalar, name: str, times: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name in times:
        return format_epoch(float(value), times[name])
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def format_epoch(value: float, unit: str) -> str:
    """An epoch number in seconds or milliseconds as an ISO 8601 UTC time."""
    seconds = value / 1000 if unit == "ms" else value
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return repr(value)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Helpers


def _join(kind: type[And] | type[Or], clauses: Sequence[Filter]) -> Filter | None:
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return kind(tuple(clauses))


def is_number(value: object) -> TypeGuard[int | float]:
    """A finite int or float (not a bool) that a 64-bit float can hold, as Pinecone stores it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range, such as 10**400 from JSON
        return False


def _bound(value: object) -> float:
    """A range operator's number (the parser accepts no other)."""
    if not is_number(value):
        raise ValueError(f"a range compares numbers, got {value!r}")
    return float(value)


def _is_scalar(value: object) -> TypeGuard[Scalar]:
    return isinstance(value, str | bool) or is_number(value)


def _has_string(value: object) -> bool:
    if isinstance(value, tuple):
        return any(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def _describe_value(value: object) -> str:
    if isinstance(value, str):
        return f"string '{value}'" if len(value) <= 40 else "a string"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if value is None:
        return "null"
    if is_number(value):
        return f"number {value}"
    return _type_name(value)


def null_message(name: str, op: str = "$eq") -> str:
    """Pinecone has no null: say what the author most likely meant, for the operator used."""
    if op in ("$ne", "$nin"):
        return (
            f"null is not a metadata value; to match records that have field '{name}' write "
            f"{{{name}: {{$exists: true}}}}"
        )
    return (
        f"null is not a metadata value; to match records without field '{name}' write "
        f"{{{name}: {{$exists: false}}}}"
    )


def _operator_misplaced(key: str) -> str:
    if key in COMPARISON_OPERATORS or key == "$not":
        return f"operator {key} must be nested under a field, as in {{field: {{{key}: ...}}}}"
    if key in TEXT_OPERATORS:
        return f"full-text operator {key} is not allowed in a metadata filter here"
    return f"unknown operator {key}; Pinecone supports {_SUPPORTED}"


# --------------------------------------------------------------------------------------------
# Client-side decisions that must hold whatever Pinecone does in its undocumented corners

SEMANTICS_VARIANTS = tuple(
    Semantics(ne_matches_missing=ne, nin_matches_missing=nin, list_negation=lists)
    for ne in (False, True)
    for nin in (True, False)
    for lists in ("none_equal", "any_differs")
)
"""Every combination of the undocumented corners: the emulator can be set to any of them, and a
client-side decision must hold under each."""


def _variants(f: Filter) -> tuple[Semantics, ...]:
    """The readings that can change what `f` matches: only `$ne`/`$nin` depend on them."""
    ops = _operators(f)
    if not ops & {"$ne", "$nin"}:
        return (DEFAULT_SEMANTICS,)
    return tuple(
        s
        for s in SEMANTICS_VARIANTS
        if ("$ne" in ops or not s.ne_matches_missing)
        and ("$nin" in ops or s.nin_matches_missing == DEFAULT_SEMANTICS.nin_matches_missing)
    )


def _operators(f: Filter) -> frozenset[str]:
    if isinstance(f, Compare):
        return frozenset({f.op})
    return frozenset().union(*(_operators(c) for c in f.clauses))


def surely(f: Filter) -> Predicate:
    """A predicate true only when a record matches under every plausible reading of the
    filter: use it to decide what to delete."""
    variants = [compile_filter(f, s) for s in _variants(f)]
    if len(variants) == 1:
        return variants[0]
    return lambda m: all(p(m) for p in variants)


def possibly(f: Filter) -> Predicate:
    """A predicate true when a record matches under any plausible reading: use it to decide
    what to protect."""
    variants = [compile_filter(f, s) for s in _variants(f)]
    if len(variants) == 1:
        return variants[0]
    return lambda m: any(p(m) for p in variants)


# --------------------------------------------------------------------------------------------
# Filters that cannot both hold


def disjoint(a: Filter, b: Filter) -> bool:
    """Whether no record can match both `a` and `b`, under every reading of Pinecone's filters.

    Only what holds whatever the undocumented corners say is used: numbers are never list
    elements (metadata lists hold strings), so a field constrained to numbers in both filters
    has one value, which must fall in both ranges; and `$exists: false` excludes any other
    constraint on the field. String values are left alone: a list field can hold both of two
    different strings. False means "may overlap", never "do overlap".
    """
    mine, theirs = conjuncts(a), conjuncts(b)
    if mine is None or theirs is None:
        return False
    for name in {c.field for c in mine} & {c.field for c in theirs}:
        on_field = [c for c in (*mine, *theirs) if c.field == name]
        absent = any(c.op == "$exists" and c.value is False for c in on_field)
        present = any(_needs_field(c) for c in on_field)
        if absent and present:
            return True
        if not _numbers_meet(
            [c for c in mine if c.field == name], [c for c in theirs if c.field == name]
        ):
            return True
    return False


def _needs_field(c: Compare) -> bool:
    """Whether `c` can only match a record that has the field (`$ne`/`$nin` may not)."""
    return c.op in ("$eq", "$in", "$gt", "$gte", "$lt", "$lte") or (
        c.op == "$exists" and c.value is True
    )


def conjuncts(f: Filter) -> tuple[Compare, ...] | None:
    """The field clauses of a filter that is one clause or an AND of them, else None."""
    if isinstance(f, Compare):
        return (f,)
    if isinstance(f, And) and all(isinstance(c, Compare) for c in f.clauses):
        return tuple(c for c in f.clauses if isinstance(c, Compare))
    return None


def _numbers_meet(a: Sequence[Compare], b: Sequence[Compare]) -> bool:
    """Whether one number can satisfy the numeric constraints of both sides (True when either
    side constrains the field other than to numbers)."""
    low, high = -math.inf, math.inf
    low_open = high_open = False
    points: set[float] | None = None
    for c in (*a, *b):
        if c.op in ("$gt", "$gte"):
            bound = _bound(c.value)
            if bound > low or (bound == low and c.op == "$gt"):
                low, low_open = bound, c.op == "$gt"
        elif c.op in ("$lt", "$lte"):
            bound = _bound(c.value)
            if bound < high or (bound == high and c.op == "$lt"):
                high, high_open = bound, c.op == "$lt"
        elif c.op in ("$eq", "$in"):
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            if not all(is_number(v) for v in values):
                return True
            found = {float(v) for v in values}
            points = found if points is None else points & found
        else:
            return True
    if points is not None:
        return any(_inside(p, low, low_open, high, high_open) for p in points)
    if low < high:
        return True
    return low == high and not low_open and not high_open


def _inside(p: float, low: float, low_open: bool, high: float, high_open: bool) -> bool:
    above = p > low or (p == low and not low_open)
    below = p < high or (p == high and not high_open)
    return above and below
