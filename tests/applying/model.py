"""Random datasets and policies for the apply properties, and what they must delete.

The expected deletions are computed here from the drawn specs, independently of
`retention.filters` and the planner: rule by rule in plain Python, each filter by the
emulator's own evaluator, so the property compares two separate computations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from retention.emulator.filtering import DEFAULT_READINGS, compile_request_filter

DAY = 86_400
NAMESPACES = ("ns-a", "ns-b", "scratch-1")
PREFIXES = ("doc1#", "doc2#", "user-")
SOURCES = ("zendesk", "chat", "email")
TAGS = ("a", "b", "c")

# Filters the grammar draws; `matches` below gives their meaning, by the emulator's evaluator.
WHERES: tuple[dict[str, Any], ...] = (
    {"source": "zendesk"},
    {"source": {"$in": ["chat", "email"]}},
    {"tags": "a"},
    {"tags": {"$in": ["b", "c"]}},
    {"hold": False},
)
PROTECTS: tuple[dict[str, Any], ...] = (
    {"hold": True},
    {"tags": "a"},  # a string-valued protection on a list field: exercises the fallback
    {"tags": {"$in": ["c"]}},
    {"source": "email"},
)
Data = dict[str, dict[str, dict[str, Any]]]
"""namespace -> id -> metadata."""

HOLDS: tuple[dict[str, Any], ...] = ({"tags": "b"}, {"source": "chat"}, {"hold": True})


@dataclass(frozen=True)
class RecordSpec:
    namespace: str
    prefix: str
    age_days: int | None
    source: str | None
    tags: tuple[str, ...] | None
    hold: bool | None


@dataclass(frozen=True)
class RuleSpec:
    kind: str  # ttl | where | prefix | ids
    days: int = 0
    where: int | None = None  # index into WHERES
    prefix: str = ""
    picks: tuple[int, ...] = ()  # record numbers for an ids rule (some absent)


@dataclass(frozen=True)
class World:
    records: tuple[RecordSpec, ...]
    rules: tuple[RuleSpec, ...]
    protect: tuple[int, ...]
    holds: tuple[tuple[int, str], ...]  # (HOLDS index, namespace pattern)
    scratch: bool
    semantics: int  # which emulator: 0 default filter semantics, 1 the other readings


def _record(ns: str) -> st.SearchStrategy[RecordSpec]:
    return st.builds(
        RecordSpec,
        st.just(ns),
        st.sampled_from(PREFIXES),
        st.none() | st.integers(0, 200),
        st.none() | st.sampled_from(SOURCES),
        st.none() | st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True).map(tuple),
        st.none() | st.booleans(),
    )


_where = st.none() | st.integers(0, len(WHERES) - 1)
RULES = st.one_of(
    st.builds(RuleSpec, st.just("ttl"), days=st.sampled_from((10, 30, 90)), where=_where),
    st.builds(RuleSpec, st.just("where"), where=st.integers(0, len(WHERES) - 1)),
    st.builds(RuleSpec, st.just("prefix"), prefix=st.sampled_from(PREFIXES), where=_where),
    st.builds(
        RuleSpec,
        st.just("ids"),
        picks=st.lists(st.integers(0, 80), min_size=1, max_size=8, unique=True).map(tuple),
        where=_where,
    ),
)


def worlds(max_records: int = 25) -> st.SearchStrategy[World]:
    """Random datasets over three namespaces with random policies and holds."""
    per_ns = [st.lists(_record(ns), max_size=max_records) for ns in NAMESPACES]
    return st.builds(
        World,
        st.tuples(*per_ns).map(lambda parts: tuple(r for part in parts for r in part)),
        st.lists(RULES, min_size=1, max_size=3).map(tuple),
        st.lists(st.integers(0, len(PROTECTS) - 1), max_size=2, unique=True).map(tuple),
        st.lists(
            st.tuples(st.integers(0, len(HOLDS) - 1), st.sampled_from(("ns-a", "ns-*", "*"))),
            max_size=2,
        ).map(tuple),
        st.booleans(),
        st.integers(0, 1),
    )


def random_world(rng: random.Random, n: int) -> World:
    """A larger world drawn from a seeded generator (for the slow and the fault runs)."""
    records = tuple(
        RecordSpec(
            rng.choice(NAMESPACES),
            rng.choice(PREFIXES),
            rng.choice((None, *range(0, 200))),
            rng.choice((None, *SOURCES)),
            rng.choice((None, ("a",), ("b", "c"), ("a", "c"), ("c",))),
            rng.choice((None, True, False)),
        )
        for _ in range(n)
    )
    rules = (
        RuleSpec("ttl", days=30, where=1),
        RuleSpec("where", where=0),
        RuleSpec("prefix", prefix="doc1#", where=None),
        RuleSpec("ids", picks=tuple(rng.sample(range(n + 10), 40)), where=4),
    )
    return World(records, rules, (0, 1), ((0, "ns-a"), (1, "*")), True, rng.randint(0, 1))


def ids(world: World) -> list[str]:
    return [f"{r.prefix}{i}" for i, r in enumerate(world.records)]


def build(world: World, now: float) -> dict[str, dict[str, dict[str, Any]]]:
    """namespace -> id -> metadata; `created_at` is half a day off whole days, far from cutoffs."""
    data: dict[str, dict[str, dict[str, Any]]] = {ns: {} for ns in NAMESPACES}
    for rid, r in zip(ids(world), world.records, strict=True):
        meta: dict[str, Any] = {"n": 1}
        if r.age_days is not None:
            meta["created_at"] = int(now - (r.age_days + 0.5) * DAY)
        if r.source is not None:
            meta["source"] = r.source
        if r.tags is not None:
            meta["tags"] = list(r.tags)
        if r.hold is not None:
            meta["hold"] = r.hold
        data[r.namespace][rid] = meta
    return data


def documents(world: World, index: str) -> list[dict[str, Any]]:
    """The policy and legal-hold documents of `world` against `index`."""
    from tests.builders import hold, policy

    all_ids = ids(world)
    rules: list[dict[str, Any]] = []
    for n, spec in enumerate(world.rules):
        rule: dict[str, Any] = {"name": f"r{n}"}
        if spec.kind == "ttl":
            rule.update(olderThan=f"{spec.days}d", field="created_at", unit="s")
        elif spec.kind == "prefix":
            rule["idPrefix"] = spec.prefix
        elif spec.kind == "ids":
            rule["ids"] = [all_ids[p] if p < len(all_ids) else f"absent-{p}" for p in spec.picks]
        if spec.where is not None:
            rule["where"] = WHERES[spec.where]
        rules.append(rule)
    spec_main: dict[str, Any] = {}
    if world.protect:
        spec_main["protect"] = [PROTECTS[p] for p in world.protect]
    docs = [policy("p-main", index, ["ns-*"], rules, **spec_main)]
    if world.scratch:
        docs.append(
            policy("p-scratch", index, ["scratch-*"], [{"name": "purge", "deleteAll": True}])
        )
    docs.extend(
        hold(f"h{n}", index, [pattern], [HOLDS[h]]) for n, (h, pattern) in enumerate(world.holds)
    )
    return docs


def matches(flt: dict[str, Any], meta: dict[str, Any]) -> bool:
    """The grammar's filters as Pinecone reads them: the emulator's evaluator is the one
    oracle (the grammar draws only filters that every reading agrees on)."""
    return compile_request_filter(flt, DEFAULT_READINGS, with_not=False)(meta)


def _glob(pattern: str, ns: str) -> bool:
    return (
        pattern == "*" or pattern == ns or (pattern.endswith("*") and ns.startswith(pattern[:-1]))
    )


def expected(
    world: World, data: dict[str, dict[str, dict[str, Any]]], as_of: float
) -> dict[str, set[str]]:
    """namespace -> the IDs the policies must delete as of `as_of` (epoch seconds)."""
    all_ids = ids(world)
    out: dict[str, set[str]] = {ns: set() for ns in NAMESPACES}
    for ns, records in data.items():
        holds = [HOLDS[h] for h, pattern in world.holds if _glob(pattern, ns)]

        def held(
            meta: dict[str, Any], own: list[dict[str, Any]], holds: list[dict[str, Any]] = holds
        ) -> bool:
            return any(matches(p, meta) for p in (*own, *holds))

        if ns.startswith("ns-"):
            own = [PROTECTS[p] for p in world.protect]
            for rid, meta in records.items():
                if held(meta, own):
                    continue
                for spec in world.rules:
                    if spec.where is not None and not matches(WHERES[spec.where], meta):
                        continue
                    if spec.kind == "ttl":
                        t = meta.get("created_at")
                        hit = t is not None and t < as_of - spec.days * DAY
                    elif spec.kind == "prefix":
                        hit = rid.startswith(spec.prefix)
                    elif spec.kind == "ids":
                        hit = any(p < len(all_ids) and all_ids[p] == rid for p in spec.picks)
                    else:
                        hit = True
                    if hit:
                        out[ns].add(rid)
                        break
        elif world.scratch:
            out[ns] = {rid for rid, meta in records.items() if not held(meta, [])}
    return out


def protected(world: World, data: dict[str, dict[str, dict[str, Any]]]) -> dict[str, set[str]]:
    """namespace -> IDs that a protection or a legal hold covers (never to be deleted)."""
    out: dict[str, set[str]] = {}
    for ns, records in data.items():
        covers = [HOLDS[h] for h, pattern in world.holds if _glob(pattern, ns)]
        if ns.startswith("ns-"):
            covers += [PROTECTS[p] for p in world.protect]
        out[ns] = {rid for rid, meta in records.items() if any(matches(c, meta) for c in covers)}
    return out
