"""For one rule in one namespace, the cheapest exact way to delete what it selects.

- `deleteByFilter` when Pinecone can evaluate the whole condition, protections folded in: one
  request per namespace, whatever the number of records.
- `deleteByIds` when it cannot: ID lists, ID files, prefixes, and conditions whose protections
  cannot be folded safely. IDs are enumerated now to count them exactly and enumerated again by
  the apply, which re-checks each record's metadata just before deleting it.
- `deleteAll` / `deleteNamespace` only when the policy says so and nothing in the namespace is
  protected; with protections they become a filtered delete of everything unprotected.

Folding relies on `$ne`/`$nin`, whose behaviour on list fields Pinecone does not document. When
a fold depends on it, the planner asks Pinecone to prove the fold exact: the protected and the
folded sets must be disjoint (`count(P or F) == count(P) + count(F)`). Otherwise it falls back
to enumerating the matches and deciding client-side, under every plausible reading.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from retention.errors import PlanError
from retention.filters import (
    Compare,
    Filter,
    Metadata,
    and_,
    describe,
    exclude,
    or_,
    possibly,
    surely,
    to_json,
)
from retention.limits import BY_NAME, Limit
from retention.planning.inventory import Inventory, NamespaceInfo
from retention.planning.plan import Action, IdSource
from retention.policy.model import Policy, Rule

FETCH_BATCH = 1000
DELETE_BATCH = 1000
LIST_PAGE = 100


@dataclass
class Selection:
    """What an action selects, kept for counting overlaps between actions."""

    action: Action
    everything: bool = False
    filter: Filter | None = None
    ids: dict[str, Metadata] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    inventory: Inventory
    now: datetime
    sample_size: int
    limits: Mapping[str, Limit]


async def plan_rule(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    protections: Sequence[Filter],
) -> Selection:
    """The action for `rule` of `policy` in namespace `ns`."""
    condition = rule.condition(ctx.now)
    if rule.ttl is not None:
        await _check_ttl_field(ctx, policy, rule, ns)
    if rule.kind in ("ids", "idsFile", "idPrefix"):
        return await _by_ids(ctx, policy, rule, ns, condition, protections)
    if rule.destructive and not protections:
        kind = "deleteNamespace" if rule.delete_namespace else "deleteAll"
        words = "the namespace itself, with" if rule.delete_namespace else "every record:"
        action = _action(
            policy,
            rule,
            ns,
            kind=kind,
            records=ns.records,
            method="namespaceStats",
            condition=f"{words} all {ns.records:,} records",
            requests=1,
            seconds=0.0,
        )
        return Selection(action, everything=True)
    return await _by_filter(ctx, policy, rule, ns, condition, protections)


async def _by_filter(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    condition: Filter | None,
    protections: Sequence[Filter],
) -> Selection:
    folded = exclude(condition, protections)
    assert folded.filter is not None  # a condition or at least one protection
    inv, index, name = ctx.inventory, policy.index, ns.name
    notes: list[str] = []
    if rule.destructive:
        notes.append(
            f"{len(protections)} protection(s) apply here, so instead of "
            f"{'deleting the namespace' if rule.delete_namespace else 'deleteAll'} only "
            "unprotected records are deleted"
        )
    if folded.string_fields:
        protected = or_(*protections)
        guarded = and_(condition, protected) or protected
        either = or_(guarded, folded.filter)
        n_guarded, n_folded, n_either = (
            await inv.count(index, name, guarded),
            await inv.count(index, name, folded.filter),
            await inv.count(index, name, either),
        )
        if n_guarded + n_folded != n_either:
            fallback = f"protections on {', '.join(sorted(folded.string_fields))} cannot be folded into one filter here (list fields)"
            return await _by_ids(ctx, policy, rule, ns, condition, protections, reason=fallback)
        records = n_folded
    else:
        records = await inv.count(index, name, folded.filter)
    if not folded.exact:
        notes.append("records whose protected fields hold values of another type are spared")
    samples = await inv.sample(index, name, folded.filter, ctx.sample_size) if records else ()
    action = _action(
        policy,
        rule,
        ns,
        kind="deleteByFilter",
        records=records,
        method="dryRunCount",
        condition=describe(folded.filter, rule.time_fields),
        filter=to_json(folded.filter),
        samples=tuple(samples)[: ctx.sample_size],
        requests=1,
        seconds=1 / _rate(ctx, "delete_by_metadata_requests_per_s_namespace"),
        notes=tuple(notes),
    )
    return Selection(action, filter=folded.filter)


async def _by_ids(
    ctx: Context,
    policy: Policy,
    rule: Rule,
    ns: NamespaceInfo,
    condition: Filter | None,
    protections: Sequence[Filter],
    reason: str | None = None,
) -> Selection:
    inv, index, name = ctx.inventory, policy.index, ns.name
    source, batches, listed = _id_source(ctx, policy, rule, ns, condition)
    keep = surely(condition) if condition is not None and source.type != "filter" else None
    protected = [possibly(p) for p in protections]
    selected: dict[str, Metadata] = {}
    async for batch in batches:
        if listed is not None:
            found: Mapping[str, Metadata] = dict(batch)  # type: ignore[arg-type]
        else:
            found = await _fetch(inv, index, name, batch)  # type: ignore[arg-type]
        for record_id, metadata in found.items():
            if keep is not None and not keep(metadata):
                continue
            if any(p(metadata) for p in protected):
                continue
            selected[record_id] = metadata
    n = len(selected)
    words = _id_words(rule, source)
    if condition is not None and source.type != "filter":
        words += f" where {describe(condition, rule.time_fields)}"
    if protections:
        words += f", sparing records that match {len(protections)} protection(s)"
    pages = math.ceil(n / LIST_PAGE) if source.type == "prefix" else 0
    batches_n = math.ceil(n / DELETE_BATCH)
    action = _action(
        policy,
        rule,
        ns,
        kind="deleteByIds",
        records=n,
        method="enumeration",
        condition=words,
        id_source=source,
        client_where=to_json(condition) if condition is not None else None,
        client_protect=tuple(to_json(p) for p in protections),
        samples=tuple(list(selected)[: ctx.sample_size]),
        requests=2 * batches_n + pages,
        seconds=n / _rate(ctx, "delete_records_per_s_namespace"),
        notes=(reason,) if reason else (),
    )
    return Selection(action, ids=selected)


def _id_source(
    ctx: Context, policy: Policy, rule: Rule, ns: NamespaceInfo, condition: Filter | None
) -> tuple[IdSource, AsyncIterator[Sequence[object]], bool | None]:
    """The ID source, its batches, and whether batches already carry metadata."""
    inv, index, name = ctx.inventory, policy.index, ns.name
    if rule.ids is not None:
        return IdSource("inline", ids=rule.ids), _chunks(rule.ids), None
    if rule.ids_file is not None:
        f = rule.ids_file
        return IdSource("file", path=f.path, sha256=f.sha256), inv.read_ids_file(f.path), None
    if rule.id_prefix is not None:
        return (
            IdSource("prefix", prefix=rule.id_prefix),
            inv.list_ids(index, name, rule.id_prefix),
            None,
        )
    if condition is not None:
        pages = inv.matching(index, name, condition)
        return IdSource("filter", filter=to_json(condition)), pages, True
    return IdSource("prefix", prefix=""), inv.list_ids(index, name, ""), None


async def _chunks(ids: Sequence[str]) -> AsyncIterator[Sequence[str]]:
    for start in range(0, len(ids), FETCH_BATCH):
        yield ids[start : start + FETCH_BATCH]


async def _fetch(
    inv: Inventory, index: str, namespace: str, ids: Sequence[str]
) -> Mapping[str, Metadata]:
    found: dict[str, Metadata] = {}
    for start in range(0, len(ids), FETCH_BATCH):
        found.update(await inv.fetch_metadata(index, namespace, ids[start : start + FETCH_BATCH]))
    return found


async def _check_ttl_field(ctx: Context, policy: Policy, rule: Rule, ns: NamespaceInfo) -> None:
    """Fail closed when the TTL field holds non-numbers: the TTL would silently never apply."""
    assert rule.ttl is not None
    name = rule.ttl.field
    inv = ctx.inventory
    present = await inv.count(policy.index, ns.name, Compare(name, "$exists", True))
    if not present:
        return
    numeric = await inv.count(
        policy.index, ns.name, or_(Compare(name, "$gte", 0), Compare(name, "$lt", 0))
    )
    if numeric != present:
        raise PlanError(
            f"policy '{policy.name}' rule '{rule.name}': field '{name}' holds a value that is not "
            f"an epoch number in {present - numeric:,} of {present:,} records of namespace "
            f"'{ns.name}' (index '{policy.index}'); olderThan needs epoch numbers in {rule.ttl.unit}"
        )


def _id_words(rule: Rule, source: IdSource) -> str:
    if source.type == "inline":
        return f"the {len(source.ids):,} listed IDs"
    if source.type == "file":
        assert rule.ids_file is not None
        return f"the {rule.ids_file.count:,} IDs in {source.path}"
    if source.type == "prefix":
        return f'IDs starting with "{source.prefix}"' if source.prefix else "every record"
    return "records matching the condition, checked one by one"


def _rate(ctx: Context, name: str) -> float:
    return ctx.limits.get(name, BY_NAME[name]).per_second


def _action(policy: Policy, rule: Rule, ns: NamespaceInfo, **fields: object) -> Action:
    method = fields.pop("method")
    return Action(
        policy=policy.name,
        rule=rule.name,
        index=policy.index,
        namespace=ns.name,
        namespace_records=ns.records,
        count_method=method,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
