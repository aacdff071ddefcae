"""Rules that add nothing, rules that can never delete, and policies that act in the same place.

Decided statically from the policy files, and only where the answer holds under every reading
of Pinecone's undocumented filter corners: a condition implies another only through positive
clauses (`$eq`, `$in`, ranges, `$exists: true`, or the very same clause); `$or`, `$ne` and
`$nin` are left undecided, and so say nothing. Namespace patterns are compared when one is a
plain name or both are a literal with one `*` at the same end; other pairs are listed as
undecided. `retention validate` prints these as warnings (errors with `--strict`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from retention.errors import Location
from retention.filters import (
    Compare,
    Filter,
    conjuncts,
    describe,
    disjoint,
    identity,
    is_number,
)
from retention.policy.model import (
    DropNamespaces,
    EmptyNamespaces,
    IdList,
    IdsFromFile,
    IdsWithPrefix,
    Policy,
    PolicySet,
    Rule,
)

_THEN = datetime(2000, 1, 1, tzinfo=UTC)
"""Any fixed moment: two TTL cutoffs compare the same way whatever `now` is."""
_WILD = frozenset("*?[")


@dataclass(frozen=True, order=True)
class Finding:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: warning: {self.message}"


def findings(policies: PolicySet) -> list[Finding]:
    """Every finding, in file order."""
    found: list[Finding] = []
    for policy in policies.policies:
        found.extend(_shadowed(policy))
        found.extend(_never_deleting(policy))
    found.extend(_sharing(policies.policies))
    return sorted(found)


def _shadowed(policy: Policy) -> list[Finding]:
    found = []
    for i, rule in enumerate(policy.rules):
        for j, other in enumerate(policy.rules):
            if i == j or not _contains(other, rule):
                continue
            if _contains(rule, other):
                if j < i:  # the same selection: said once, at the later rule
                    message = f"rule '{rule.name}' selects the same records as rule '{other.name}'"
                    found.append(Finding(rule.location, message))
                    break
                continue
            found.append(
                Finding(
                    rule.location,
                    f"rule '{rule.name}' selects only records that rule '{other.name}' also "
                    "selects, so it deletes nothing of its own",
                )
            )
            break
    return found


def _never_deleting(policy: Policy) -> list[Finding]:
    found = []
    for rule in policy.rules:
        condition = rule.condition(_THEN)
        if condition is None:
            continue
        if disjoint(condition, condition):
            message = f"rule '{rule.name}' can never select a record: its conditions contradict"
            found.append(Finding(rule.location, message))
            continue
        for k, protection in enumerate(policy.protect):
            if implies(condition, protection):
                found.append(
                    Finding(
                        rule.location,
                        f"rule '{rule.name}' selects only records that protect[{k}] "
                        f"({describe(protection)}) spares, so it never deletes anything",
                    )
                )
                break
    return found


def _contains(outer: Rule, inner: Rule) -> bool:
    """Whether every record `inner` selects, `outer` selects too."""
    if isinstance(outer.selects, EmptyNamespaces | DropNamespaces):
        return not isinstance(inner.selects, DropNamespaces) or isinstance(
            outer.selects, DropNamespaces
        )
    if isinstance(inner.selects, EmptyNamespaces | DropNamespaces):
        return False
    if not _ids_within(inner, outer):
        return False
    return _same_unit(inner, outer) and implies(inner.condition(_THEN), outer.condition(_THEN))


def _same_unit(a: Rule, b: Rule) -> bool:
    """TTL cutoffs compare only on one field in one unit (else their numbers mean different
    things)."""
    if a.ttl is None or b.ttl is None or a.ttl.field != b.ttl.field:
        return True
    return a.ttl.unit == b.ttl.unit


def _ids_within(inner: Rule, outer: Rule) -> bool:
    o, i = outer.selects, inner.selects
    if isinstance(o, IdList):
        return isinstance(i, IdList) and set(i.ids) <= set(o.ids)
    if isinstance(o, IdsFromFile):
        return isinstance(i, IdsFromFile) and i.file.sha256 == o.file.sha256
    if isinstance(o, IdsWithPrefix):
        if isinstance(i, IdList):
            return all(x.startswith(o.prefix) for x in i.ids)
        return isinstance(i, IdsWithPrefix) and i.prefix.startswith(o.prefix)
    return True  # a condition alone: any record


def implies(a: Filter | None, b: Filter | None) -> bool:
    """Whether every record matching `a` matches `b` under every reading (False: undecided)."""
    if b is None:
        return True
    if a is None:
        return False
    mine, theirs = conjuncts(a), conjuncts(b)
    if mine is None or theirs is None:
        return False
    return all(any(_clause_implies(x, y) for x in mine if x.field == y.field) for y in theirs)


def _key(value: object) -> str:
    return json.dumps(value)  # true, 1 and 1.0 stay apart


def _clause_implies(x: Compare, y: Compare) -> bool:
    if identity(x) == identity(y):
        return True
    if y.op == "$exists" and y.value is True:
        return x.op in ("$eq", "$in", "$gt", "$gte", "$lt", "$lte")
    if y.op == "$in" and isinstance(y.value, tuple):
        allowed = {_key(v) for v in y.value}
        if x.op == "$eq":
            return _key(x.value) in allowed
        if x.op == "$in" and isinstance(x.value, tuple):
            return {_key(v) for v in x.value} <= allowed
        return False
    if x.op in ("$lt", "$lte") and y.op in ("$lt", "$lte"):
        return _below(x, y)
    if x.op in ("$gt", "$gte") and y.op in ("$gt", "$gte"):
        return _above(x, y)
    return False


def _below(x: Compare, y: Compare) -> bool:
    if not (is_number(x.value) and is_number(y.value)):
        return False
    if x.op == "$lte" and y.op == "$lt":
        return x.value < y.value
    return x.value <= y.value


def _above(x: Compare, y: Compare) -> bool:
    if not (is_number(x.value) and is_number(y.value)):
        return False
    if x.op == "$gte" and y.op == "$gt":
        return x.value > y.value
    return x.value >= y.value


def _sharing(policies: Sequence[Policy]) -> list[Finding]:
    found = []
    for i, later in enumerate(policies):
        for earlier in policies[:i]:
            if earlier.index != later.index:
                continue
            pair = _overlap(earlier, later)
            if pair is None:
                continue
            (pa, pb), decided = pair
            where = (
                f"in namespaces matching '{pa}'"
                if pa == pb
                else f"in namespaces matching both '{pa}' and '{pb}'"
            )
            if not decided:
                where = (
                    f"maybe ('{pa}' and '{pb}': whether a namespace matches both is not decided)"
                )
            found.append(
                Finding(
                    later.location,
                    f"policies '{earlier.name}' and '{later.name}' both act on index "
                    f"'{later.index}' {where}; review them together",
                )
            )
    return found


def _overlap(a: Policy, b: Policy) -> tuple[tuple[str, str], bool] | None:
    """The first pair of include patterns that (may) match one namespace, and whether that
    is decided; None when no pair can."""
    undecided = None
    for pa in a.namespaces.include:
        for pb in b.namespaces.include:
            verdict = _patterns_meet(pa, pb)
            if verdict is True:
                return (pa, pb), True
            if verdict is None and undecided is None:
                undecided = (pa, pb)
    return (undecided, False) if undecided is not None else None


def _patterns_meet(a: str, b: str) -> bool | None:
    if not _WILD & set(a):
        return fnmatchcase(a, b)
    if not _WILD & set(b):
        return fnmatchcase(b, a)
    prefix_a, prefix_b = _literal_then_star(a), _literal_then_star(b)
    suffix_a, suffix_b = _literal_then_star(a[::-1]), _literal_then_star(b[::-1])
    if prefix_a is not None and prefix_b is not None:
        return prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    if suffix_a is not None and suffix_b is not None:
        return suffix_a.startswith(suffix_b) or suffix_b.startswith(suffix_a)
    if (prefix_a is not None and suffix_b is not None) or (
        suffix_a is not None and prefix_b is not None
    ):
        return True  # "x*" and "*y" both match "xy"
    if not _compatible(_lead(a), _lead(b)) or not _compatible(_lead(a[::-1]), _lead(b[::-1])):
        return False  # they differ before the first wildcard (or after the last)
    return None


def _lead(pattern: str) -> str:
    """The literal text before the first wildcard."""
    return pattern[: next((i for i, ch in enumerate(pattern) if ch in "*?[]"), len(pattern))]


def _compatible(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _literal_then_star(pattern: str) -> str | None:
    """The literal of a `literal*` pattern, else None."""
    if pattern.endswith("*") and not _WILD & set(pattern[:-1]):
        return pattern[:-1]
    return None
