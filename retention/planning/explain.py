"""Why one record is deleted, kept or left alone: the planner's own selection, record by record.

For each policy rule that acts on the record's index and namespace, the rule's action is
derived as the planner derives it (`forms`): the filter Pinecone would evaluate, or the IDs and
client-side checks of a delete by ID, with the policy's protections and the legal holds folded
in. That action is then evaluated on the record under every reading of Pinecone's
undocumented filter corners (`SEMANTICS_VARIANTS`), so a record whose fate depends on one says
so and names the readings. Pure: the caller passes `now` and the contents of the ID files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from retention.filters import (
    DEFAULT_SEMANTICS,
    SEMANTICS_VARIANTS,
    Filter,
    Semantics,
    compile_filter,
    describe,
)
from retention.identifiers import canonical_namespace
from retention.planning.forms import forms
from retention.planning.plan import (
    ByFilter,
    ByIds,
    Deletion,
    IdFile,
    IdPrefix,
    InlineIds,
    MatchingIds,
)
from retention.policy.model import (
    Expectation,
    IdList,
    IdsFromFile,
    IdsWithPrefix,
    Policy,
    PolicySet,
    PolicyTest,
    Rule,
)

Metadata = Mapping[str, Any]
Outcome = Literal["deleted", "kept", "untouched"]
READINGS: tuple[Semantics, ...] = SEMANTICS_VARIANTS


@dataclass(frozen=True)
class Record:
    index: str
    namespace: str
    id: str
    metadata: Metadata


@dataclass(frozen=True)
class RuleFinding:
    """What one rule does to the record, reading by reading (in `READINGS` order)."""

    policy: str
    rule: str
    observe: bool
    """The policy is in observe mode: it plans, never deletes."""
    condition: str
    selects: tuple[bool, ...]
    """The rule's own condition (and its IDs) takes the record, before any protection."""
    deletes: tuple[bool, ...]
    """The rule's action, protections folded in, deletes the record."""


@dataclass(frozen=True)
class ProtectionFinding:
    """A protection that acts on the record's namespace: a policy's `protect` or a hold."""

    name: str
    """`protect of policy P` or `legal hold H`."""
    condition: str
    matches: tuple[bool, ...]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    by: str | None
    """The rule (`policy/rule`) that deletes the record, or what keeps it."""
    readings: tuple[int, ...]
    """The `READINGS` under which this is the verdict."""


@dataclass(frozen=True)
class Explanation:
    record: Record
    rules: tuple[RuleFinding, ...]
    protections: tuple[ProtectionFinding, ...]
    verdicts: tuple[Verdict, ...]
    """One per distinct verdict: more than one means the readings disagree."""

    @property
    def depends_on_reading(self) -> bool:
        return len(self.verdicts) > 1


IdsOf = Callable[[str], frozenset[str]]
"""The IDs of an ID file (by the path a rule names) among those of the records explained."""


def explain(policies: PolicySet, record: Record, *, now: datetime, ids_of: IdsOf) -> Explanation:
    """Every rule and protection that acts on `record`, and the verdict, at `now`."""
    namespace = canonical_namespace(record.namespace)
    acting = [
        p for p in policies.policies if p.index == record.index and p.namespaces.matches(namespace)
    ]
    rules = tuple(
        _rule_finding(p, r, policies.protections_for(p, namespace), record, now, ids_of)
        for p in acting
        for r in p.rules
    )
    protections = _protections(policies, acting, record.index, namespace, record.metadata)
    verdicts: dict[tuple[Outcome, str | None], list[int]] = {}
    for i in range(len(READINGS)):
        verdicts.setdefault(_verdict(rules, protections, i), []).append(i)
    return Explanation(
        record,
        rules,
        protections,
        tuple(Verdict(o, by, tuple(r)) for (o, by), r in verdicts.items()),
    )


def reading_name(reading: Semantics) -> str:
    """A reading as the emulator's switches spell it, so it can be reproduced there."""
    ne = "match" if reading.ne_matches_missing else "no-match"
    nin = "match" if reading.nin_matches_missing else "no-match"
    default = " (the default)" if reading == DEFAULT_SEMANTICS else ""
    return (
        f"ne-on-missing={ne}, nin-on-missing={nin}, list-negation={reading.list_negation}{default}"
    )


def _rule_finding(
    policy: Policy,
    rule: Rule,
    protections: Sequence[Filter],
    record: Record,
    now: datetime,
    ids_of: IdsOf,
) -> RuleFinding:
    deletes = forms(policy, rule, protections, now=now, namespace_records=0).preferred.deletes
    condition = rule.condition(now)
    listed = _listed(rule, record.id, ids_of)
    return RuleFinding(
        policy=policy.name,
        rule=rule.name,
        observe=policy.mode == "observe",
        condition=_words(rule, condition),
        selects=tuple(listed and _matches(condition, record.metadata, r) for r in READINGS),
        deletes=tuple(_deleted(deletes, record, r, ids_of) for r in READINGS),
    )


def _listed(rule: Rule, record_id: str, ids_of: IdsOf) -> bool:
    """Whether the rule's IDs (if it names any) include the record."""
    s = rule.selects
    if isinstance(s, IdsFromFile):
        return record_id in ids_of(s.file.path)
    if isinstance(s, IdList):
        return record_id in s.ids
    if isinstance(s, IdsWithPrefix):
        return record_id.startswith(s.prefix)
    return True


