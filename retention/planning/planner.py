"""Policies + the live index -> a Plan. Pure: the inventory answers, `now` is given.

The planner fails closed: any read that fails raises, and no partial plan is ever returned.
Namespaces run as a bounded stream (the client's rate limiter keeps that within Pinecone's
limits, and the stream keeps memory and scheduling flat however many namespaces there are).

A plan costs what it must: one count per (rule, namespace) (a dry-run update on a vector
index, a filtered fetch of one field per 10,000 matches on a document index); one more per namespace for
the union when two of its actions select records; a TTL field check per (namespace, field),
one count where every record of the namespace holds a number there; overlaps derived from the
counts already made where they can be (a + b - union for two actions), counted only for pairs
that can share a record; and sample IDs for the first `samples` actions only.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from retention.errors import NotFound
from retention.filters import and_, disjoint, or_, surely
from retention.planning.inventory import IndexKind, Inventory, NamespaceInfo
from retention.planning.kinds import check_fields
from retention.planning.operations import operations
from retention.planning.plan import Action, Guard, Overlap, Plan, PolicyResult, Sources, Totals
from retention.planning.strategies import (
    Context,
    SampleBudget,
    Selection,
    invalid_words,
    plan_rule,
)
from retention.planning.streams import bounded
from retention.policy.model import LegalHold, NamespaceSelector, Policy, PolicySet
from retention.quotas import PUBLISHED, Quota

DEFAULT_MAX_PERCENT = 50.0
"""The guard of a policy without `limits.maxPercent`: no run deletes more than this share of a
namespace, except through an explicit deleteAll/deleteNamespace rule."""
DEFAULT_GUARD_MIN_RECORDS = 100
"""The default guard leaves namespaces smaller than this alone (a few records are no blast)."""
DEFAULT_SAMPLES = 50
"""Actions whose plan entry shows sample IDs: enough to review, without a fetch per action."""
MAX_NAMESPACES_AT_ONCE = 256


@dataclass(frozen=True)
class PlanOptions:
    tool_version: str
    git_revision: str | None = None
    sample_size: int = 5
    """Sample IDs shown per action."""
    samples: int = DEFAULT_SAMPLES
    """Actions that carry sample IDs, at most (each one fetch-by-metadata request); 0: none."""
    quotas: tuple[Quota, ...] = PUBLISHED
    namespaces_at_once: int | None = None
    """Namespaces planned concurrently; by default enough to keep every index at its limit."""
    progress: Callable[[int, int], object] | None = None
    """Called with (namespaces done, namespaces in all) as namespaces finish."""


@dataclass
class _Namespace:
    index: str
    info: NamespaceInfo
    policies: list[Policy]
    selections: list[Selection] = field(default_factory=list)
    unions: dict[frozenset[str], int] = field(default_factory=dict)
    overlaps: list[Overlap] = field(default_factory=list)


def namespaces_at_once(
    quotas: Mapping[str, Quota], *, fallback: int = MAX_NAMESPACES_AT_ONCE
) -> int:
    """Namespaces in progress at once: twice what the per-index count limit needs to stay busy
    while each namespace waits on its own limit (500/s per index over 5/s per namespace: 200);
    `fallback` where those limits are not paced."""
    index = quotas.get("update_by_metadata_requests_per_s_index")
    one = quotas.get("update_by_metadata_requests_per_s_namespace")
    if index is None or one is None:
        return fallback
    return max(8, min(MAX_NAMESPACES_AT_ONCE, math.ceil(2 * index.per_second / one.per_second)))


async def make_plan(
    policies: PolicySet, inventory: Inventory, *, now: datetime, options: PlanOptions
) -> Plan:
    """The deletion plan for `policies` against the data `inventory` sees, as of `now`.

    Namespaces are planned as a bounded stream (`namespaces_at_once`), each one start to finish:
    its rules, its per-policy totals and its overlaps. What depends on every namespace (which
    policies are blocked) is decided after; only namespaces shared by a blocked and a ready
    policy are asked again, for the ready policies' union.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    quotas = {q.name: q for q in options.quotas}
    hosts, kinds, listings = await _indexes(inventory, policies)
    check_fields(policies, kinds)
    samples = SampleBudget(options.samples)
    ctx = Context(inventory, now, options.sample_size, quotas, samples=samples, kinds=kinds)
    namespaces, unmatched, warnings = _covered(policies, listings)
    unmatched_holds = await _unmatched_holds(ctx, policies, listings)
    warnings.extend(_hold_warning(hold, reason) for hold, reason in unmatched_holds)
    warnings.extend(_idle_hold_patterns(policies, listings))

    tallies = _Tallies()
    width = options.namespaces_at_once or namespaces_at_once(quotas)

    async def plan_namespace(ns: _Namespace) -> None:
        await _plan_namespace(ctx, policies, ns, tallies)
        if options.progress is not None:
            options.progress(tallies.done, len(namespaces))

    await bounded(namespaces, plan_namespace, width)
    invalid = tuple(s.invalid for ns in namespaces for s in ns.selections if s.invalid is not None)
    warnings.extend(invalid_words(t) for t in invalid)
    actions = [s.action for ns in namespaces for s in ns.selections]
    results = operations(policies, tallies.results(policies, namespaces), actions, now, warnings)
    # Totals count what an apply would delete: ready policies, each record once.
    ready = {r.name for r in results if r.status == "ready"}
    union_total = await _ready_union(ctx, namespaces, ready, width)
    by_id = {a.id: a for a in actions}
    return Plan(
        as_of=now,
        tool_version=options.tool_version,
        sources=Sources(policies.files, policies.digest, options.git_revision),
        index_hosts=hosts,
        actions=tuple(actions),
        policies=results,
        overlaps=tuple(
            o
            for ns in namespaces
            for o in ns.overlaps
            if all(by_id[i].policy in ready for i in o.actions)
        ),
        unmatched_namespaces=tuple(unmatched),
        warnings=tuple(warnings),
        unmatched_holds=tuple(hold.name for hold, _ in unmatched_holds),
        invalid_timestamps=invalid,
        totals=_totals(actions, union_total, ctx, ready),
    )


