"""The reconciler's operational guards, one firing at a time on a clock the tests set.

The trend breaker (a firing far above what the policy's last applies in the ledger deleted is
not applied), the compliance metrics (what is left past a TTL, checked against a count made in
plain Python from the seeded records), deletion windows (in UTC and in a named zone where the
two disagree, deny beating allow, a window closing in the middle of an apply) and suspension.

Against the in-process emulator, as tests/service/test_reconciler.py. The injected clock starts
on Sunday 2040-01-01 12:00 UTC, far from the real time; records are dated relative to it. The
ledger's history is made by real applies through the reconciler, never written by hand.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import structlog
from structlog.testing import capture_logs

import retention.service.reconciler as reconciler_module
from retention import pipeline
from retention.applying.executor import ApplySettings, Stop
from retention.applying.ledger import Ledger
from retention.emulator import Emulator, EmulatorConfig, ManualClock
from retention.pinecone import Pacer, PineconeSettings, connect
from retention.planning.plan import Plan, format_time, from_document
from retention.policy import PolicySet
from retention.service.reconciler import (
    DEFAULT_TREND_FACTOR,
    TREND_MEDIAN_FLOOR,
    TREND_WARMUP,
    Reconciler,
)
from tests.applying.world import fresh_index
from tests.builders import Document, policy, seed, ttl_rule, where_rule
from tests.logged import Event
from tests.service import harness
from tests.service.harness import NOW, epoch, named, problems

"""A Sunday. In January Europe/Berlin is UTC+1."""
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
AT_MOST = 60.0
"""Seconds after which a firing that never ends fails its test instead of hanging it."""
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class World(harness.World):
    """The reconcilers' world, with a ledger their applies are recorded in."""

    ledger: Ledger | None = None
    _ids: Iterator[int] = field(default_factory=itertools.count)
    at_most: ClassVar[float] = AT_MOST

    def records(self, namespace: str = "t-a") -> set[str]:
        return super().records(namespace)

    def reconciler_options(self, options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("ledger", self.ledger)
        return options

    def overdue_series(self, policy: str) -> dict[tuple[str, str, str], float]:
        """The policy's `retention_overdue_records` series: (rule, index, namespace) -> value."""
        return {
            (s.labels["rule"], s.labels["index"], s.labels["namespace"]): s.value
            for metric in self.metrics.registry.collect()
            if metric.name == "retention_overdue_records"
            for s in metric.samples
            if s.labels["policy"] == policy
        }

    def policy_overdue(self, policy: str) -> float | None:
        return self.sample("retention_policy_overdue_records", policy=policy)

    def last_verified(self, policy: str) -> float | None:
        return self.sample("retention_last_verified_reconcile_timestamp_seconds", policy=policy)

    def trend_blocked(self, policy: str) -> float | None:
        return self.sample("retention_trend_blocked_total", policy=policy)

    def expired(self, n: int, namespace: str = "t-a", age: timedelta = 2 * DAY) -> set[str]:
        """`n` new records created `age` before the clock (past a 1d TTL); their IDs."""
        ids = {f"old-{next(self._ids):06d}" for _ in range(n)}
        created = epoch(self.clock.now - age)
        seed(self.emulator, self.index, {namespace: {i: {"created_at": created} for i in ids}})
        return ids


def make_world(emulator: Emulator, root: Path) -> Iterator[World]:
    (root / "state").mkdir()
    ledger = Ledger.open(root / "ledger.sqlite")
    try:
        yield World(emulator, root, fresh_index(emulator), ledger=ledger)
    finally:
        ledger.close()


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> Iterator[World]:
    yield from make_world(emulator, tmp_path)


# -- the trend breaker


def ttl_policy(name: str, index: str, **spec: Any) -> Document:
    """A 1d TTL policy over t-*."""
    return policy(name, index, ["t-*"], [ttl_rule("old", "1d")], **spec)


def history(world: World, policies: PolicySet, name: str, sizes: Sequence[int]) -> None:
    """Real applies of `name`, one per size, an hour apart, each deleting that many expired
    records; the ledger then holds them as the policy's history."""
    for size in sizes:
        world.expired(size)
        world.fire(policies, name)
        world.clock.advance(HOUR)
    assert world.runs(name) == ({"applied": float(len(sizes))} if sizes else {})
    assert world.records() == set()


def test_a_firing_far_above_the_history_is_blocked_and_deletes_nothing(world: World) -> None:
    """Three applies of 5 records each, then a firing that would delete 1,001: more than 10 x
    the median (5, taken as 100). Nothing is sent, the run is trend_blocked (not a success),
    counted, logged as an error saying why, its records are pending and overdue, and the
    ledger holds no new run."""
    policies = world.load(ttl_policy("ttl", world.index))
    history(world, policies, "ttl", [5, 5, 5])
    succeeded, verified = world.last_success("ttl"), world.last_verified("ttl")
    assert succeeded == verified == epoch(NOW + 2 * HOUR)  # the last apply of the history
    deletes = len(world.wire.deletes)
    big = world.expired(1001)

    events = world.fire(policies, "ttl")

    assert world.records() == big
    assert len(world.wire.deletes) == deletes
    assert world.runs("ttl") == {"applied": 3.0, "trend_blocked": 1.0}
    assert world.trend_blocked("ttl") == 1.0
    assert world.pending("ttl") == 1001.0
    assert world.last_success("ttl") == succeeded  # not a success
    [blocked] = named(events, "trend_blocked")
    assert (blocked["policy"], blocked["records"], blocked["log_level"]) == ("ttl", 1001, "error")
    assert "trendFactor" in blocked["reason"]
    assert named(events, "apply_started") == []
    assert world.ledger.recent_deleted("ttl", 7) == [5, 5, 5]
    assert world.overdue_series("ttl") == {("old", world.index, "t-a"): 1001.0}
    assert world.policy_overdue("ttl") == 1001.0
    assert world.last_verified("ttl") == verified


@pytest.mark.parametrize(
    ("spec", "sizes", "planned", "outcome"),
    [
        pytest.param({}, [5, 5, 5], 1000, "applied", id="default-at-the-floor-limit"),
        pytest.param({}, [5, 5, 5], 1001, "trend_blocked", id="default-above-the-floor-limit"),
        pytest.param({"trendFactor": 2}, [5, 5, 5], 200, "applied", id="factor-2-at-floor"),
        pytest.param({"trendFactor": 2}, [5, 5, 5], 201, "trend_blocked", id="factor-2-above"),
        pytest.param(
            {"trendFactor": 2}, [150, 300, 150], 300, "applied", id="factor-2-at-2x-median"
        ),
        pytest.param(
            {"trendFactor": 2}, [150, 300, 150], 301, "trend_blocked", id="factor-2-above-median"
        ),
        pytest.param(
            {"trendFactor": 0.5}, [400, 400, 400], 201, "trend_blocked", id="factor-below-one"
        ),
        pytest.param({"trendFactor": 0}, [5, 5, 5], 3000, "applied", id="factor-0-disables"),
        pytest.param({}, [5, 5], 3000, "applied", id="warm-up-two-applies"),
        pytest.param({}, [], 3000, "applied", id="warm-up-no-history"),
    ],
)
def test_the_breaker_weighs_the_firing_against_factor_times_the_median(
    world: World, spec: dict[str, Any], sizes: list[int], planned: int, outcome: str
) -> None:
    """Allowed up to trendFactor x max(median of the history, 100), blocked above; off with
    trendFactor 0, and before TREND_WARMUP applies are in the ledger."""
    assert (DEFAULT_TREND_FACTOR, TREND_WARMUP, TREND_MEDIAN_FLOOR) == (10, 3, 100)
    limits = {"maxPercent": 100, **spec}
    policies = world.load(ttl_policy("ttl", world.index, limits=limits))
    history(world, policies, "ttl", sizes)
    big = world.expired(planned)

    world.fire(policies, "ttl")

    expected = {"applied": float(len(sizes))}
    expected[outcome] = expected.get(outcome, 0.0) + 1.0
    assert world.runs("ttl") == expected
    assert world.records() == (big if outcome == "trend_blocked" else set())
    assert world.trend_blocked("ttl") == (1.0 if outcome == "trend_blocked" else None)


def test_only_the_last_trend_runs_applies_are_weighed(world: World) -> None:
    """History 1000, 1000, 1000, 5, 5, 5 (newest last): weighing the last 7 (median 502.5,
    limit 5,025) lets 1,001 through; weighing the last 3 (median 5, limit 1,000) does not."""
    policies = world.load(ttl_policy("ttl", world.index))
    history(world, policies, "ttl", [1000, 1000, 1000, 5, 5, 5])
    assert world.ledger.recent_deleted("ttl", 7) == [5, 5, 5, 1000, 1000, 1000]
    big = world.expired(1001)

    world.fire(policies, "ttl", trend_runs=3)
    assert world.records() == big
    assert world.runs("ttl")["trend_blocked"] == 1.0

    world.fire(policies, "ttl", trend_runs=7)
    assert world.records() == set()
    assert world.runs("ttl")["applied"] == 7.0


def test_another_policys_history_does_not_count(world: World) -> None:
    """Policy `small` has three applies of 5; `fresh`, over other namespaces, has none: its
    first firing of 3,000 is in warm-up and applies."""
    policies = world.load(
        ttl_policy("small", world.index),
        policy("fresh", world.index, ["u-*"], [ttl_rule("old", "1d")]),
    )
    history(world, policies, "small", [5, 5, 5])
    world.expired(3000, namespace="u-a")

    world.fire(policies, "fresh")

    assert world.runs("fresh") == {"applied": 1.0}
    assert world.records("u-a") == set()
    assert world.ledger.recent_deleted("fresh", 7) == [3000]


def test_a_manual_apply_of_the_blocked_plan_clears_the_way_for_the_next_firing(
    world: World,
) -> None:
    """The breaker blocks 1,500; the operator applies the saved plan by hand (as `retention
    apply` does, with the ledger): it deletes the 1,500 and is recorded in the policy's
    history. The next firing, back to the usual size, applies; the breaker does not latch."""
    policies = world.load(ttl_policy("ttl", world.index))
    history(world, policies, "ttl", [5, 5, 5])
    world.expired(1500)
    world.fire(policies, "ttl")
    assert world.runs("ttl")["trend_blocked"] == 1.0
    saved = world.saved("ttl.plan.json")
    assert saved is not None
    plan = from_document(saved)

    async def by_hand() -> int:
        settings = PineconeSettings(
            api_key="test-key", controller_url=world.emulator.controller_url
        )
        async with connect(settings, pacer=Pacer(())) as client:
            report = await pipeline.apply_live(
                client,
                plan,
                policies,
                now=world.clock.now,
                settings=ApplySettings(),
                log=structlog.get_logger(),
                stop=Stop(),
                ledger=world.ledger,
                command="apply",
                clock=world.clock,
            )
        return report.deleted

    with capture_logs():
        assert asyncio.run(by_hand()) == 1500
    assert world.records() == set()
    assert world.ledger.recent_deleted("ttl", 7) == [1500, 5, 5, 5]

    world.clock.advance(HOUR)
    usual = world.expired(5)
    events = world.fire(policies, "ttl")

    assert world.records().isdisjoint(usual)
    assert world.runs("ttl") == {"applied": 4.0, "trend_blocked": 1.0}
    assert world.trend_blocked("ttl") == 1.0
    assert problems(events) == []
    assert world.ledger.recent_deleted("ttl", 7) == [5, 1500, 5, 5, 5]


# -- compliance: what is left past a TTL


@dataclass(frozen=True)
class Seeded:
    """A record as seeded: where it is and what its metadata says."""

    namespace: str
    id: str
    meta: dict[str, Any] = field(compare=False, hash=False, repr=False)


def dataset(now: datetime, namespaces: Sequence[str], n: int, seed_: int) -> list[Seeded]:
    """`n` records per namespace dated around two TTLs (1d on created_at, 7d on touched_at):
    some a second either side of each cutoff, the rest spread over ten days; about a fifth
    carry `legal: true` (protected)."""
    rng = random.Random(seed_)
    edges = [-2, -1, 1, 2]  # seconds from the cutoff; 0 (exactly at it) is left out
    out: list[Seeded] = []
    for ns in namespaces:
        for i in range(n):
            if i < len(edges):
                created = now - DAY + timedelta(seconds=edges[i])
                touched = now - 7 * DAY + timedelta(seconds=edges[-1 - i])
            else:
                created = now - timedelta(seconds=rng.randrange(1, 10 * 86400))
                touched = now - timedelta(seconds=rng.randrange(1, 10 * 86400))
            meta: dict[str, Any] = {"created_at": epoch(created), "touched_at": epoch(touched)}
            if rng.random() < 0.2:
                meta["legal"] = True
            out.append(Seeded(ns, f"{ns}-r{i:03d}", meta))
    return out


def plant(world: World, records: Sequence[Seeded]) -> None:
    data: dict[str, dict[str, dict[str, Any]]] = {}
    for r in records:
        data.setdefault(r.namespace, {})[r.id] = r.meta
    seed(world.emulator, world.index, data)


def past(
    records: Sequence[Seeded], now: datetime, ttl: timedelta, field: str = "created_at"
) -> set[Seeded]:
    """The records past the TTL (strictly before its cutoff) and not protected."""
    cutoff = epoch(now - ttl)
    return {r for r in records if r.meta[field] < cutoff and not r.meta.get("legal")}


def by_namespace(records: set[Seeded]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.namespace] = counts.get(r.namespace, 0) + 1
    return counts


PROTECT = [{"legal": True}]


def run_firings(
    world: World,
    policies: PolicySet,
    steps: Sequence[Callable[[Reconciler], Awaitable[None]]],
    settings: ApplySettings | None = None,
) -> list[Event]:
    """Each step on one and the same reconciler (as in the service, which keeps one for its
    whole life); the events logged."""
    options = {} if settings is None else {"settings": settings}

    async def all_steps() -> None:
        async with world.reconciler(policies, **options) as reconciler:
            for step in steps:
                await asyncio.wait_for(step(reconciler), AT_MOST)

    with capture_logs() as events:
        asyncio.run(all_steps())
    return events


def test_overdue_counts_match_the_records_past_the_ttl_then_clear_when_applied(
    world: World,
) -> None:
    """Observe mode: per namespace, the overdue gauge is the number of unprotected records
    past the 1d cutoff, counted here from the seeded data; the policy's gauge is their sum; the
    policy is not verified caught up. Then, on the same reconciler, enforcing: those records
    are deleted, the series are removed, the policy's gauge is 0 and it was verified caught up
    at the reconciler's clock; protected and fresh records are still there."""
    records = dataset(NOW, ["t-a", "t-b"], 80, seed_=1)
    plant(world, records)
    truth = past(records, NOW, DAY)
    expected = by_namespace(truth)
    assert set(expected) == {"t-a", "t-b"} and all(expected.values())
    docs = {
        mode: ttl_policy("ttl", world.index, mode=mode, protect=PROTECT)
        for mode in ("observe", "enforce")
    }
    observed: dict[str, Any] = {}

    async def observe(r: Reconciler) -> None:
        r.policies = world.load(docs["observe"])
        await r.reconcile("ttl")
        observed.update(
            series=world.overdue_series("ttl"),
            total=world.policy_overdue("ttl"),
            verified=world.last_verified("ttl"),
            runs=world.runs("ttl"),
        )

    async def enforce(r: Reconciler) -> None:
        world.clock.advance(MINUTE)
        r.policies = world.load(docs["enforce"])
        await r.reconcile("ttl")

    events = run_firings(world, world.load(docs["observe"]), [observe, enforce])

    assert observed["runs"] == {"observed": 1.0}
    assert observed["series"] == {("old", world.index, ns): float(n) for ns, n in expected.items()}
    assert observed["total"] == float(len(truth))
    assert observed["verified"] is None

    at_enforce = past(records, NOW + MINUTE, DAY)
    assert world.runs("ttl") == {"observed": 1.0, "applied": 1.0}
    assert world.overdue_series("ttl") == {}
    assert world.policy_overdue("ttl") == 0.0
    assert world.last_verified("ttl") == epoch(NOW + MINUTE)
    left = {r.id for r in records} - {r.id for r in at_enforce}
    assert world.records("t-a") | world.records("t-b") == left
    deleted = "retention_records_deleted_total"
    for ns, n in by_namespace(at_enforce).items():
        assert world.sample(deleted, policy="ttl", index=world.index, namespace=ns) == n
    assert problems(events) == []


def test_an_enforcing_firing_with_nothing_overdue_is_verified_caught_up(world: World) -> None:
    """Only fresh and protected records: nothing to delete, no overdue series, the policy's
    gauge present at 0, and verified caught up."""
    plant(
        world,
        [
            Seeded("t-a", "fresh", {"created_at": epoch(NOW - HOUR)}),
            Seeded("t-a", "held", {"created_at": epoch(NOW - 3 * DAY), "legal": True}),
        ],
    )
    policies = world.load(ttl_policy("ttl", world.index, protect=PROTECT))

    world.fire(policies, "ttl")

    assert world.runs("ttl") == {"nothing_to_delete": 1.0}
    assert world.overdue_series("ttl") == {}
    assert world.policy_overdue("ttl") == 0.0
    assert world.last_verified("ttl") == epoch(NOW)


def two_rule_policy(index: str, mode: str) -> Document:
    """`short` (1d on created_at) for records of kind `chat` and `long` (7d on touched_at) for
    those of kind `log`, so that the two select different records."""
    return policy(
        "two",
        index,
        ["t-*"],
        [
            {**ttl_rule("short", "1d"), "where": {"kind": "chat"}},
            {**ttl_rule("long", "7d", field="touched_at"), "where": {"kind": "log"}},
        ],
        mode=mode,
        protect=PROTECT,
    )


def test_two_ttl_rules_over_two_namespaces_are_counted_apart(world: World) -> None:
    """Two TTL rules that select disjoint records (by kind), over two namespaces. Observing:
    one series per rule and namespace, each the count of that rule's unprotected records past
    its own cutoff; the policy's gauge is the number of records overdue under either rule.
    Then enforcing, on the same reconciler: all four series go, the policy's gauge is 0."""
    records = dataset(NOW, ["t-a", "t-b"], 80, seed_=2)
    for i, r in enumerate(records):
        r.meta["kind"] = "chat" if i % 2 else "log"
    plant(world, records)
    chats = [r for r in records if r.meta["kind"] == "chat"]
    logs = [r for r in records if r.meta["kind"] == "log"]
    short, long_ = past(chats, NOW, DAY), past(logs, NOW, 7 * DAY, "touched_at")
    assert set(by_namespace(short)) == set(by_namespace(long_)) == {"t-a", "t-b"}
    observed: dict[str, Any] = {}

    async def observe(r: Reconciler) -> None:
        await r.reconcile("two")
        observed.update(series=world.overdue_series("two"), total=world.policy_overdue("two"))

    async def enforce(r: Reconciler) -> None:
        r.policies = world.load(two_rule_policy(world.index, "enforce"))
        await r.reconcile("two")

    run_firings(world, world.load(two_rule_policy(world.index, "observe")), [observe, enforce])

    assert observed["series"] == {
        **{("short", world.index, ns): float(n) for ns, n in by_namespace(short).items()},
        **{("long", world.index, ns): float(n) for ns, n in by_namespace(long_).items()},
    }
    assert observed["total"] == float(len(short | long_))
    assert world.runs("two") == {"observed": 1.0, "applied": 1.0}
    assert world.overdue_series("two") == {}
    assert world.policy_overdue("two") == 0.0
    assert world.last_verified("two") == epoch(NOW)
    left = world.records("t-a") | world.records("t-b")
    assert left == {r.id for r in records} - {r.id for r in short | long_}


def test_a_record_two_ttl_rules_select_is_overdue_under_each(world: World) -> None:
    """Two TTL rules over the same records (1d on created_at, 7d on touched_at): each rule's
    series counts a record past both cutoffs, and the policy's gauge is the sum of its series,
    as documented (the pending gauge counts records once)."""
    records = dataset(NOW, ["t-a"], 60, seed_=3)
    plant(world, records)
    short = past(records, NOW, DAY)
    long_ = past(records, NOW, 7 * DAY, "touched_at")
    assert short & long_  # some records are past both
    policies = world.load(
        policy(
            "both",
            world.index,
            ["t-*"],
            [ttl_rule("short", "1d"), ttl_rule("long", "7d", field="touched_at")],
            mode="observe",
            protect=PROTECT,
        )
    )

    world.fire(policies, "both")

    assert world.overdue_series("both") == {
        ("short", world.index, "t-a"): float(len(short)),
        ("long", world.index, "t-a"): float(len(long_)),
    }
    assert world.pending("both") == float(len(short | long_))
    assert world.policy_overdue("both") == float(len(short) + len(long_))


def test_deletes_pending_verification_stay_overdue(tmp_path: Path) -> None:
    """Pinecone shows deletes only after a lag that never passes, and the verification may not
    wait: the records sent for deletion but still visible stay overdue (the remaining count),
    and the policy is not verified caught up."""
    config = EmulatorConfig(limits="off", lag_ms=60_000, clock=ManualClock())
    with Emulator.start(config) as emulator:
        for world in make_world(emulator, tmp_path):
            records = dataset(NOW, ["t-a"], 40, seed_=4)
            plant(world, records)
            truth = past(records, NOW, DAY)
            policies = world.load(ttl_policy("ttl", world.index, protect=PROTECT))

            world.fire(policies, "ttl", settings=ApplySettings(verify_timeout=0.0))

            report = world.saved("ttl.report.json")
            assert report is not None
            assert [(a["verification"], a["remaining"]) for a in report["actions"]] == [
                ("pending", len(truth))
            ]
            assert world.runs("ttl") == {"applied": 1.0}
            assert world.overdue_series("ttl") == {("old", world.index, "t-a"): len(truth)}
            assert world.policy_overdue("ttl") == float(len(truth))
            assert world.last_verified("ttl") is None


# -- windows and suspension


def drafts(world: World, namespace: str = "t-a") -> set[str]:
    """Two drafts to delete and a ticket to keep; the drafts' IDs."""
    seed(
        world.emulator,
        world.index,
        {
            namespace: {
                "draft-1": {"kind": "draft"},
                "draft-2": {"kind": "draft"},
                "ticket": {"kind": "ticket"},
            }
        },
    )
    return {"draft-1", "draft-2"}


def drafts_policy(index: str, **spec: Any) -> Document:
    return policy("drafts", index, ["t-*"], [where_rule("drafts", kind="draft")], **spec)


BERLIN_NIGHT = {"allow": [{"start": "0 22 * * *", "duration": "6h", "timeZone": "Europe/Berlin"}]}
"""22:00-04:00 in Berlin: 21:00-03:00 UTC in winter (read as UTC it would be 22:00-04:00)."""
BERLIN_MONDAY = {
    "allow": [{"days": ["mon"], "from": "00:00", "to": "01:00", "timeZone": "Europe/Berlin"}]
}
"""Monday 00:00-01:00 in Berlin: Sunday 23:00 to Monday 00:00 UTC."""
UTC_NIGHT = {"allow": [{"days": EVERY_DAY, "from": "01:00", "to": "05:00", "timeZone": "UTC"}]}
ALWAYS_BUT_WEEKENDS = {
    "allow": [{"start": "0 0 * * *", "duration": "1d", "timeZone": "UTC"}],
    "deny": [{"days": ["sat", "sun"]}],
}
NOT_ON_SUNDAY = {"deny": [{"days": ["sun"], "timeZone": "Europe/Berlin"}]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("windows", "clock", "opens"),
    [
        pytest.param(UTC_NIGHT, "2040-01-02T00:30", "2040-01-02T01:00:00Z", id="utc-before"),
        pytest.param(UTC_NIGHT, "2040-01-02T05:00", "2040-01-03T01:00:00Z", id="utc-at-end"),
        pytest.param(
            BERLIN_NIGHT, "2040-01-02T03:30", "2040-01-02T21:00:00Z", id="berlin-cron-after"
        ),
        pytest.param(BERLIN_NIGHT, "2040-01-01T21:00", None, id="berlin-cron-at-start"),
        pytest.param(BERLIN_NIGHT, "2040-01-01T21:30", None, id="berlin-cron-open-utc-says-not"),
        pytest.param(BERLIN_MONDAY, "2040-01-01T23:30", None, id="berlin-monday-utc-says-sunday"),
        pytest.param(
            BERLIN_MONDAY, "2040-01-02T00:30", "2040-01-08T23:00:00Z", id="berlin-monday-over"
        ),
        pytest.param(
            ALWAYS_BUT_WEEKENDS, "2040-01-01T12:00", "2040-01-02T00:00:00Z", id="deny-wins"
        ),
        pytest.param(ALWAYS_BUT_WEEKENDS, "2040-01-02T12:00", None, id="allowed-weekday"),
        pytest.param(NOT_ON_SUNDAY, "2040-01-01T22:30", "2040-01-01T23:00:00Z", id="deny-only"),
        pytest.param(NOT_ON_SUNDAY, "2040-01-01T23:00", None, id="deny-only-berlin-monday"),
    ],
)
def test_a_firing_outside_its_windows_is_skipped_and_inside_applies(
    world: World, windows: dict[str, Any], clock: str, opens: str | None
) -> None:
    """At the reconciler's clock, windows read in their own zones: outside (`opens` says when
    they open next) the firing is skipped before planning, nothing is sent or saved, the run
    is counted outside_window and is no success; inside, the drafts are deleted."""
    world.clock.now = at(clock)
    doomed = drafts(world)
    policies = world.load(drafts_policy(world.index, windows=windows))

    events = world.fire(policies, "drafts")

    if opens is None:
        assert world.runs("drafts") == {"applied": 1.0}
        assert world.records() == {"ticket"}
        assert named(events, "reconcile_skipped") == []
        return
    assert world.records() == doomed | {"ticket"}
    assert world.wire.deletes == []
    assert world.runs("drafts") == {"outside_window": 1.0}
    assert world.last_success("drafts") is None
    [skipped] = named(events, "reconcile_skipped")
    assert (skipped["policy"], skipped["reason"], skipped["opens"]) == (
        "drafts",
        "outside window",
        opens,
    )
    assert named(events, "plan_computed") == []
    assert world.saved("drafts.plan.json") is None
    assert world.ledger.recent_deleted("drafts", 7) == []


def test_a_suspended_policy_plans_deletes_nothing_and_says_suspended(world: World) -> None:
    """spec.suspend: the plan is made and saved with status suspended, no delete is sent, no
    apply starts, the run is counted suspended and as a success; what it would delete is
    pending and overdue, and it is not verified caught up."""
    records = [Seeded("t-a", f"r{i}", {"created_at": epoch(NOW - 2 * DAY)}) for i in range(3)]
    plant(world, [*records, Seeded("t-a", "new", {"created_at": epoch(NOW)})])
    policies = world.load(ttl_policy("ttl", world.index, suspend=True))

    events = world.fire(policies, "ttl")

    assert world.records() == {"r0", "r1", "r2", "new"}
    assert world.wire.deletes == []
    assert world.runs("ttl") == {"suspended": 1.0}
    assert world.last_success("ttl") == epoch(NOW)
    assert world.pending("ttl") == 3.0
    plan = world.saved("ttl.plan.json")
    assert plan is not None
    assert [p["status"] for p in plan["policies"]] == ["suspended"]
    [observed] = named(events, "reconcile_observed")
    assert (observed["status"], observed["records"]) == ("suspended", 3)
    assert named(events, "apply_started") == []
    assert world.saved("ttl.report.json") is None
    assert world.overdue_series("ttl") == {("old", world.index, "t-a"): 3.0}
    assert world.policy_overdue("ttl") == 3.0
    assert world.last_verified("ttl") is None
    state = world.saved("last-success.json")
    assert state == {"policies": {"ttl": format_time(NOW)}}


WINDOW_22_23 = {"allow": [{"start": "0 22 * * *", "duration": "1h", "timeZone": "UTC"}]}
STEP = timedelta(minutes=10)
"""How far the clock moves while each delete request is sent."""


def test_a_window_that_closes_mid_apply_stops_new_batches_and_the_next_window_finishes(
    world: World,
) -> None:
    """4,500 expired records by ID prefix (five batches of at most 1,000), one batch at a time,
    in a 22:00-23:00 UTC window entered at 22:25; each delete moves the clock 10 minutes. The
    batches begun before 23:00 (at 22:25, 22:35, 22:45 and 22:55) are sent, the fifth is not:
    the action ends window-closed, the run window_closed (no success), the rest overdue. A
    firing the next noon is outside the window and skipped; the next window's firing deletes
    the rest and the policy is verified caught up."""
    prefix = "doc#"
    created = epoch(at("2039-12-30T00:00"))
    expired = {f"{prefix}{i:05d}" for i in range(4500)}
    seed(
        world.emulator,
        world.index,
        {"t-a": {i: {"created_at": created} for i in expired} | {"keep": {"created_at": created}}},
    )
    rule = {**ttl_rule("old", "1d"), "idPrefix": prefix}
    policies = world.load(policy("docs", world.index, ["t-*"], [rule], windows=WINDOW_22_23))

    async def slow(namespace: str) -> None:
        world.clock.advance(STEP)

    world.wire.before_delete = slow
    after: dict[str, Any] = {}
    world.clock.now = at("2040-01-01T22:25")

    async def in_window(r: Reconciler) -> None:
        await r.reconcile("docs")
        after.update(
            records=world.records(),
            deletes=len(world.wire.deletes),
            runs=world.runs("docs"),
            report=world.saved("docs.report.json"),
            overdue=world.overdue_series("docs"),
            success=world.last_success("docs"),
            verified=world.last_verified("docs"),
        )

    async def next_noon(r: Reconciler) -> None:
        world.clock.now = at("2040-01-02T12:00")
        await r.reconcile("docs")
        after.update(noon=world.records(), noon_runs=world.runs("docs"))

    async def next_window(r: Reconciler) -> None:
        world.clock.now = at("2040-01-02T22:10")
        await r.reconcile("docs")

    one_at_a_time = ApplySettings(delete_workers=1)
    events = run_firings(world, policies, [in_window, next_noon, next_window], one_at_a_time)

    assert after["deletes"] == 4
    left = after["records"] - {"keep"}
    assert len(left) == 500 and left < expired
    report = after["report"]
    [action] = report["actions"]
    assert (action["status"], action["deleted"]) == ("window-closed", 4000)
    assert after["runs"] == {"window_closed": 1.0}
    assert after["success"] is None
    assert after["verified"] is None
    assert after["overdue"] == {("old", world.index, "t-a"): 500.0}
    assert [e["action"] for e in named(events, "window_closed")] == [f"docs/old/{world.index}/t-a"]

    assert after["noon"] == after["records"]
    assert after["noon_runs"] == {"window_closed": 1.0, "outside_window": 1.0}

    assert world.records() == {"keep"}
    assert world.runs("docs") == {"window_closed": 1.0, "outside_window": 1.0, "applied": 1.0}
    assert world.overdue_series("docs") == {}
    assert world.policy_overdue("docs") == 0.0
    assert world.last_verified("docs") == epoch(world.clock.now)
    assert world.last_success("docs") == epoch(world.clock.now)
    assert world.ledger.recent_deleted("docs", 7) == [500, 4000]


def test_a_window_that_closes_while_the_plan_is_made_deletes_nothing_and_is_no_failure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The firing starts at 22:59, inside a 22:00-23:00 window, and its plan takes two minutes:
    the apply begins after the window closed. Nothing is sent; the run is counted as the
    window's doing (window_closed or outside_window), not as a failed apply, and no action
    is logged as failed. The next window's firing deletes the drafts."""
    doomed = drafts(world)
    policies = world.load(drafts_policy(world.index, windows=WINDOW_22_23))
    world.clock.now = at("2040-01-01T22:59")

    async def slow_plan(*args: Any, **kwargs: Any) -> Plan:
        plan = await pipeline.plan_live(*args, **kwargs)
        world.clock.advance(2 * MINUTE)
        return plan

    monkeypatch.setattr(reconciler_module, "plan_live", slow_plan)

    events = world.fire(policies, "drafts")

    assert world.records() == doomed | {"ticket"}
    assert world.wire.deletes == []
    assert set(world.runs("drafts")) <= {"window_closed", "outside_window"}
    assert named(events, "action_failed", "reconcile_failed") == []

    world.clock.now = at("2040-01-02T22:30")
    world.fire(policies, "drafts")
    assert world.records() == {"ticket"}


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        pytest.param({}, {"observe": True}, id="service-observing"),
        pytest.param({"mode": "observe"}, {}, id="policy-in-observe-mode"),
    ],
)
def test_observing_is_not_limited_by_the_windows(
    world: World, spec: dict[str, Any], options: dict[str, Any]
) -> None:
    """The schema: windows say "when deletions may run (planning and observing are not
    limited)". Outside its window, a firing that only observes (the service run with
    --observe, or a policy in observe mode) still plans and exposes what would go; nothing
    is deleted."""
    world.clock.now = at("2040-01-02T12:00")
    doomed = drafts(world)
    policies = world.load(drafts_policy(world.index, windows=UTC_NIGHT, **spec))

    world.fire(policies, "drafts", **options)

    assert world.records() == doomed | {"ticket"}
    assert world.wire.deletes == []
    assert world.runs("drafts") == {"observed": 1.0}
    assert world.pending("drafts") == 2.0
    assert world.saved("drafts.plan.json") is not None
