"""Schema-valid policy data -> model, with the checks JSON Schema cannot express.

Each check guards against a deletion nobody meant: a rule without a condition, a TTL field also
constrained so that it can never match, a destructive rule over every namespace, an ID file that
does not say what the author thinks it says, a filter value that another YAML reader (or the
author) takes for something else: unquoted `yes` (a boolean in YAML 1.1, a string here), `012`
(octal in YAML 1.1), NaN, or a whole number too large for Pinecone's 64-bit floats.

An ID file must be a regular file inside the directory of the policy file that names it (the
policy tree of that file): a relative path, no `..` out of it, no symlink resolving out of it,
and at most 1 GiB. Error messages quote lines of ID files, so a policy must never be able to
make them quote a file from elsewhere.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import time, timedelta
from typing import Any

from retention.errors import Location, PolicyError
from retention.filters import (
    And,
    Compare,
    Filter,
    FilterError,
    is_tautology,
    null_message,
    parse_filter,
)
from retention.identifiers import MAX_ID_LENGTH
from retention.policy.durations import check_schedule, parse_duration
from retention.policy.idfile import MAX_BYTES, NotReadable, lines, open_regular
from retention.policy.model import (
    DropNamespaces,
    EmptyNamespaces,
    Guards,
    IdList,
    IdsFile,
    IdsFromFile,
    IdsWithPrefix,
    LegalHold,
    Matching,
    NamespaceSelector,
    Policy,
    Rule,
    Selector,
    Ttl,
)
from retention.policy.windows import (
    DAY_NAMES,
    MAX_WINDOW,
    CronWindow,
    WeeklyWindow,
    Window,
    Windows,
    check_cron,
    check_zone,
)
from retention.policy.yamlsource import Document, JsonPath, render_path

_MAX_FILE_ERRORS = 20
MAX_EXACT_INTEGER = 2**53
"""Pinecone stores numbers as 64-bit floats, which hold every whole number up to this."""
_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})
_PLAIN_INTEGER = re.compile(r"^[-+]?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$")


class _Checker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.errors: list[PolicyError] = []
        self.ids_digests: list[str] = []

    def fail(self, path: JsonPath, message: str, *, key: bool = False) -> None:
        where = render_path(path)
        self.errors.append(PolicyError(self.doc.at(path, key=key), f"{where}: {message}"))

    def filter(self, raw: object, path: JsonPath) -> Filter | None:
        reported = {p for p, value, name in _filter_values(raw, path) if self.value(p, value, name)}
        try:
            parsed = parse_filter(raw)
        except FilterError as exc:
            for problem in exc.problems:
                sub = (*path, *problem.path)
                if sub not in reported:
                    self.fail(sub, problem.message)
            return None
        return None if reported else parsed

    def value(self, path: JsonPath, value: object, name: str) -> bool:
        """Report a filter value that does not say what it seems to; True if reported."""
        op = path[-1] if isinstance(path[-1], str) or len(path) < 2 else path[-2]
        problem = _value_problem(value, self.doc.plain.get(path), name, op)
        if problem:
            self.fail(path, problem)
        return problem is not None

    def namespaces(self, raw: Mapping[str, Any], path: JsonPath) -> NamespaceSelector:
        for group in ("include", "exclude"):
            for i, pattern in enumerate(raw.get(group, [])):
                problem = _pattern_problem(pattern)
                if problem:
                    self.fail((*path, group, i), problem)
        return NamespaceSelector(tuple(raw["include"]), tuple(raw.get("exclude", [])))


def build_document(doc: Document) -> tuple[Policy | LegalHold | None, list[PolicyError], list[str]]:
    """The model for one schema-valid document, the errors found, and digests of ID files."""
    check = _Checker(doc)
    data = doc.data
    spec = data["spec"]
    namespaces = check.namespaces(spec["namespaces"], ("spec", "namespaces"))
    protect = tuple(
        f
        for i, raw in enumerate(spec.get("protect", []))
        if (f := check.filter(raw, ("spec", "protect", i))) is not None
    )
    name = data["metadata"]["name"]
    location = doc.at(("metadata", "name"))
    item: Policy | LegalHold
    if data["kind"] == "LegalHold":
        item = LegalHold(
            name=name,
            index=qualified_index(spec["index"], spec.get("project")),
            project=spec.get("project"),
            namespaces=namespaces,
            protect=protect,
            location=location,
            description=spec.get("description"),
        )
    else:
        item = _policy(check, data, namespaces, protect)
    return (None if check.errors else item), check.errors, check.ids_digests


def qualified_index(index: str, project: str | None) -> str:
    """How plans, reports, metrics and the ledger name an index: INDEX in the default project,
    PROJECT:INDEX in a named one (':' is in no Pinecone index name, so neither can be taken
    for the other)."""
    return f"{project}:{index}" if project else index


def _policy(
    check: _Checker,
    data: Mapping[str, Any],
    namespaces: NamespaceSelector,
    protect: tuple[Filter, ...],
) -> Policy:
    spec = data["spec"]
    rules = _rules(check, spec["rules"])
    if any(r.destructive for r in rules):
        _check_destructive_scope(check, namespaces, spec["index"])
    schedule = spec.get("schedule")
    if schedule is not None and (problem := check_schedule(schedule)):
        check.fail(("spec", "schedule"), problem)
    limits = _limits(check, spec.get("limits", {}))
    jitter = None
    if "jitter" in spec:
        try:
            jitter = parse_duration(spec["jitter"])
        except ValueError as exc:
            check.fail(("spec", "jitter"), str(exc))
    canary = spec.get("rollout", {}).get("canary")
    return Policy(
        name=data["metadata"]["name"],
        index=qualified_index(spec["index"], spec.get("project")),
        project=spec.get("project"),
        namespaces=namespaces,
        rules=tuple(rules),
        location=check.doc.at(("metadata", "name")),
        protect=protect,
        guards=limits,
        schedule=schedule,
        jitter=jitter,
        mode=spec.get("mode", "enforce"),
        on_invalid_timestamps=spec.get("onInvalidTimestamps", "warn"),
        windows=_windows(check, spec.get("windows", {})),
        suspend=spec.get("suspend", False),
        canary=int(canary) if canary is not None else None,
        labels=dict(data["metadata"].get("labels", {})),
    )


def _limits(check: _Checker, raw: Mapping[str, Any]) -> Guards:
    records = raw.get("maxRecords")
    backup = raw.get("backupAbove")
    percent = _finite(check, raw, "maxPercent", "give a percentage above 0 and at most 100")
    trend = _finite(check, raw, "trendFactor", "give a factor of 0 or more (0 turns it off)")
    return Guards(
        int(records) if records is not None else None,
        percent,
        int(backup) if backup is not None else None,
        trend,
    )


def _finite(check: _Checker, raw: Mapping[str, Any], key: str, advice: str) -> float | None:
    """A number of `limits` that NaN or infinity did not slip into: they pass every bound of
    the schema (NaN) or make a guard mean nothing (infinity)."""
    value = raw.get(key)
    path = ("spec", "limits", key)
    if isinstance(value, float) and math.isnan(value):
        text = check.doc.plain.get(path, "nan")
        check.fail(path, f"{text} is not a number (NaN); {advice}")
        return None
    if isinstance(value, float) and math.isinf(value):
        text = check.doc.plain.get(path, "inf")
        check.fail(path, f"{text} is infinite; {advice}")
        return None
    return value


def _windows(check: _Checker, raw: Mapping[str, Any]) -> Windows:
    """`spec.windows`, each entry checked where it is written, then the whole at spec.windows:
    a set of windows that can never open would stop deletions without anybody noticing."""
    before = len(check.errors)
    groups: dict[str, tuple[Window, ...]] = {}
    for group in ("allow", "deny"):
        entries = (
            _window(check, entry, ("spec", "windows", group, i))
            for i, entry in enumerate(raw.get(group, []))
        )
        groups[group] = tuple(w for w in entries if w is not None)
    windows = Windows(groups["allow"], groups["deny"])
    if len(check.errors) == before and windows and not windows.ever_opens():
        if windows.allow and not Windows(windows.allow).ever_opens():
            problem = (
                "no allow window ever opens (no date matches the day of month and month of "
                "their start), so deletions could never run; fix their start"
            )
        elif windows.allow:
            problem = (
                "deny covers every moment that allow opens, so deletions could never run; "
                "narrow deny or widen allow"
            )
        else:
            problem = "deny covers every moment, so deletions could never run; narrow deny"
        check.fail(("spec", "windows"), problem)
    return windows


def _window(check: _Checker, raw: Mapping[str, Any], path: JsonPath) -> Window | None:
    """One schema-valid window entry: cron (start, duration) or weekly (days, from, to)."""
    before = len(check.errors)
    zone = raw.get("timeZone", "UTC")
    if problem := check_zone(zone):
        check.fail((*path, "timeZone"), problem)
    if "start" in raw:
        if problem := check_cron(raw["start"]):
            check.fail((*path, "start"), problem)
        duration = _window_duration(check, raw["duration"], (*path, "duration"))
        if len(check.errors) > before or duration is None:
            return None
        return CronWindow(raw["start"], duration, zone)
    start = _clock(check, raw, path, "from", "00:00")
    end = _clock(check, raw, path, "to", "24:00")
    if start is not None and start == end:
        check.fail(
            (*path, "to"),
            f"from and to are both {start}, so the window never opens; give different times "
            "(a to before from runs past midnight)",
        )
    if len(check.errors) > before or start is None or end is None:
        return None
    days = frozenset(DAY_NAMES.index(d) for d in raw["days"])
    return WeeklyWindow(days, _time(start) or time(0), _time(end), zone)


def _window_duration(check: _Checker, text: str, path: JsonPath) -> timedelta | None:
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        check.fail(path, str(exc))
        return None
    if duration > MAX_WINDOW:
        check.fail(
            path,
            f"a window lasts at most {MAX_WINDOW.days}d, not {text}; split it into several windows",
        )
        return None
    return duration


def _clock(
    check: _Checker, raw: Mapping[str, Any], path: JsonPath, key: str, default: str
) -> str | None:
    """A time of day as written (HH:MM, which the schema checked), or None if reported:
    YAML 1.1 reads unquoted 22:00 as the number 1320 (base 60), and so does our loader."""
    value = raw.get(key, default)
    if isinstance(value, str):
        return value
    path = (*path, key)
    plain = check.doc.plain.get(path, str(value))
    if ":" in plain:
        check.fail(
            path, f"unquoted {plain} is read as the number {value} (base 60); quote it: '{plain}'"
        )
    else:
        check.fail(path, f"write the time as HH:MM in quotes (for example '05:00'), got {plain}")
    return None


def _time(text: str) -> time | None:
    """HH:MM as a time of day; 24:00 (the end of the day) as None."""
    hours, minutes = (int(part) for part in text.split(":"))
    return None if hours == 24 else time(hours, minutes)


def _filter_values(raw: object, path: JsonPath) -> Iterator[tuple[JsonPath, object, str]]:
    """(path, value, field name) for each value a raw filter compares with: shorthand values,
    operator arguments and the items of `$in`/`$nin` lists, at any depth of `$and`/`$or`."""
    if not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        sub = (*path, key)
        if key in ("$and", "$or"):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield from _filter_values(item, (*sub, i))
        elif key.startswith("$"):
            continue
        elif isinstance(value, Mapping):
            for op, arg in value.items():
                if not isinstance(op, str):
                    continue
                if isinstance(arg, list):
                    for i, item in enumerate(arg):
                        if not isinstance(item, list | Mapping):
                            yield (*sub, op, i), item, key
                elif not isinstance(arg, Mapping):
                    yield (*sub, op), arg, key
        elif not isinstance(value, list):
            yield sub, value, key


def _value_problem(value: object, plain: str | None, name: str, op: str | int) -> str | None:
    """What is wrong with a filter value, given how it was written (`plain`: the text of an
    unquoted scalar, None if quoted) and where (`op`: its operator, or a list index)."""
    if isinstance(value, str):
        if plain is not None and value.lower() in _YAML11_BOOLEANS:
            return (
                f"unquoted {value} is a boolean in YAML 1.1 but the string '{value}' here; "
                f"write true or false for the boolean, or quote it ('{value}') for the string"
            )
        return None
    if value is None:
        if op == "$exists":
            return None  # the filter parser says $exists takes true or false
        return null_message(name, op if isinstance(op, str) else "$eq")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"{plain or '.nan'} is not a number (NaN); Pinecone compares finite numbers only"
    if isinstance(value, float) and math.isinf(value):
        written = plain or ("-.inf" if value < 0 else ".inf")
        return f"{written} is infinite; Pinecone compares finite numbers only"
    if isinstance(value, int) and abs(value) > MAX_EXACT_INTEGER:
        return (
            f"{plain or value} is beyond 2^53 ({MAX_EXACT_INTEGER:,}) in magnitude, where "
            "Pinecone's 64-bit floats no longer tell whole numbers apart; use a smaller number, "
            "or store it as a string"
        )
    if plain is not None and not _plain_number(plain, value):
        return (
            f"unquoted {plain} is read as the number {value}, which YAML readers disagree on; "
            f"write {value} for the number, or quote it ('{plain}') for the string"
        )
    return None


def _plain_number(text: str, value: int | float) -> bool:
    """Whether every YAML reader takes `text` for `value`: no octal `012`, no base-60 `1:30`,
    no `0b101`, no `1_000` (YAML 1.1 forms that YAML 1.2 reads otherwise)."""
    if isinstance(value, int):
        return _PLAIN_INTEGER.match(text) is not None
    return "_" not in text and ":" not in text


def _rules(check: _Checker, raws: Sequence[Mapping[str, Any]]) -> list[Rule]:
    rules = []
    first: dict[str, int] = {}
    for i, raw in enumerate(raws):
        path: JsonPath = ("spec", "rules", i)
        name = raw["name"]
        if name in first:
            line = check.doc.at(("spec", "rules", first[name], "name")).line
            check.fail(
                (*path, "name"), f"rule name '{name}' is already used in this policy at line {line}"
            )
        first.setdefault(name, i)
        rule = _rule(check, raw, path)
        if rule is not None:
            rules.append(rule)
    return rules


_ID_SOURCES = ("ids", "idsFile", "idPrefix")
_CONDITIONS = ("olderThan", "where")
_DESTRUCTIVE = ("deleteAll", "deleteNamespace")


def _rule(check: _Checker, raw: Mapping[str, Any], path: JsonPath) -> Rule | None:
    before = len(check.errors)
    selects = _check_selectors(check, raw, path)
    ttl = None
    if "olderThan" in raw:
        try:
            older = parse_duration(raw["olderThan"])
        except ValueError as exc:
            check.fail((*path, "olderThan"), str(exc))
        else:
            ttl = Ttl(older, raw["field"], raw.get("unit", "s"))
    where = check.filter(raw["where"], (*path, "where")) if "where" in raw else None
    if where is not None:
        _check_where(check, where, (*path, "where"), ttl, alone=not selects)
    ids_file = _ids_file(check, raw["idsFile"], (*path, "idsFile")) if "idsFile" in raw else None
    for i, record_id in enumerate(raw.get("ids", ())):
        if record_id != record_id.strip():  # as in an ID file: verbatim, so a stray space misses
            check.fail(
                (*path, "ids", i),
                f"ID {record_id!r} has leading or trailing whitespace; IDs are taken verbatim, "
                "so remove it",
            )
    if len(check.errors) > before:
        return None
    return Rule(
        name=raw["name"],
        location=check.doc.at((*path, "name")),
        selects=_selector(raw, ttl, where, ids_file),
        description=raw.get("description"),
    )


def _selector(
    raw: Mapping[str, Any], ttl: Ttl | None, where: Filter | None, ids_file: IdsFile | None
) -> Selector:
    """The rule's selector, from keys `_check_selectors` found consistent."""
    if raw.get("deleteNamespace", False):
        return DropNamespaces()
    if raw.get("deleteAll", False):
        return EmptyNamespaces()
    if "ids" in raw:
        return IdList(tuple(raw["ids"]), ttl=ttl, where=where)
    if ids_file is not None:
        return IdsFromFile(ids_file, ttl=ttl, where=where)
    if "idPrefix" in raw:
        return IdsWithPrefix(raw["idPrefix"], ttl=ttl, where=where)
    return Matching(ttl, where)


