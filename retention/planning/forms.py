"""What an action does, derived from the policies alone: the part of a plan nobody may edit.

A plan action has two halves. Its *form* (kind, server-side filter, ID source, client-side
check, the protections it must spare, the condition in words, its notes) follows from the
policy files and the plan's `asOf`; its *observations* (counts, samples, cost) come from the
live index. The planner builds every action from a form made here, and `apply PLANFILE`
derives the forms again from the policy files and refuses any action whose form is not one of
them (see `sealing`), so an edited plan file cannot delete a record the policies did not select.

For most rules there is one form. A rule whose protections are folded into a filter has two:
the filtered delete, and the record-by-record fallback the planner takes when Pinecone's own
counts cannot prove the fold spares every protected record. Pure: no I/O, `now` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from retention.filters import Filter, describe, exclude
from retention.planning.plan import (
    ActionKind,
    ByFilter,
    ByIds,
    Deletion,
    EveryRecord,
    IdFile,
    IdPrefix,
    IdSource,
    InlineIds,
    MatchingIds,
    WholeNamespace,
)
from retention.policy.model import DropNamespaces, IdList, IdsFromFile, IdsWithPrefix, Policy, Rule

NOT_EXACT_NOTE = (
    "records that a protection may cover under another reading of Pinecone's filter semantics, "
    "or whose protected fields hold values of another type, are spared"
)
FALLBACK_NOTE = (
    "Pinecone's counts could not prove that one filter spares every protected record here, so "
    "records are fetched and checked one by one against the protections"
)


@dataclass(frozen=True)
class Form:
    """An action's selection, as the policies define it."""

    deletes: Deletion
    condition: str
    notes: tuple[str, ...] = ()
    explicit: bool = False
    """From a deleteAll/deleteNamespace rule: the default guard does not weigh it."""

    @property
    def kind(self) -> ActionKind:
        return self.deletes.kind


@dataclass(frozen=True)
class Forms:
    """The forms of one rule in one namespace; `preferred` unless Pinecone cannot prove it."""

    preferred: Form
    fallback: Form | None = None

    def all(self) -> tuple[Form, ...]:
        return (self.preferred,) if self.fallback is None else (self.preferred, self.fallback)


def forms(
    policy: Policy,
    rule: Rule,
    protections: Sequence[Filter],
    *,
    now: datetime,
    namespace_records: int,
) -> Forms:
    """Every form `rule` of `policy` may take in a namespace with these protections."""
    condition = rule.condition(now)
    if isinstance(rule.selects, IdList | IdsFromFile | IdsWithPrefix):
        return Forms(_by_ids(rule, condition, protections))
    if rule.destructive and not protections:
        deletes: Deletion
        if isinstance(rule.selects, DropNamespaces):
            deletes, words = WholeNamespace(), "the namespace itself, with"
        else:
            deletes, words = EveryRecord(), "every record:"
        text = f"{words} all {namespace_records:,} records"
        return Forms(Form(deletes, text, explicit=True))
    folded = exclude(condition, protections)
    assert folded.filter is not None  # a condition or at least one protection
    notes: list[str] = []
    if rule.destructive:
        notes.append(_instead_note(rule, protections))
    if not folded.exact:
        notes.append(NOT_EXACT_NOTE)
    preferred = Form(
        ByFilter(folded.filter, tuple(protections)),
        describe(folded.filter, rule.time_fields),
        notes=tuple(notes),
        explicit=rule.destructive,
    )
    fallback = _by_ids(rule, condition, protections, fallback=True)
    return Forms(preferred, fallback)


def _by_ids(
    rule: Rule, condition: Filter | None, protections: Sequence[Filter], *, fallback: bool = False
) -> Form:
    source = _id_source(rule, condition)
    words = _id_words(rule, source)
    if condition is not None and not isinstance(source, MatchingIds):
        words += f" where {describe(condition, rule.time_fields)}"
    if protections:
        words += f", sparing records that match {len(protections)} protection(s)"
    notes = []
    if fallback and rule.destructive:
        notes.append(_instead_note(rule, protections))
    if fallback:
        notes.append(FALLBACK_NOTE)
    return Form(
        ByIds(source, condition, tuple(protections)),
        words,
        notes=tuple(notes),
        explicit=rule.destructive,
    )


def _instead_note(rule: Rule, protections: Sequence[Filter]) -> str:
    """Why a deleteAll/deleteNamespace rule deletes record by record in this namespace."""
    instead = "deleting the namespace" if isinstance(rule.selects, DropNamespaces) else "deleteAll"
    return (
        f"{len(protections)} protection(s) apply here, so instead of {instead} only "
        "unprotected records are deleted"
    )


def _id_source(rule: Rule, condition: Filter | None) -> IdSource:
    s = rule.selects
    if isinstance(s, IdList):
        return InlineIds(s.ids)
    if isinstance(s, IdsFromFile):
        return IdFile(s.file.path, s.file.sha256)
    if isinstance(s, IdsWithPrefix):
        return IdPrefix(s.prefix)
    if condition is not None:
        return MatchingIds(condition)
    return IdPrefix("")


def _id_words(rule: Rule, source: IdSource) -> str:
    if isinstance(source, InlineIds):
        return f"the {len(source.ids):,} listed IDs"
    if isinstance(source, IdFile):
        assert rule.ids_file is not None
        return f"the {rule.ids_file.count:,} IDs in {source.path}"
    if isinstance(source, IdPrefix):
        return f'IDs starting with "{source.prefix}"' if source.prefix else "every record"
    return "records matching the condition, checked one by one"
