"""Before the first delete: is the plan still the truth, and do the guards hold?

Each refusal is one line that says what changed and how to re-plan. Pure: the caller passes
`now`, the current policy digest and hosts, and what the actions select now.

The order the executor asks them in: the plan's age, its sources (policy digest, ID files),
its seal (`planning.sealing`), all without a request; then the index hosts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from retention.errors import GuardError, PlanError
from retention.planning.plan import Action, Plan, PolicyResult, format_time
from retention.planning.planner import DEFAULT_GUARD_MIN_RECORDS
from retention.policy.durations import format_duration

REPLAN = "run `retention plan` again and review the new plan"


def check_age(plan: Plan, *, now: datetime, max_age: timedelta) -> None:
    """The plan is recent enough to be the truth, and not from the future."""
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


def check_hosts(plan: Plan, hosts: Mapping[str, str]) -> None:
    """Each index answers where it did when the plan was made (else it was recreated)."""
    for index, host in sorted(plan.index_hosts.items()):
        now_host = hosts.get(index)
        if now_host is not None and now_host.removeprefix("https://") != host.removeprefix(
            "https://"
        ):
            raise PlanError(
                f"index '{index}' now answers at {now_host}, not {host} as planned (was it "
                f"recreated?); {REPLAN}"
            )


def check_sources(plan: Plan, *, digest: str, changed_files: Sequence[str] = ()) -> None:
    """The policies and ID files are the ones the plan was made from."""
    if changed_files:
        # Also a digest change, but naming the file says what to look at.
        raise PlanError(
            f"ID file {changed_files[0]} changed since the plan was made; nothing was deleted; "
            f"{REPLAN}"
        )
    if digest != plan.sources.digest:
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


def namespace_guard_problem(
    policy: PolicyResult,
    actions: Sequence[Action],
    selected: int,
    weighed: int,
    size: int,
    sent_before: int,
) -> str | None:
    """Why the policy's `actions` in one namespace must not go, or None: its maxRecords on
    what they select now (`selected`, each record once where Pinecone can say) with what the
    run deleted for the policy before (`sent_before`), and its maxPercent (or the default
    guard) on what its non-explicit actions select now (`weighed`) of the namespace's `size`.
    Only the guards' limits come from the plan (sealed against the policies); what they weigh
    is never the plan's own figure, which an edit could lower."""
    record_limits = [g.limit for g in policy.guards if g.name == "maxRecords"]
    if record_limits:
        limit = int(min(record_limits))
        if sent_before + selected > limit:
            where = f"{actions[0].index}/{actions[0].namespace}"
            return (
                f"policy '{policy.name}' would delete {sent_before + selected:,} records with "
                f"those of {where}, over its maxRecords {limit:,}; nothing was deleted there"
            )
    limit_pct, default = percent_guard(policy)
    if limit_pct is None or not size or (default and size < DEFAULT_GUARD_MIN_RECORDS):
        return None
    pct = 100 * min(weighed, size) / size
    if pct > limit_pct + 0.005:  # the plan rounds percentages to 0.01
        which = "the default guard of" if default else "its maxPercent"
        return (
            f"policy '{policy.name}' would delete {pct:.1f}% of namespace "
            f"'{actions[0].namespace}', over {which} {limit_pct:g}{'%' if default else ''}; "
            "nothing was deleted there"
        )
    return None


def percent_guard(policy: PolicyResult | None) -> tuple[float | None, bool]:
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