def _check_selectors(check: _Checker, raw: Mapping[str, Any], path: JsonPath) -> bool:
    """One ID source at most, whole-namespace deletes alone, and some condition; whether the
    rule names IDs or empties namespaces (beyond its conditions)."""
    name = raw["name"]
    sources = [k for k in _ID_SOURCES if k in raw]
    destructive = [k for k in _DESTRUCTIVE if k in raw]
    conditions = [k for k in _CONDITIONS if k in raw]
    if len(sources) > 1:
        check.fail(
            (*path, sources[1]),
            f"a rule takes one ID source; '{name}' has both {sources[0]} and {sources[1]}",
            key=True,
        )
    if destructive:
        others = [k for k in (*destructive[1:], *sources, *conditions)]
        if others:
            check.fail(
                (*path, others[0]),
                f"{destructive[0]} empties whole namespaces and cannot be combined with {others[0]}",
                key=True,
            )
    elif not sources and not conditions:
        check.fail(
            path,
            f"rule '{name}' has no condition, so it would delete every record; give olderThan, "
            "where, ids, idsFile or idPrefix, or say deleteAll: true to empty the namespaces",
        )
    return bool(sources or destructive)


def _check_where(
    check: _Checker, where: Filter, path: JsonPath, ttl: Ttl | None, *, alone: bool
) -> None:
    """A `where` that alone matches everything, or that contradicts the TTL, is a mistake."""
    if alone and ttl is None and is_tautology(where):
        check.fail(
            path, "this condition matches every record; to empty the namespaces say deleteAll: true"
        )
    if ttl is not None:
        problem = _ttl_contradiction(where, ttl.field)
        if problem:
            check.fail(path, problem)