async def _indexes(
    inventory: Inventory, policies: PolicySet
) -> tuple[dict[str, str], dict[str, IndexKind], dict[str, Sequence[NamespaceInfo]]]:
    """Each index the policies name: its host, its kind, and its namespaces."""
    names = sorted({p.index for p in policies.policies})
    hosts = await asyncio.gather(*(inventory.index_host(i) for i in names))
    kinds = await asyncio.gather(*(inventory.index_kind(i) for i in names))
    listings = await asyncio.gather(*(inventory.namespaces(i) for i in names))
    return (
        dict(zip(names, hosts, strict=True)),
        dict(zip(names, kinds, strict=True)),
        dict(zip(names, listings, strict=True)),
    )


def _covered(
    policies: PolicySet, listings: Mapping[str, Sequence[NamespaceInfo]]
) -> tuple[list[_Namespace], list[tuple[str, str]], list[str]]:
    """The namespaces some policy covers (with those policies), the ones none covers, and a
    warning for each policy that matches no namespace."""
    namespaces: list[_Namespace] = []
    unmatched: list[tuple[str, str]] = []
    warnings: list[str] = []
    for index, listing in listings.items():
        mine = [p for p in policies.policies if p.index == index]
        matched_by: dict[str, int] = {p.name: 0 for p in mine}
        for info in sorted(listing, key=lambda n: n.name):
            chosen = [p for p in mine if p.namespaces.matches(info.name)]
            if not chosen:
                unmatched.append((index, info.name))
                continue
            namespaces.append(_Namespace(index, info, chosen))
            for policy in chosen:
                matched_by[policy.name] += 1
        warnings.extend(
            f"policy '{name}' matches no namespace of index '{index}'"
            for name, n in matched_by.items()
            if not n
        )
    return namespaces, unmatched, warnings


