"""What a policy change adds or removes: the plan at HEAD against the plan at a base revision,
both made against the same data as of the same moment. This is the view a reviewer of a policy
pull request needs: `+45,000 records in tenant-acme: support-tickets/expire-tickets 90d -> 30d`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retention.filters import identity
from retention.planning.plan import Action, Plan
from retention.policy.durations import format_duration
from retention.policy.model import IdList, IdsWithPrefix, Policy, PolicySet, Rule


@dataclass(frozen=True)
class Change:
    policy: str
    rule: str
    index: str
    namespace: str
    before: int
    after: int
    why: str

    @property
    def records(self) -> int:
        return self.after - self.before


def delta(
    head: Plan, base: Plan, head_policies: PolicySet, base_policies: PolicySet
) -> list[Change]:
    """Per action, how many more (or fewer) records HEAD deletes than the base, and why."""
    before = _counts(base.actions)
    after = _counts(head.actions)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        b, a = before.get(key, 0), after.get(key, 0)
        why = _why(key[0], key[1], head_policies, base_policies)
        if a != b or why:
            changes.append(Change(*key, before=b, after=a, why=why))
    return changes


def render_delta(changes: Sequence[Change], ref: str) -> str:
    if not changes:
        return f"Compared with {ref}: no change in what would be deleted.\n"
    lines = [f"Compared with {ref}:"]
    for c in changes:
        sign = "+" if c.records > 0 else "-" if c.records < 0 else "±"
        lines.append(
            f"{sign}{abs(c.records):,} records in {c.namespace}: {c.policy}/{c.rule}"
            + (f" {c.why}" if c.why else "")
        )
    net = sum(c.records for c in changes)
    lines.append(f"Net: {'+' if net >= 0 else '-'}{abs(net):,} records.")
    return "\n".join(lines) + "\n"


def _counts(actions: Iterable[Action]) -> dict[tuple[str, str, str, str], int]:
    return {(a.policy, a.rule, a.index, a.namespace): a.records for a in actions}


def _holds(policies: PolicySet) -> set[tuple[object, ...]]:
    return {(h.name, h.index, h.namespaces, h.protect) for h in policies.holds}


def _find(policies: PolicySet, policy: str, rule: str) -> tuple[Policy | None, Rule | None]:
    for p in policies.policies:
        if p.name == policy:
            return p, next((r for r in p.rules if r.name == rule), None)
    return None, None


def _why(policy: str, rule: str, head: PolicySet, base: PolicySet) -> str:
    hp, hr = _find(head, policy, rule)
    bp, br = _find(base, policy, rule)
    if hp is None:
        return "(policy removed)"
    if bp is None:
        return "(new policy)"
    if hr is None:
        return "(rule removed)"
    if br is None:
        return "(new rule)"
    parts = []
    if hr.ttl and br.ttl and hr.ttl.older_than != br.ttl.older_than:
        parts.append(
            f"{format_duration(br.ttl.older_than)} -> {format_duration(hr.ttl.older_than)}"
        )
    if identity(hr.where) != identity(br.where):
        parts.append("where changed")
    if hr.kind != br.kind or _listed(hr) != _listed(br):
        parts.append("selection changed")
    elif hr.ids_file and br.ids_file and hr.ids_file.sha256 != br.ids_file.sha256:
        # The base revision's files are read from a scratch copy, so paths always differ:
        # only the content says whether the selection did.
        parts.append("ID file changed")
    if [identity(p) for p in hp.protect] != [identity(p) for p in bp.protect]:
        parts.append("protections changed")
    if hp.namespaces != bp.namespaces:
        parts.append("namespaces changed")
    if hp.guards != bp.guards or hp.mode != bp.mode:
        parts.append("guards or mode changed")
    if _holds(head) != _holds(base) and not parts:
        parts.append("legal holds changed")
    return ", ".join(parts)


def _listed(rule: Rule) -> tuple[str, ...] | str | None:
    """The IDs or prefix a rule names in the policy itself."""
    s = rule.selects
    return s.ids if isinstance(s, IdList) else s.prefix if isinstance(s, IdsWithPrefix) else None
