"""What a plan says about running each policy, beyond its records: suspension, windows,
records past their TTL, and the backup a large apply takes first. Pure: given `now`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from retention.planning.plan import Action, PolicyResult, Window, format_time
from retention.policy.model import Policy, PolicySet

SUSPENDED = "spec.suspend is true: planned and observed, nothing deleted"


def operations(
    policies: PolicySet,
    results: Sequence[PolicyResult],
    actions: Sequence[Action],
    now: datetime,
    warnings: list[str],
) -> tuple[PolicyResult, ...]:
    """The results with suspension, windows and overdue counts; the backups a large apply
    takes first go to `warnings`."""
    by_name = {p.name: p for p in policies.policies}
    out: list[PolicyResult] = []
    for result in results:
        policy = by_name[result.name]
        result = replace(
            result,
            overdue=_overdue(policy, actions),
            window=_window(policy, now),
        )
        if policy.suspend and result.status in ("ready", "observe"):
            result = replace(result, status="suspended", reason=SUSPENDED)
        out.append(result)
        warning = _backup_warning(policy, result)
        if warning:
            warnings.append(warning)
    return tuple(out)


def _overdue(policy: Policy, actions: Sequence[Action]) -> int:
    """Records past the cutoff of one of the policy's TTL rules (and not protected): what its
    TTL actions select, a record two TTL rules select counted under each."""
    ttl_rules = {r.name for r in policy.rules if r.ttl is not None}
    return sum(a.records for a in actions if a.policy == policy.name and a.rule in ttl_rules)


def _window(policy: Policy, now: datetime) -> Window | None:
    windows = policy.windows
    if not windows:
        return None
    if windows.is_open(now):
        return Window(True, opens=None, closes=windows.closes_at(now), text=windows.describe())
    return Window(False, opens=windows.opens_at(now), closes=None, text=windows.describe())


def _backup_warning(policy: Policy, result: PolicyResult) -> str | None:
    limit = policy.guards.backup_above
    if limit is None or result.records <= limit or result.status != "ready":
        return None
    return (
        f"policy '{policy.name}' deletes {result.records:,} records, over its backupAbove "
        f"{limit:,}: the apply first backs up index '{policy.index}' and waits until the "
        "backup is Ready; the backup keeps the deleted records until the backup itself is "
        "deleted, so an erasure must also cover backups"
    )


def window_words(window: Window) -> str:
    """`outside window (opens 2026-12-02T22:00:00Z)`, or `inside window (closes ...)`."""
    if window.open:
        when = f" until {format_time(window.closes)}" if window.closes else ""
        return f"inside its window{when}"
    when = f"; opens {format_time(window.opens)}" if window.opens else "; does not open this week"
    return f"outside its window{when}"