@dataclass
class _Tallies:
    """Each policy's records per namespace, each record once; what the default guard weighs
    (the records of rules that are not explicit opt-ins); namespaces planned so far."""

    per_policy_ns: dict[tuple[str, str, str], int] = field(default_factory=dict)
    guarded_ns: dict[tuple[str, str, str], int] = field(default_factory=dict)
    done: int = 0

    def results(
        self, policies: PolicySet, namespaces: Sequence[_Namespace]
    ) -> tuple[PolicyResult, ...]:
        per_policy: dict[str, int] = {p.name: 0 for p in policies.policies}
        for (name, _, _), count in self.per_policy_ns.items():
            per_policy[name] += count
        return tuple(
            _result(p, per_policy[p.name], self.per_policy_ns, self.guarded_ns, namespaces)
            for p in policies.policies
        )


async def _plan_namespace(
    ctx: Context, policies: PolicySet, ns: _Namespace, tallies: _Tallies
) -> None:
    """One namespace start to finish: its rules, its per-policy unions, its overlaps."""
    keep = _needs_ids(ns)
    ns.selections.extend(
        await asyncio.gather(
            *(
                plan_rule(
                    ctx,
                    policy,
                    rule,
                    ns.info,
                    policies.protections_for(policy, ns.info.name),
                    keep_ids=keep,
                )
                for policy in ns.policies
                for rule in policy.rules
            )
        )
    )
    for policy in ns.policies:
        own = [s for s in ns.selections if s.action.policy == policy.name]
        key = (policy.name, ns.index, ns.info.name)
        tallies.per_policy_ns[key] = await _union(ctx, ns, own)
        if policy.guards.max_percent is None:
            plain = [s for s in own if not s.action.explicit]
            tallies.guarded_ns[key] = (
                tallies.per_policy_ns[key]
                if len(plain) == len(own)
                else await _union(ctx, ns, plain)
            )
    await _union(ctx, ns, ns.selections)
    ns.overlaps = await _overlaps(ctx, ns, ns.selections)
    tallies.done += 1


async def _ready_union(
    ctx: Context, namespaces: Sequence[_Namespace], ready: set[str], width: int
) -> int:
    """Records the ready policies delete, each once. Only namespaces shared by a blocked and a
    ready policy are asked again, for the ready policies' union."""
    total = 0
    mixed: list[_Namespace] = []
    for ns in namespaces:
        counted = [s for s in ns.selections if s.action.policy in ready]
        if len(counted) == len(ns.selections):
            total += ns.unions[frozenset(s.action.id for s in counted)]
        else:
            mixed.append(ns)

    async def count_ready(ns: _Namespace) -> None:
        nonlocal total
        total += await _union(ctx, ns, [s for s in ns.selections if s.action.policy in ready])

    await bounded(mixed, count_ready, width)
    return total


def _needs_ids(ns: _Namespace) -> bool:
    """Whether an ID action here must keep what it selected, to count overlaps with another
    action of the namespace; alone, it keeps only its count and samples (a million-ID erasure
    list is not held in memory twice)."""
    return sum(len(p.rules) for p in ns.policies) > 1


async def _unmatched_holds(
    ctx: Context, policies: PolicySet, listings: Mapping[str, Sequence[NamespaceInfo]]
) -> list[tuple[LegalHold, str]]:
    """Holds that protect nothing, and why: a mistyped index or pattern must not pass silently.

    Indexes that no policy uses are looked up here too; one that does not exist is named.
    """
    found: list[tuple[LegalHold, str]] = []
    known = dict(listings)
    for hold in policies.holds:
        if hold.index not in known:
            try:
                await ctx.inventory.index_host(hold.index)
                known[hold.index] = await ctx.inventory.namespaces(hold.index)
            except NotFound:
                found.append((hold, f"index '{hold.index}' does not exist"))
                continue
        if not any(hold.namespaces.matches(info.name) for info in known[hold.index]):
            found.append((hold, f"no namespace of index '{hold.index}' matches its patterns"))
    return found


