"""A plan file is a sealed contract: `apply` executes it only if the policies still say it.

The fingerprint shows that a plan file is whole, but anyone can recompute it after an edit. So
before anything is deleted, every action is derived again from the policy files at the plan's
`asOf` (`forms`) and compared field by field: kind, index, namespace, server-side filter, ID
source with its inline IDs or file digest, client-side check, the protections a filtered delete
must spare, the condition in words and the notes. Where the planner's choice depended on live
counts (a fold Pinecone could not prove), each form it could have chosen is derived, and the
plan's must be one of them. The guards are checked the same way: their limits are the policies'
(or the documented default), and a guard that failed leaves its policy blocked.

What cannot be derived offline (counts, samples, cost) is what the index said at planning time;
the apply recounts before it deletes and refuses a selection that grew. Pure but for
resolving ID-file paths, which may be named relative or absolute.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from retention.errors import PlanError
from retention.identifiers import canonical_namespace
from retention.planning.forms import Form, forms
from retention.planning.plan import (
    Action,
    ByIds,
    Deletion,
    Guard,
    IdFile,
    Plan,
    PolicyResult,
    deletion_document,
    format_time,
)
from retention.planning.planner import DEFAULT_MAX_PERCENT
from retention.policy.model import Policy, PolicySet

_REPLAN = "nothing was deleted; run `retention plan` again and review the new plan"


_DELETION_FIELDS = ("kind", "filter", "idSource", "clientCheck", "protections")
"""An action's deletion as the plan file spells it, in the order a difference is named."""


def check_sealed(plan: Plan, policies: PolicySet) -> None:
    """Raise PlanError, naming the action and the field, unless the policies yield `plan`."""
    by_name = {p.name: p for p in policies.policies}
    seen: set[str] = set()
    for action in plan.actions:
        if action.id in seen:
            _refuse(f"action {action.id} appears twice")
        seen.add(action.id)
        _check_action(plan, policies, by_name, action)
    for result in plan.policies:
        policy = by_name.get(result.name)
        if policy is None:
            _refuse(f"policy '{result.name}' is not defined in the policy files")
        _check_result(policy, result, [a for a in plan.actions if a.policy == result.name])


def _check_action(
    plan: Plan, policies: PolicySet, by_name: Mapping[str, Policy], action: Action
) -> None:
    policy = by_name.get(action.policy)
    if policy is None:
        _refuse(f"action {action.id} names policy '{action.policy}', which no policy file defines")
    rule = next((r for r in policy.rules if r.name == action.rule), None)
    if rule is None:
        _refuse(
            f"action {action.id} names rule '{action.rule}', which policy '{policy.name}' lacks"
        )
    if action.index not in plan.index_hosts:
        _refuse(f"action {action.id}: index '{action.index}' has no host in the plan's indexes")
    if action.index != policy.index:
        _refuse(
            f"action {action.id}: index is '{action.index}', but policy '{policy.name}' works on "
            f"index '{policy.index}'"
        )
    if canonical_namespace(action.namespace) != action.namespace or not policy.namespaces.matches(
        action.namespace
    ):
        _refuse(
            f"action {action.id}: namespace '{action.namespace}' is not one that policy "
            f"'{policy.name}' selects"
        )
    protections = policies.protections_for(policy, action.namespace)
    options = forms(
        policy,
        rule,
        protections,
        now=plan.as_of,
        namespace_records=action.namespace_records,
    ).all()
    if any(_differs(action, form) is None for form in options):
        return
    form = next((f for f in options if f.kind == action.kind), options[0])
    field = _differs(action, form)
    assert field is not None
    _refuse(
        f"action {action.id}: its {field} is not what policy '{policy.name}' rule "
        f"'{rule.name}' says as of {format_time(plan.as_of)}"
    )


def _differs(action: Action, form: Form) -> str | None:
    """The first field (as the plan file names it) where `action` is not `form`.

    Filters are compared as JSON text, not as values: in Python `true == 1 == 1.0`, while to
    Pinecone a boolean, an integer and a float are not the same filter value.
    """
    mine, theirs = _deletion_parts(action.deletes), _deletion_parts(form.deletes)
    for name in _DELETION_FIELDS:
        if _text(mine[name]) != _text(theirs[name]):
            return _subfield(name, mine[name], theirs[name])
    if _as_named_by(action.condition, action.deletes, form.deletes) != form.condition:
        return "condition"
    if action.notes != form.notes:
        return "notes"
    if action.explicit is not form.explicit:
        return "explicit"
    return None