def _ttl_contradiction(where: Filter, name: str) -> str | None:
    """A `where` that pins the TTL field to something a number can never satisfy."""
    stack = [where]
    while stack:
        f = stack.pop()
        if isinstance(f, Compare):
            if f.field != name:
                continue
            if f.op == "$exists" and f.value is False:
                return f"where requires '{name}' to be missing, but olderThan needs it to hold a time: this rule can never match"
            values = f.value if isinstance(f.value, tuple) else (f.value,)
            if f.op in ("$eq", "$in") and all(isinstance(v, str | bool) for v in values):
                return f"where compares '{name}' with non-numbers, but olderThan needs it to hold an epoch number: this rule can never match"
        elif isinstance(f, And):
            stack.extend(f.clauses)  # only conjunctions constrain every match
    return None


def _ids_file(check: _Checker, relative: str, path: JsonPath) -> IdsFile | None:
    base = os.path.dirname(check.doc.path)
    full = os.path.normpath(os.path.join(base, relative))
    problem = _ids_path_problem(relative, base)
    if problem:
        check.fail(path, problem)
        return None
    resolved = os.path.realpath(os.path.join(base, relative))
    count, bad = 0, 0
    digest = hashlib.sha256()
    try:
        with open_regular(resolved, MAX_BYTES, "ID files") as handle:
            for line in lines(handle, digest):  # line by line: ID files may hold millions of IDs
                if not line.length:
                    continue
                problem = _id_problem(line.head, line.length)
                if problem:
                    bad += 1
                    if bad <= _MAX_FILE_ERRORS:
                        check.errors.append(PolicyError(Location(full, line.number, 1), problem))
                    continue
                count += 1
    except FileNotFoundError:
        check.fail(
            path,
            f"ids file '{relative}' not found (looked for {full})"
            if full != relative
            else f"ids file '{relative}' not found",
        )
        return None
    except NotReadable as exc:
        check.fail(path, f"ids file '{relative}' {exc.reason}")
        return None
    except OSError as exc:
        check.fail(path, f"cannot read ids file '{relative}': {exc.strerror}")
        return None
    if bad > _MAX_FILE_ERRORS:
        check.errors.append(
            PolicyError(
                Location(full, 1, 1), f"{bad - _MAX_FILE_ERRORS} more invalid IDs not shown"
            )
        )
    if not bad and not count:
        check.fail(path, f"ids file '{relative}' holds no IDs")
        return None
    check.ids_digests.append(digest.hexdigest())
    return IdsFile(full, count, digest.hexdigest()) if not bad else None