def _idle_hold_patterns(
    policies: PolicySet, listings: Mapping[str, Sequence[NamespaceInfo]]
) -> list[str]:
    """Include patterns of holds that do protect something, but match no namespace themselves:
    one mistyped name among several must not pass silently either."""
    idle = []
    for hold in policies.holds:
        listing = listings.get(hold.index)
        if not listing or not any(hold.namespaces.matches(n.name) for n in listing):
            continue  # reported as a hold that protects nothing
        for pattern in hold.namespaces.include:
            if not any(NamespaceSelector((pattern,)).matches(n.name) for n in listing):
                idle.append(
                    f"legal hold '{hold.name}': pattern '{pattern}' matches no namespace of "
                    f"index '{hold.index}'; check spec.namespaces.include"
                )
    return idle


def _hold_warning(hold: LegalHold, reason: str) -> str:
    patterns = ", ".join(hold.namespaces.include)
    return (
        f"legal hold '{hold.name}' protects nothing: {reason} (namespaces: {patterns}); "
        "check its spec.index and spec.namespaces"
    )


async def _union(ctx: Context, ns: _Namespace, selections: Sequence[Selection]) -> int:
    """How many distinct records the selections cover (cached per set of actions)."""
    key = frozenset(s.action.id for s in selections)
    if key not in ns.unions:
        ns.unions[key] = await _count_union(ctx, ns, selections)
    return ns.unions[key]


async def _count_union(ctx: Context, ns: _Namespace, selections: Sequence[Selection]) -> int:
    if len(selections) < 2:
        return selections[0].action.records if selections else 0
    if any(s.everything for s in selections):
        return ns.info.records
    filtered = [s.filter for s in selections if s.filter is not None and s.action.records]
    listed = [s for s in selections if s.filter is None and s.action.records]
    union = 0
    if len(filtered) == 1:
        union = next(
            s.action.records for s in selections if s.filter is not None and s.action.records
        )
    elif filtered:
        union = await ctx.inventory.count(ns.index, ns.info.name, or_(*filtered))
    checks = [surely(f) for f in filtered]
    seen: set[str] = set()
    for s in listed:
        for record_id, metadata in s.ids.items():
            if record_id not in seen and not any(check(metadata) for check in checks):
                seen.add(record_id)
    return union + len(seen)


async def _overlaps(ctx: Context, ns: _Namespace, selections: Sequence[Selection]) -> list[Overlap]:
    """Which pairs of actions select the same records. Every pair of actions that delete is
    checked: from counts already made where possible, not at all where their filters cannot
    both hold, by one count otherwise."""
    pairs = []
    deleting = [s for s in selections if s.action.records]
    for i, a in enumerate(deleting):
        for b in deleting[i + 1 :]:
            if a.everything or b.everything:
                both = min(a.action.records, b.action.records)
            else:
                both = await _intersection(ctx, ns, a, b)
            if both:
                pairs.append(Overlap(ns.index, ns.info.name, (a.action.id, b.action.id), both))
    return pairs


async def _intersection(ctx: Context, ns: _Namespace, a: Selection, b: Selection) -> int:
    if not a.action.records or not b.action.records:
        return 0
    if a.filter is not None and b.filter is not None:
        union = ns.unions.get(frozenset((a.action.id, b.action.id)))
        if union is not None:
            # Counted already: |A and B| = |A| + |B| - |A or B| (clamped: the three counts were
            # taken moments apart, and records may have come and gone in between).
            both_n = a.action.records + b.action.records - union
            return max(0, min(both_n, a.action.records, b.action.records))
        if disjoint(a.filter, b.filter):
            return 0
        both = and_(a.filter, b.filter)
        assert both is not None
        return await ctx.inventory.count(ns.index, ns.info.name, both)
    if a.filter is None and b.filter is None:
        return len(a.ids.keys() & b.ids.keys())
    listed, filtered = (a, b) if a.filter is None else (b, a)
    assert filtered.filter is not None
    check = surely(filtered.filter)
    return sum(1 for m in listed.ids.values() if check(m))


