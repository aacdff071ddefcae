"""Before the first delete: is the plan still the truth, and do the guards hold?

Each refusal is one line that says what changed and how to re-plan. Pure: the caller passes
`now`, the current policy digest and hosts, and the recounts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from retention.errors import GuardError, PlanError
from retention.planning.plan import Action, Plan, format_time
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


def check_guards(
    plan: Plan,
    actions: list[Action],
    recounts: Mapping[str, int],
    namespace_totals: Mapping[tuple[str, str], int],
    max_records: int | None,
) -> None:
    """The policies' maxRecords/maxPercent on the recounts, and --max-records for the run.

    A policy's count now is its planned count (each record once) plus what each of its actions
    grew by since planning, so overlapping rules are not counted twice.
    """
    growth = {a.id: recounts[a.id] - a.records for a in actions}
    total = plan.totals.records + sum(growth.values())
    if max_records is not None and total > max_records:
        raise GuardError(
            f"this apply would delete {total:,} records, over --max-records {max_records:,}; "
            "nothing was deleted"
        )
    for policy in plan.policies:
        mine = [a for a in actions if a.policy == policy.name]
        if not mine:
            continue
        n = policy.records + sum(growth[a.id] for a in mine)
        for guard in policy.guards:
            if guard.name == "maxRecords" and n > guard.limit:
                raise GuardError(
                    f"policy '{policy.name}' would delete {n:,} records, over its maxRecords "
                    f"{int(guard.limit):,}; nothing was deleted"
                )
            if guard.name != "maxPercent" or guard.namespace is None:
                continue
            in_ns = [
                a
                for a in mine
                if a.namespace == guard.namespace
                and not (guard.default and a.kind in ("deleteAll", "deleteNamespace"))
            ]
            if not in_ns:
                continue
            # What the guard weighed at planning time, plus what grew since, of the namespace
            # as it is now (its records may have come and gone too).
            planned_of = in_ns[0].namespace_records
            selected = guard.value * planned_of / 100 + sum(growth[a.id] for a in in_ns)
            of = namespace_totals.get((in_ns[0].index, guard.namespace), planned_of)
            pct = 100 * selected / of if of else (100.0 if selected > 0 else 0.0)
            if pct > guard.limit + 0.005:  # the plan rounds percentages to 0.01
                which = "the default guard of" if guard.default else "its maxPercent"
                raise GuardError(
                    f"policy '{policy.name}' would delete {pct:.1f}% of namespace "
                    f"'{guard.namespace}', over {which} {guard.limit:g}"
                    f"{'%' if guard.default else ''}; nothing was deleted"
                )


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"
