"""Before the first delete: is the plan still the truth, and do the guards hold?

Each refusal is one line that says what changed and how to re-plan. Pure: the caller passes
`now`, the current policy digest and hosts, and the recounts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from retention.errors import GuardError, PlanError
from retention.planning.plan import Action, Plan, PolicyResult, format_time
from retention.planning.planner import DEFAULT_GUARD_MIN_RECORDS
from retention.policy.durations import format_duration

REPLAN = "run `retention plan` again and review the new plan"


def check_fresh(
    plan: Plan,
    *,
    now: datetime,
    max_age: timedelta,
    digest: str | None,
    hosts: Mapping[str, str],
    changed_files: Sequence[str] = (),
) -> None:
    age = now - plan.as_of
    if age > max_age:
        raise PlanError(
            f"the plan is stale: made at {format_time(plan.as_of)}, {_hours(age)} ago, and plans "
            f"expire after {format_duration(max_age)}; {REPLAN}"
        )
    if age < -timedelta(minutes=5):
        raise PlanError(
            f"the plan is dated in the future ({format_time(plan.as_of)}); plans made with --at "
            f"are for reading, not applying; {REPLAN}"
        )
    check_sources(plan, digest=digest, changed_files=changed_files)
    for index, host in sorted(plan.index_hosts.items()):
        now_host = hosts.get(index)
        if now_host is not None and now_host.removeprefix("https://") != host.removeprefix(
            "https://"
        ):
            raise PlanError(
                f"index '{index}' now answers at {now_host}, not {host} as planned (was it "
                f"recreated?); {REPLAN}"
            )


def check_sources(plan: Plan, *, digest: str | None, changed_files: Sequence[str] = ()) -> None:
    """The policies and ID files are the ones the plan was made from."""
    if changed_files:
        # Also a digest change, but naming the file says what to look at.
        raise PlanError(
            f"ID file {changed_files[0]} changed since the plan was made; nothing was deleted; "
            f"{REPLAN}"
        )
    if digest is not None and digest != plan.sources.digest:
        raise PlanError(
            f"the policies changed since the plan was made ({plan.sources.digest[:19]} -> "
            f"{digest[:19]}); {REPLAN}"
        )


def check_blocked(plan: Plan) -> None:
    blocked = [p for p in plan.policies if p.status == "blocked"]
    if blocked:
        p = blocked[0]
        raise GuardError(
            f"policy '{p.name}' is blocked by its guards in this plan ({p.reason}); nothing was "
            "deleted; raise the limit in the policy or narrow its rules, then re-plan"
        )


def check_growth(actions: list[Action], recounts: Mapping[str, int], tolerance: float) -> None:
    for action in actions:
        now = recounts[action.id]
        allowed = math.ceil(action.records * (1 + tolerance))
        if now > allowed:
            raise PlanError(
                f"{action.policy}/{action.rule} in {action.index}/{action.namespace} now selects "
                f"{now:,} records, {now - action.records:,} more than the {action.records:,} "
                f"planned (tolerance {tolerance:.0%}); nothing was deleted; {REPLAN}"
            )


def guard_groups(plan: Plan, actions: Sequence[Action]) -> set[frozenset[str]]:
    """The sets of actions (ids, each set within one namespace) whose records the guards weigh
    now: all of a namespace's, for --max-records; each policy's there, for its own guards
    (without explicit deleteAll/deleteNamespace actions, for a default guard)."""
    groups: set[frozenset[str]] = set()
    guarded = {p.name: p for p in plan.policies}
    for key in {(a.index, a.namespace) for a in actions}:
        here = [a for a in actions if (a.index, a.namespace) == key]
        groups.add(frozenset(a.id for a in here))
        for name in {a.policy for a in here}:
            mine = [a for a in here if a.policy == name]
            groups.add(frozenset(a.id for a in mine))
            if _percent_guard(guarded.get(name))[1]:
                plain = frozenset(a.id for a in mine if not a.explicit)
                if plain:
                    groups.add(plain)
    return groups


def check_guards(
    plan: Plan,
    actions: Sequence[Action],
    selected: Mapping[frozenset[str], int],
    sizes: Mapping[tuple[str, str], int],
    max_records: int | None,
) -> None:
    """The policies' maxRecords/maxPercent, and --max-records for the run, on fresh numbers.

    `selected` holds what each group of `guard_groups` selects now (each record once where
    Pinecone can count it so, else the sum of the actions' counts), and `sizes` each
    namespace's records now. Only the guards' limits come from the plan (sealed against the
    policies); what they weigh is never the plan's own figure, which an edit could lower.
    """
    keys = sorted({(a.index, a.namespace) for a in actions})

    def group(acts: Sequence[Action]) -> int:
        return selected[frozenset(a.id for a in acts)] if acts else 0

    total = sum(group([a for a in actions if (a.index, a.namespace) == k]) for k in keys)
    if max_records is not None and total > max_records:
        raise GuardError(
            f"this apply would delete {total:,} records, over --max-records {max_records:,}; "
            "nothing was deleted"
        )
    for policy in plan.policies:
        mine = [a for a in actions if a.policy == policy.name]
        if not mine:
            continue
        here = {k: [a for a in mine if (a.index, a.namespace) == k] for k in keys}
        record_limits = [g.limit for g in policy.guards if g.name == "maxRecords"]
        n = sum(group(acts) for acts in here.values())
        if record_limits and n > min(record_limits):
            raise GuardError(
                f"policy '{policy.name}' would delete {n:,} records, over its maxRecords "
                f"{int(min(record_limits)):,}; nothing was deleted"
            )
        limit, default = _percent_guard(policy)
        if limit is None:
            continue
        for (index, namespace), acts in here.items():
            weighed = [a for a in acts if not (default and a.explicit)]
            of = sizes.get((index, namespace), 0)
            if not weighed or not of or (default and of < DEFAULT_GUARD_MIN_RECORDS):
                continue
            pct = 100 * min(group(weighed), of) / of
            if pct > limit + 0.005:  # the plan rounds percentages to 0.01
                which = "the default guard of" if default else "its maxPercent"
                raise GuardError(
                    f"policy '{policy.name}' would delete {pct:.1f}% of namespace "
                    f"'{namespace}', over {which} {limit:g}{'%' if default else ''}; "
                    "nothing was deleted"
                )


def _percent_guard(policy: PolicyResult | None) -> tuple[float | None, bool]:
    """The maxPercent limit a policy's guards carry (sealed: the policy's, or the default)."""
    if policy is None:
        return None, False
    for guard in policy.guards:
        if guard.name == "maxPercent":
            return guard.limit, guard.default
    return None, False


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"