def _result(
    policy: Policy,
    records: int,
    per_ns: Mapping[tuple[str, str, str], int],
    guarded_ns: Mapping[tuple[str, str, str], int],
    namespaces: Sequence[_Namespace],
) -> PolicyResult:
    guards: list[Guard] = []
    if policy.guards.max_records is not None:
        limit = policy.guards.max_records
        guards.append(Guard("maxRecords", limit, records, records <= limit))
    mine = [ns for ns in namespaces if ns.index == policy.index]
    if policy.guards.max_percent is not None:
        limit_pct = policy.guards.max_percent
        for ns in mine:
            count = per_ns.get((policy.name, ns.index, ns.info.name))
            if count is not None:
                guards.append(_percent(limit_pct, count, ns))
    else:
        for ns in mine:
            count = guarded_ns.get((policy.name, ns.index, ns.info.name))
            if count is not None:
                guards.append(_percent(DEFAULT_MAX_PERCENT, count, ns, default=True))
    breached = [g for g in guards if not g.ok]
    if breached:
        g = breached[0]
        if g.name == "maxRecords":
            reason = f"it would delete {int(g.value):,} records, over maxRecords {int(g.limit):,}"
        elif g.default:
            reason = (
                f"it would delete {g.value:g}% of namespace '{g.namespace}', over the default "
                f"guard of {g.limit:g}% for a namespace of {DEFAULT_GUARD_MIN_RECORDS} or more "
                "records; set spec.limits.maxPercent to allow it, or say deleteAll: true"
            )
        else:
            reason = f"it would delete {g.value:g}% of namespace '{g.namespace}', over maxPercent {g.limit:g}"
        return PolicyResult(policy.name, "blocked", records, tuple(guards), reason)
    if policy.mode == "observe":
        return PolicyResult(
            policy.name, "observe", records, tuple(guards), "observe mode: plan only"
        )
    return PolicyResult(policy.name, "ready", records, tuple(guards))


def _percent(limit: float, count: int, ns: _Namespace, *, default: bool = False) -> Guard:
    """A maxPercent guard for one namespace; the default one lets small namespaces be."""
    total = ns.info.records
    pct = round(100 * count / total, 2) if total else (100.0 if count else 0.0)
    ok = pct <= limit or (default and total < DEFAULT_GUARD_MIN_RECORDS)
    return Guard("maxPercent", limit, pct, ok, ns.info.name, default)


def _totals(actions: Sequence[Action], union: int, ctx: Context, ready: set[str]) -> Totals:
    """Requests and the time an apply takes at the rate limits: namespaces and indexes run
    concurrently; ID deletes share the index's records/s, filtered deletes a namespace's
    requests/s."""
    deleting = [a for a in actions if a.records and a.policy in ready]
    index_rate = ctx.quotas["delete_records_per_s_index"].per_second
    seconds = 0.0
    for index in {a.index for a in deleting}:
        mine = [a for a in deleting if a.index == index]
        by_ids = sum(a.records for a in mine if a.kind == "deleteByIds") / index_rate
        per_ns: dict[str, float] = {}
        for a in mine:
            if a.kind != "deleteByIds":
                per_ns[a.namespace] = per_ns.get(a.namespace, 0.0) + a.seconds
        seconds = max(seconds, by_ids + max(per_ns.values(), default=0.0))
    return Totals(
        records=union,
        namespaces=len({(a.index, a.namespace) for a in deleting}),
        indexes=len({a.index for a in deleting}),
        actions=len(deleting),
        requests=sum(a.requests for a in deleting),
        seconds=seconds,
    )