def _ids_path_problem(relative: str, base: str) -> str | None:
    """Why `relative` does not name a file inside `base` (the policy file's directory)."""
    where = f"ID files must be inside the directory of their policy file ({base or '.'})"
    if "\0" in relative:
        return f"ids file {relative!r}: a path cannot contain NUL"
    if os.path.isabs(relative):
        return f"ids file '{relative}': {where}, named by a relative path; this one is absolute"
    if os.path.normpath(relative).split(os.sep)[0] == os.pardir:
        return f"ids file '{relative}': {where}; this path leads out of it through '..'"
    root = os.path.realpath(base or os.curdir)
    resolved = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([root, resolved]) != root:
        return f"ids file '{relative}': {where}; this path leads out of it through a symlink"
    return None


def _id_problem(head: bytes, length: int) -> str | None:
    """What is wrong with an ID file line, from its first bytes and its length."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return "record IDs are ASCII; this line has other characters"
    if "\0" in text:
        return "record IDs cannot contain NUL"
    if length > MAX_ID_LENGTH:
        return f"record IDs are at most {MAX_ID_LENGTH} characters, this one has {length}"
    if text != text.strip():
        return (
            f"ID {text!r} has leading or trailing whitespace; IDs are taken verbatim, so remove it"
        )
    return None


_BRACKETS = re.compile(r"\[[^\]]*$")


def _pattern_problem(pattern: str) -> str | None:
    if not pattern.isascii() or "\0" in pattern:
        return f"namespace pattern {pattern!r}: namespace names are ASCII without NUL"
    if _BRACKETS.search(pattern):
        return f"namespace pattern {pattern!r} has an unclosed '['"
    if pattern.strip() != pattern:
        return f"namespace pattern {pattern!r} has leading or trailing whitespace"
    return None


def _check_destructive_scope(check: _Checker, namespaces: NamespaceSelector, index: str) -> None:
    for i, pattern in enumerate(namespaces.include):
        if not pattern.strip("*?"):
            check.fail(
                ("spec", "namespaces", "include", i),
                f"a deleteAll or deleteNamespace rule over namespaces matching {pattern!r} would "
                f"empty every namespace of index '{index}'; name the namespaces it may empty "
                "(for example 'scratch-*')",
            )
