"""For one rule in one namespace, the cheapest exact way to delete what it selects.

- `deleteByFilter` when Pinecone can evaluate the whole condition, protections folded in: one
  request per namespace, whatever the number of records.
- `deleteByIds` when it cannot: ID lists, ID files, prefixes, and conditions whose protections
  cannot be folded safely. IDs are enumerated now to count them exactly and enumerated again by
  the apply, which re-checks each record's metadata just before deleting it.
- `deleteAll` / `deleteNamespace` only when the policy says so and nothing in the namespace is
  protected; with protections they become a filtered delete of everything unprotected.

Folding relies on `$ne`/`$nin`, whose behaviour on missing and list fields Pinecone does not
document. So a fold is never taken on our reading of them: Pinecone itself must count no record
that matches both the folded filter and a protection (`count(F and (P1 or P2 ...)) == 0`), and
the apply asks again just before it deletes. Otherwise the planner falls back to enumerating the
matches and deciding client-side, sparing a record that any plausible reading protects.

What an action is (its form) comes from `forms`, from the policies alone; this module adds what
the index says (counts, samples), so a plan file can be checked against the policies later.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retention.errors import PlanError
from retention.filters import (
    Compare,
    Filter,
    Metadata,
    Predicate,
    and_,
    is_number,
    or_,
    possibly,
    surely,
)
from retention.identifiers import LIST_PAGE, MAX_IDS_PER_REQUEST
from retention.planning.forms import Form, Forms, forms
from retention.planning.inventory import VECTOR_INDEX, IndexKind, Inventory, NamespaceInfo
from retention.planning.plan import (
    Action,
    ByFilter,
    ByIds,
    CountMethod,
    IdFile,
    IdPrefix,
    IdSource,
    InlineIds,
    InvalidTimestamps,
)
from retention.policy.model import Policy, Rule
from retention.quotas import BY_NAME, Quota

TTL_CHECK_ATTEMPTS = 4


@dataclass
class Selection:
    """What an action selects, kept for counting overlaps between actions."""

    action: Action
    everything: bool = False
    filter: Filter | None = None
    ids: dict[str, Metadata] = field(default_factory=dict)
    invalid: InvalidTimestamps | None = None


class SampleBudget:
    """How many more actions may fetch sample IDs: each costs a fetch-by-metadata request, and
    a plan over ten thousand namespaces needs a few examples to review, not twenty thousand."""

    def __init__(self, actions: int) -> None:
        if actions < 0:
            raise ValueError(f"samples must not be negative, got: {actions}")
        self.left = actions

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True)
class Context:
    inventory: Inventory
    now: datetime
    sample_size: int
    quotas: Mapping[str, Quota]
    ttl_checks: dict[tuple[str, str, str], asyncio.Task[int | None]] = field(default_factory=dict)
    """(index, namespace, field) -> how many records hold a non-number there, shared by the
    rules that use the field, so a namespace whose records all hold a number there costs one
    count."""
    samples: SampleBudget = field(default_factory=lambda: SampleBudget(1_000_000))
    kinds: Mapping[str, IndexKind] = field(default_factory=dict)
    """The kind of each index the policies target (a vector index when absent)."""


async def plan_rule(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    protections: Sequence[Filter],
    *,
    keep_ids: bool = True,
) -> Selection:
    """The action for `rule` of `policy` in namespace `ns`; `keep_ids=False` when no other
    action of the namespace needs its selected IDs (for overlaps), only their count."""
    options = forms(policy, rule, protections, now=ctx.now, namespace_records=ns.records)
    preferred = options.preferred
    if preferred.kind == "deleteByIds":
        return await _by_ids(ctx, policy, rule, ns, preferred, keep_ids)
    if preferred.kind != "deleteByFilter":
        action = _action(
            policy,
            rule,
            ns,
            preferred,
            records=ns.records,
            method="namespaceStats",
            requests=1,
            seconds=0.0,
        )
        return Selection(action, everything=True)
    return await _by_filter(ctx, policy, rule, ns, options, protections)


async def _by_filter(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    options: Forms,
    protections: Sequence[Filter],
) -> Selection:
    """A filtered delete, counted by Pinecone; by IDs instead when Pinecone counts a record
    that both the folded filter and a protection match."""
    preferred = options.preferred.deletes
    assert isinstance(preferred, ByFilter) and options.fallback is not None
    inv, index, name = ctx.inventory, policy.index, ns.name
    invalid = None
    if rule.ttl is not None:
        invalid = _found_invalid(
            ctx, policy, rule, ns, await _invalid_timestamps(ctx, policy, rule, ns)
        )
    folded = preferred.filter
    records = await inv.count(index, name, folded)
    # Samples come under their own limit (fetch by metadata), alongside the proof count.
    sampling = (
        asyncio.ensure_future(inv.sample(index, name, folded, ctx.sample_size))
        if records and ctx.sample_size and ctx.samples.take()
        else None
    )
    try:
        spoiled = bool(records and protections) and await _spoiled(
            ctx, policy, ns, folded, protections
        )
    except BaseException:
        if sampling is not None:
            sampling.cancel()
        raise
    if spoiled:
        if sampling is not None:
            sampling.cancel()
        fallback = await _by_ids(ctx, policy, rule, ns, options.fallback)
        fallback.invalid = invalid
        return fallback
    samples = await sampling if sampling is not None else ()
    action = _action(
        policy,
        rule,
        ns,
        options.preferred,
        records=records,
        method="filteredFetch" if ctx.kinds.get(index, VECTOR_INDEX).documents else "dryRunCount",
        samples=tuple(samples)[: ctx.sample_size],
        requests=1,
        seconds=1 / _rate(ctx, "delete_by_metadata_requests_per_s_namespace"),
    )
    return Selection(action, filter=folded, invalid=invalid)


async def _spoiled(
    ctx: Context, policy: Policy, ns: NamespaceInfo, folded: Filter, protections: Sequence[Filter]
) -> bool:
    """Never our reading of Pinecone's filters: Pinecone itself must count no record that
    both the folded filter and a protection match, or the records are checked one by one."""
    both = and_(folded, or_(*protections))
    assert both is not None
    return await ctx.inventory.count(policy.index, ns.name, both) > 0


async def _by_ids(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    form: Form,
    keep_ids: bool = True,
) -> Selection:
    assert isinstance(form.deletes, ByIds)
    source, condition = form.deletes.source, form.deletes.where
    batches, listed = _batches(ctx, policy, ns, source)
    # The same decision the apply makes on fresh metadata: the condition under every reading
    # of Pinecone's filters, no protection under any.
    keep = surely(condition) if condition is not None else None
    protected = [possibly(p) for p in form.deletes.protect]
    # An ID rule with olderThan checks each record's time field here, so it counts the records
    # whose field holds no number itself (a filter rule asks Pinecone: `_invalid_timestamps`).
    ttl_field = rule.ttl.field if rule.ttl is not None and listed is False else None
    where = surely(rule.where) if rule.where is not None else None
    picked = await _pick(batches, keep, protected, ttl_field, where, keep_ids, ctx.sample_size)
    n, shown, invalid, selected = picked.records, picked.shown, picked.invalid, picked.selected
    pages = math.ceil(n / LIST_PAGE) if isinstance(source, IdPrefix) else 0
    batches_n = math.ceil(n / MAX_IDS_PER_REQUEST)
    action = _action(
        policy,
        rule,
        ns,
        form,
        records=n,
        method="enumeration",
        samples=tuple(shown),
        requests=2 * batches_n + pages,
        seconds=n / _rate(ctx, "delete_records_per_s_namespace"),
    )
    found_invalid = _found_invalid(ctx, policy, rule, ns, invalid) if ttl_field else None
    return Selection(action, ids=selected, invalid=found_invalid)


@dataclass
class _Picked:
    """What an ID source selects: how many, a few of them, how many hold no time, and (when
    overlaps need them) the IDs with their metadata."""

    records: int = 0
    shown: list[str] = field(default_factory=list)
    invalid: int = 0
    selected: dict[str, Metadata] = field(default_factory=dict)


async def _pick(
    batches: AsyncIterator[Mapping[str, Metadata]],
    keep: Predicate | None,
    protected: Sequence[Predicate],
    ttl_field: str | None,
    where: Predicate | None,
    keep_ids: bool,
    sample_size: int,
) -> _Picked:
    picked = _Picked()
    async for found in batches:
        for record_id, metadata in found.items():
            if keep is not None and not keep(metadata):
                if ttl_field is not None and _holds_no_time(metadata, ttl_field, where):
                    picked.invalid += 1
                continue
            if any(p(metadata) for p in protected):
                continue
            if keep_ids:
                picked.selected[record_id] = metadata
            elif len(picked.shown) < sample_size:
                picked.shown.append(record_id)
            picked.records += 1
    if keep_ids:
        picked.records = len(picked.selected)
        picked.shown = list(picked.selected)[:sample_size]
    return picked


def _holds_no_time(metadata: Metadata, name: str, where: Predicate | None) -> bool:
    """The record has the TTL field, but not as a number, and matches the rule otherwise."""
    if name not in metadata or is_number(metadata[name]):
        return False
    return where is None or where(metadata)


def _batches(
    ctx: Context, policy: Policy, ns: NamespaceInfo, source: IdSource
) -> tuple[AsyncIterator[Mapping[str, Metadata]], bool]:
    """The candidates of an ID source with their metadata, batch by batch, and whether
    Pinecone matched them by filter (else they were listed or named, and fetched)."""
    inv, index, name = ctx.inventory, policy.index, ns.name
    if isinstance(source, InlineIds):
        return _fetched(inv, index, name, _chunks(source.ids)), False
    if isinstance(source, IdFile):
        return _fetched(inv, index, name, inv.read_ids_file(source.path)), False
    if isinstance(source, IdPrefix):
        return _fetched(inv, index, name, inv.list_ids(index, name, source.prefix)), False
    return _as_mappings(inv.matching(index, name, source.filter)), True


async def _fetched(
    inv: Inventory, index: str, namespace: str, batches: AsyncIterator[Sequence[str]]
) -> AsyncIterator[Mapping[str, Metadata]]:
    async for batch in batches:
        yield await _fetch(inv, index, namespace, batch)


async def _as_mappings(
    pages: AsyncIterator[Sequence[tuple[str, Metadata]]],
) -> AsyncIterator[Mapping[str, Metadata]]:
    async for page in pages:
        yield dict(page)


async def _chunks(ids: Sequence[str]) -> AsyncIterator[Sequence[str]]:
    for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
        yield ids[start : start + MAX_IDS_PER_REQUEST]


async def _fetch(
    inv: Inventory, index: str, namespace: str, ids: Sequence[str]
) -> Mapping[str, Metadata]:
    found: dict[str, Metadata] = {}
    for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
        found.update(
            await inv.fetch_metadata(index, namespace, ids[start : start + MAX_IDS_PER_REQUEST])
        )
    return found


async def _invalid_timestamps(
    ctx: Context, policy: Policy, rule: Rule, ns: NamespaceInfo
) -> int | None:
    """How many records the rule would select but for a TTL field that holds no number.

    The namespace is asked once per field whatever the rules; only where it holds such records
    does a rule with a `where` ask again for its own share.
    """
    assert rule.ttl is not None
    key = (policy.index, ns.name, rule.ttl.field)
    if key not in ctx.ttl_checks:
        ctx.ttl_checks[key] = asyncio.ensure_future(
            _non_numbers(ctx, policy.index, ns.name, rule.ttl.field, None, ns.records)
        )
    anywhere = await ctx.ttl_checks[key]
    if anywhere == 0 or rule.where is None:
        return anywhere
    return await _non_numbers(ctx, policy.index, ns.name, rule.ttl.field, rule.where, None)


async def _non_numbers(
    ctx: Context, index: str, namespace: str, name: str, where: Filter | None, total: int | None
) -> int | None:
    """Records matching `where` whose field `name` is present but not a number.

    The numbers are counted first: when they are as many as the namespace's records (`total`,
    from its listing), no record can hold anything else there, and one count was enough. An
    empty namespace cannot hold any. Otherwise the records that have the field and those that
    hold a number there are counted; two counts taken at different moments disagree when
    records come and go in between, so a difference is only believed when it repeats; None
    when the namespace never held still.
    """
    if total == 0:
        return 0
    present = and_(where, Compare(name, "$exists", True))
    numeric = and_(where, or_(Compare(name, "$gte", 0), Compare(name, "$lt", 0)))
    assert present is not None and numeric is not None
    if total is not None and await ctx.inventory.count(index, namespace, numeric) >= total:
        return 0
    last: int | None = None
    for _ in range(TTL_CHECK_ATTEMPTS):
        # Present first, numbers second: records written in between can only make the
        # difference smaller, never invent a malformed record that repeats.
        n_present = await ctx.inventory.count(index, namespace, present)
        if not n_present:
            return 0
        difference = n_present - await ctx.inventory.count(index, namespace, numeric)
        if difference == 0 or (difference > 0 and difference == last):
            return difference
        last = difference
    return None


def _found_invalid(
    ctx: Context, policy: Policy, rule: Rule, ns: NamespaceInfo, n: int | None
) -> InvalidTimestamps | None:
    """The report of records that never expire under `rule`; raises for `onInvalidTimestamps:
    fail` when a number of them was measured."""
    if n == 0:
        return None
    assert rule.ttl is not None
    if n is not None and policy.on_invalid_timestamps == "fail":
        raise PlanError(
            f"policy '{policy.name}' rule '{rule.name}': {n:,} records of namespace "
            f"'{ns.name}' (index '{policy.index}') hold a value in '{rule.ttl.field}' that is "
            f"not an epoch number in {rule.ttl.unit} (onInvalidTimestamps: fail)"
        )
    return InvalidTimestamps(policy.name, rule.name, policy.index, ns.name, rule.ttl.field, n)


def invalid_words(t: InvalidTimestamps) -> str:
    """The plan's warning for records that never expire under a TTL rule."""
    where = f"namespace '{t.namespace}' (index '{t.index}')"
    head = f"policy '{t.policy}' rule '{t.rule}'"
    if t.records is None:
        return (
            f"{head}: some records of {where} may hold a non-numeric {t.field}; the namespace "
            "changed too fast while they were counted to say how many"
        )
    one = t.records == 1
    return (
        f"{head}: {t.records:,} record{'' if one else 's'} of {where} "
        f"{'holds' if one else 'hold'} a non-numeric {t.field} and never "
        f"{'expires' if one else 'expire'} under this rule"
    )


def _rate(ctx: Context, name: str) -> float:
    return ctx.quotas.get(name, BY_NAME[name]).per_second


def _action(
    policy: Policy, rule: Rule, ns: NamespaceInfo, form: Form, *, method: CountMethod, **live: Any
) -> Action:
    """An action: its form (from the policies) and what the index says (counts, samples)."""
    return Action(
        policy=policy.name,
        rule=rule.name,
        index=policy.index,
        namespace=ns.name,
        deletes=form.deletes,
        condition=form.condition,
        notes=form.notes,
        explicit=form.explicit,
        namespace_records=ns.records,
        count_method=method,
        **live,
    )