def _words(rule: Rule, condition: Filter | None) -> str:
    kind = {"deleteAll": "every record", "deleteNamespace": "the whole namespace"}.get(rule.kind)
    if kind is not None:
        return kind
    parts = []
    s = rule.selects
    if isinstance(s, IdsFromFile):
        parts.append(f"ID listed in {s.file.path}")
    elif isinstance(s, IdList):
        parts.append("ID listed in the rule")
    elif isinstance(s, IdsWithPrefix):
        parts.append(f'ID starts with "{s.prefix}"')
    if condition is not None:
        parts.append(describe(condition, rule.time_fields))
    return " and ".join(parts)


def _matches(f: Filter | None, metadata: Metadata, reading: Semantics) -> bool:
    return f is None or compile_filter(f, reading)(metadata)


def _deleted(deletes: Deletion, record: Record, reading: Semantics, ids_of: IdsOf) -> bool:
    """Whether the action deletes the record when Pinecone reads filters as `reading`."""
    m = record.metadata
    if isinstance(deletes, ByFilter):
        # A delete whose filter meets a protected record is refused before it is sent
        # (`check_spared`), or the planner deletes by ID instead, sparing it.
        spared = any(_matches(p, m, reading) for p in deletes.protections)
        return _matches(deletes.filter, m, reading) and not spared
    if isinstance(deletes, ByIds):
        source = deletes.source
        if isinstance(source, InlineIds):
            listed = record.id in source.ids
        elif isinstance(source, IdFile):
            listed = record.id in ids_of(source.path)
        elif isinstance(source, IdPrefix):
            listed = record.id.startswith(source.prefix)
        else:
            assert isinstance(source, MatchingIds)
            listed = _matches(source.filter, m, reading)  # Pinecone's fetch by metadata
        return listed and deletes.allows()(m)
    return True


def _protections(
    policies: PolicySet, acting: Sequence[Policy], index: str, namespace: str, metadata: Metadata
) -> tuple[ProtectionFinding, ...]:
    found: list[ProtectionFinding] = []
    for policy in acting:
        for p in policy.protect:
            found.append(_protection(f"protect of policy {policy.name}", p, metadata))
    for hold in policies.holds_for(index, namespace):
        for p in hold.protect:
            found.append(_protection(f"legal hold {hold.name}", p, metadata))
    return tuple(found)


def _protection(name: str, f: Filter, metadata: Metadata) -> ProtectionFinding:
    return ProtectionFinding(name, describe(f), tuple(_matches(f, metadata, r) for r in READINGS))


def _verdict(
    rules: Sequence[RuleFinding], protections: Sequence[ProtectionFinding], i: int
) -> tuple[Outcome, str | None]:
    for r in rules:
        if r.deletes[i] and not r.observe:
            return "deleted", f"{r.policy}/{r.rule}"
    if not any(r.selects[i] for r in rules):
        return "untouched", None
    keeping = next((p.name for p in protections if p.matches[i]), None)
    if keeping is None:
        keeping = next((p.name for p in protections if any(p.matches)), None)
    if keeping is not None:
        return "kept", keeping
    if all(r.observe for r in rules if r.selects[i]):
        return "kept", "observe mode"
    return "kept", "a condition that does not hold under every reading"


# -- policy tests


@dataclass(frozen=True)
class Failure:
    expectation: Expectation
    message: str


def check_test(policies: PolicySet, test: PolicyTest, *, ids_of: IdsOf) -> tuple[Failure, ...]:
    """The expectations of `test` that do not hold under every reading, each with why."""
    failures = []
    for e in test.expectations:
        r = e.record
        record = Record(r.index, r.namespace, r.id, r.metadata)
        verdicts = explain(policies, record, now=test.at, ids_of=ids_of).verdicts
        wrong = [v for v in verdicts if not _meets(e, v)]
        if not wrong:
            continue
        shown = r.id if r.namespace == "__default__" else f"{r.id} ({r.namespace})"
        got = "; ".join(_got(v, len(verdicts) > 1) for v in wrong)
        failures.append(Failure(e, f"{shown}: expected {_wanted(e)}, got {got}"))
    return tuple(failures)


def _meets(e: Expectation, v: Verdict) -> bool:
    if e.deleted:
        return v.outcome == "deleted" and (
            e.by is None or v.by == e.by or (v.by or "").startswith(e.by + "/")
        )
    if v.outcome == "deleted":
        return False
    if e.kept_by is None:
        return True
    got = _kept_as(v.by or "")
    return v.outcome == "kept" and (got == e.kept_by or got.split("/")[0] == e.kept_by)


def _kept_as(by: str) -> str:
    """A verdict's keeper in the words of `keptBy`: protect/POLICY, hold/NAME, observe."""
    if by.startswith("protect of policy "):
        return "protect/" + by.removeprefix("protect of policy ")
    if by.startswith("legal hold "):
        return "hold/" + by.removeprefix("legal hold ")
    return "observe" if by == "observe mode" else by


def _wanted(e: Expectation) -> str:
    if e.deleted:
        return f"deleted by {e.by}" if e.by else "deleted"
    return f"kept by {e.kept_by}" if e.kept_by else "not deleted"


def _got(v: Verdict, several: bool) -> str:
    words = {
        "deleted": f"deleted by {v.by}",
        "kept": f"kept by {_kept_as(v.by or '')}",
        "untouched": "untouched (no rule selects it)",
    }[v.outcome]
    if not several:
        return words
    readings = ", ".join(f"[{reading_name(READINGS[i])}]" for i in v.readings)
    return f"{words} under {readings}"