def _deletion_parts(deletes: Deletion) -> dict[str, Any]:
    """The plan file's parts of a deletion, an ID file named by where it resolves: the policies
    may name `./policies/x` where the plan says `/abs/policies/x`, the same file (and digest)."""
    if isinstance(deletes, ByIds) and isinstance(deletes.source, IdFile):
        deletes = replace(deletes, source=_resolved(deletes.source))
    return deletion_document(deletes)


def _subfield(name: str, mine: Any, theirs: Any) -> str:
    if name == "clientCheck" and isinstance(mine, dict) and isinstance(theirs, dict):
        if _text(mine["where"]) != _text(theirs["where"]):
            return "clientCheck.where"
        return "clientCheck.protect"
    return name


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def _as_named_by(condition: str, mine: Deletion, theirs: Deletion) -> str:
    """The condition in words, naming the ID file as the policies now do when both name the
    same file (the words say "the 10 IDs in policies/x.txt")."""
    if not (isinstance(mine, ByIds) and isinstance(theirs, ByIds)):
        return condition
    if not (isinstance(mine.source, IdFile) and isinstance(theirs.source, IdFile)):
        return condition
    if _resolved(mine.source) != _resolved(theirs.source):
        return condition
    return condition.replace(mine.source.path, theirs.source.path, 1)


def _resolved(source: IdFile) -> IdFile:
    return replace(source, path=os.path.realpath(source.path))


def _check_result(policy: Policy, result: PolicyResult, actions: Sequence[Action]) -> None:
    """The guards are the policy's and say what they must; a failed guard blocks its policy."""
    where = f"policy '{policy.name}'"
    expected_status = (
        "suspended" if policy.suspend else "observe" if policy.mode == "observe" else "ready"
    )
    if result.status not in (expected_status, "blocked"):
        state = "suspended" if policy.suspend else f"in {policy.mode} mode"
        _refuse(f"{where}: status is '{result.status}', but the policy is {state}")
    deleting = [a for a in actions if a.records]
    by_namespace: dict[str, list[Action]] = {}
    for action in deleting:
        by_namespace.setdefault(action.namespace, []).append(action)
    if result.records < max((a.records for a in deleting), default=0):
        _refuse(f"{where}: records {result.records:,} is less than one of its actions selects")
    for guard in result.guards:
        _check_guard(policy, result, guard)
        mine = by_namespace.get(guard.namespace, []) if guard.namespace is not None else []
        if guard.name == "maxPercent" and guard.value < _least_percent(guard, mine) - 0.01:
            _refuse(f"{where}: its maxPercent guard weighs less than one of its actions selects")
    if any(not g.ok for g in result.guards) and result.status != "blocked":
        _refuse(f"{where}: a guard failed, so the policy must be blocked")
    has_max_records = any(g.name == "maxRecords" for g in result.guards)
    if policy.guards.max_records is not None and deleting and not has_max_records:
        _refuse(f"{where}: its maxRecords guard is missing")
    covered = {g.namespace for g in result.guards if g.name == "maxPercent"}
    for action in deleting:
        if action.namespace not in covered:
            _refuse(f"{where}: its maxPercent guard for namespace '{action.namespace}' is missing")


def _check_guard(policy: Policy, result: PolicyResult, guard: Guard) -> None:
    where = f"policy '{policy.name}'"
    if guard.name == "maxRecords":
        if guard.limit != policy.guards.max_records or guard.default:
            _refuse(f"{where}: its maxRecords guard is not the policy's limit")
        if guard.value != result.records:
            _refuse(f"{where}: its maxRecords guard does not weigh the policy's records")
    else:
        limit, default = _percent_limit(policy)
        if guard.limit != limit or guard.default != default:
            _refuse(f"{where}: its maxPercent guard is not the policy's limit")
    if not guard.ok and guard.value <= guard.limit:
        _refuse(f"{where}: its {guard.name} guard says it failed at {guard.value:g}")
    if guard.ok and guard.value > guard.limit and not guard.default:
        _refuse(f"{where}: its {guard.name} guard says it held at {guard.value:g}")


def _least_percent(guard: Guard, deleting: Sequence[Action]) -> float:
    """What a maxPercent guard must weigh at least: its namespace's largest action (given
    the namespace's deleting actions)."""
    mine = [a for a in deleting if not (guard.default and a.explicit)]
    if not mine:
        return 0.0
    largest = max(mine, key=lambda a: a.records)
    total = largest.namespace_records
    return round(100 * largest.records / total, 2) if total else 100.0


def _percent_limit(policy: Policy) -> tuple[float | None, bool]:
    if policy.guards.max_percent is not None:
        return policy.guards.max_percent, False
    return DEFAULT_MAX_PERCENT, True


def _refuse(problem: str) -> NoReturn:
    raise PlanError(f"the plan file does not match the policies: {problem}; {_REPLAN}")
