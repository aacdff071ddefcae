"""The reconciler, one firing of one policy in `retention run`, on a clock the tests set.

Against the in-process emulator: what a firing plans, saves, deletes and counts in each mode and
status; how long its verification may wait, from the time left until the next firing; what a
refusal or a bug does (logged, counted, and the reconciler fires again); how a stop request
ends an apply; and that two firings never work on the same namespace at once.

The injected clock starts in 2040, far from the real time: records are dated relative to it, so
a TTL that expired them under the real clock would select nothing, or everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

import retention.service.reconciler as reconciler_module
from retention import pipeline
from retention.applying.executor import ApplySettings
from retention.applying.report import Report
from retention.emulator import Emulator, EmulatorConfig, ManualClock
from retention.pinecone import Pacer, PineconeClient, PineconeSettings, connect
from retention.planning.plan import Plan, format_time
from retention.policy import PolicySet
from retention.service.reconciler import VERIFY_SHARE, Reconciler
from tests.applying.world import fresh_index
from tests.builders import policy, seed, ttl_rule, where_rule
from tests.logged import Event
from tests.service.harness import NOW, World, epoch, named, problems

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SETTLE = 0.5
"""Seconds a held delete waits for another delete of its namespace to arrive, which it must
not (the namespace's lock is held): long enough for a firing without that lock to get there."""
AT_MOST = 30.0
"""Seconds after which a firing that never ends fails its test instead of hanging it."""


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> Iterator[World]:
    (tmp_path / "state").mkdir()
    yield World(emulator, tmp_path, fresh_index(emulator))


def drafts_and_spam(world: World, *namespaces: str) -> None:
    """In each namespace: two drafts, two spam messages and one ticket to keep."""
    seed(
        world.emulator,
        world.index,
        {
            ns: {
                f"{ns}-draft-1": {"kind": "draft"},
                f"{ns}-draft-2": {"kind": "draft"},
                f"{ns}-spam-1": {"kind": "spam"},
                f"{ns}-spam-2": {"kind": "spam"},
                f"{ns}-ticket": {"kind": "ticket"},
            }
            for ns in namespaces
        },
    )


class ApplySpy:
    """Records what the reconciler hands the apply: its `now` and settings."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[datetime, ApplySettings]] = []

        async def apply_live(
            *args: Any, now: datetime, settings: ApplySettings, **kw: Any
        ) -> Report:
            self.calls.append((now, settings))
            return await pipeline.apply_live(*args, now=now, settings=settings, **kw)

        monkeypatch.setattr(reconciler_module, "apply_live", apply_live)


# -- what one firing does, by mode and status


def test_an_enforced_policy_deletes_what_its_plan_selects_and_saves_plan_and_report(
    world: World,
) -> None:
    """A TTL policy over two namespaces: the plan, made as of the injected clock, selects the
    expired records; the apply deletes exactly those; the plan and report are saved; the
    metrics count the run, the deletions per namespace, nothing pending, and a success."""
    old, fresh = epoch(NOW - 2 * DAY), epoch(NOW - HOUR)
    seed(
        world.emulator,
        world.index,
        {
            "t-a": {
                "a-old-1": {"created_at": old},
                "a-old-2": {"created_at": old},
                "a-new": {"created_at": fresh},
            },
            "t-b": {"b-old": {"created_at": old}, "b-new": {"created_at": fresh}},
        },
    )
    policies = world.load(policy("ttl", world.index, ["t-*"], [ttl_rule("old", "1d")]))

    events = world.fire(policies, "ttl", next_firing=NOW + HOUR)

    assert (world.records("t-a"), world.records("t-b")) == ({"a-new"}, {"b-new"})
    plan = world.saved("ttl.plan.json")
    assert plan is not None
    assert plan["asOf"] == "2040-01-01T12:00:00Z"
    cutoff = int(epoch(NOW - DAY))
    assert [(a["namespace"], a["filter"], a["records"]["count"]) for a in plan["actions"]] == [
        ("t-a", {"created_at": {"$lt": cutoff}}, 2),
        ("t-b", {"created_at": {"$lt": cutoff}}, 1),
    ]
    report = world.saved("ttl.report.json")
    assert report is not None
    assert report["plan"] == plan["fingerprint"]
    assert report["started"] == "2040-01-01T12:00:00Z"
    assert (report["deleted"], report["interrupted"]) == (3, False)
    assert [
        (a["namespace"], a["status"], a["deleted"], a["verification"]) for a in report["actions"]
    ] == [
        ("t-a", "done", 2, "verified"),
        ("t-b", "done", 1, "verified"),
    ]

    assert world.runs("ttl") == {"applied": 1.0}
    deleted = "retention_records_deleted_total"
    assert world.sample(deleted, policy="ttl", index=world.index, namespace="t-a") == 2.0
    assert world.sample(deleted, policy="ttl", index=world.index, namespace="t-b") == 1.0
    assert world.pending("ttl") == 0.0
    assert world.last_success("ttl") is not None
    assert world.sample("retention_plan_duration_seconds_count", policy="ttl") == 1.0
    assert world.sample("retention_apply_duration_seconds_count", policy="ttl") == 1.0

    steps = named(events, "plan_computed", "apply_started", "apply_finished")
    assert [(e["event"], e["policy"]) for e in steps] == [
        ("plan_computed", "ttl"),
        ("apply_started", "ttl"),
        ("apply_finished", "ttl"),
    ]
    assert problems(events) == []


def test_a_later_firing_on_a_later_clock_expires_what_has_aged_since(world: World) -> None:
    """The same reconciler fires at noon and a day later: each plan's cutoff is its own
    firing's time less the TTL, so the half-day-old record goes only the second time."""
    seed(
        world.emulator,
        world.index,
        {
            "t-a": {
                "two-days": {"created_at": epoch(NOW - 2 * DAY)},
                "half-day": {"created_at": epoch(NOW - DAY / 2)},
                "just-now": {"created_at": epoch(NOW)},
            }
        },
    )
    policies = world.load(policy("ttl", world.index, ["t-*"], [ttl_rule("old", "1d")]))
    left: list[set[str]] = []
    as_of: list[str] = []

    async def two_firings() -> None:
        async with world.reconciler(policies) as reconciler:
            for _ in range(2):
                await asyncio.wait_for(reconciler.reconcile("ttl"), AT_MOST)
                left.append(world.records("t-a"))
                as_of.append(cast(dict[str, Any], world.saved("ttl.plan.json"))["asOf"])
                world.clock.advance(DAY)

    with capture_logs() as events:
        asyncio.run(two_firings())

    assert left == [{"half-day", "just-now"}, {"just-now"}]
    assert as_of == ["2040-01-01T12:00:00Z", "2040-01-02T12:00:00Z"]
    assert world.runs("ttl") == {"applied": 2.0}
    assert problems(events) == []


@pytest.mark.parametrize(
    ("spec", "options", "status"),
    [
        pytest.param({"mode": "observe"}, {}, "observe", id="policy-in-observe-mode"),
        pytest.param({}, {"observe": True}, "ready", id="service-observing"),
    ],
)
def test_an_observed_policy_deletes_nothing_and_exposes_what_it_would(
    world: World, spec: dict[str, Any], options: dict[str, Any], status: str
) -> None:
    """A policy in observe mode, or any policy of a service run with --observe: planned and
    saved, no delete request sent, its would-be deletions in the pending gauge, the run
    counted as observed and as a success, and no report written."""
    drafts_and_spam(world, "t-a")
    before = world.records("t-a")
    policies = world.load(
        policy("drafts", world.index, ["t-*"], [where_rule("drafts", kind="draft")], **spec)
    )

    events = world.fire(policies, "drafts", **options)

    assert world.records("t-a") == before
    assert world.wire.deletes == []
    assert world.pending("drafts") == 2.0
    assert world.runs("drafts") == {"observed": 1.0}
    assert world.last_success("drafts") is not None
    [observed] = named(events, "reconcile_observed")
    assert (observed["policy"], observed["status"], observed["records"]) == ("drafts", status, 2)
    assert named(events, "apply_started") == []
    plan = world.saved("drafts.plan.json")
    assert plan is not None
    assert [p["status"] for p in plan["policies"]] == [status]
    assert world.saved("drafts.report.json") is None


def test_a_policy_its_guards_block_deletes_nothing_and_is_counted_blocked(world: World) -> None:
    """Three drafts under maxRecords 2: the plan blocks the policy; nothing is sent, the run
    is counted as blocked (not observed, and not a success), and the blocked records are
    pending."""
    seed(
        world.emulator,
        world.index,
        {"t-a": {f"draft-{i}": {"kind": "draft"} for i in range(3)} | {"keep": {"kind": "x"}}},
    )
    before = world.records("t-a")
    policies = world.load(
        policy(
            "drafts",
            world.index,
            ["t-*"],
            [where_rule("drafts", kind="draft")],
            limits={"maxRecords": 2},
        )
    )

    events = world.fire(policies, "drafts", next_firing=NOW + HOUR)

    assert world.records("t-a") == before
    assert world.wire.deletes == []
    assert world.runs("drafts") == {"blocked": 1.0}
    assert world.last_success("drafts") is None
    assert world.pending("drafts") == 3.0
    [observed] = named(events, "reconcile_observed")
    assert observed["status"] == "blocked"
    plan = world.saved("drafts.plan.json")
    assert plan is not None
    [result] = plan["policies"]
    assert result["status"] == "blocked"
    assert "maxRecords" in result["reason"]
    assert world.saved("drafts.report.json") is None


def test_a_policy_that_selects_nothing_succeeds_without_applying(world: World) -> None:
    """Nothing expired: the plan is saved, no apply starts, nothing is pending, and the run is
    counted as nothing_to_delete and as a success."""
    seed(world.emulator, world.index, {"t-a": {"new": {"created_at": epoch(NOW)}}})
    policies = world.load(policy("ttl", world.index, ["t-*"], [ttl_rule("old", "1d")]))

    events = world.fire(policies, "ttl", next_firing=NOW + HOUR)

    assert world.records("t-a") == {"new"}
    assert world.runs("ttl") == {"nothing_to_delete": 1.0}
    assert world.pending("ttl") == 0.0
    assert world.last_success("ttl") is not None
    assert named(events, "apply_started") == []
    assert world.saved("ttl.plan.json") is not None
    assert world.saved("ttl.report.json") is None


def test_a_policy_no_longer_loaded_is_skipped(world: World) -> None:
    """A firing of a policy the loaded set no longer has, or before any set is loaded, sends
    nothing, saves nothing, counts no run, and says why."""
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))

    events = world.fire(policies, "renamed")
    unloaded = Reconciler(
        cast(PineconeClient, None), world.metrics, structlog.get_logger(), clock=world.clock
    )
    with capture_logs() as before_loading:
        asyncio.run(unloaded.reconcile("drafts"))

    assert [(e["event"], e["policy"], e["reason"]) for e in events + before_loading] == [
        ("reconcile_skipped", "renamed", "policy no longer loaded"),
        ("reconcile_skipped", "drafts", "policy no longer loaded"),
    ]
    assert (world.runs("renamed"), world.runs("drafts")) == ({}, {})
    assert world.wire.deletes == []
    assert list(world.state.iterdir()) == []


# -- the verification's deadline


@pytest.mark.parametrize(
    ("until_next", "configured", "expected"),
    [
        pytest.param(timedelta(seconds=10), 60.0, 10 * VERIFY_SHARE, id="next-firing-soon"),
        pytest.param(HOUR, 60.0, 60.0, id="next-firing-distant"),
        pytest.param(None, 60.0, 60.0, id="no-next-firing"),
        pytest.param(-timedelta(seconds=1), 60.0, 0.0, id="next-firing-overdue"),
    ],
)
def test_verification_waits_at_most_its_share_of_the_time_to_the_next_firing(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    until_next: timedelta | None,
    configured: float,
    expected: float,
) -> None:
    """The apply's verify timeout is the configured one cut to VERIFY_SHARE of the time left,
    on the injected clock, until the next firing; every other setting passes unchanged."""
    spy = ApplySpy(monkeypatch)
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))
    configured_settings = ApplySettings(verify_timeout=configured, max_records=1000)

    world.fire(
        policies,
        "drafts",
        next_firing=None if until_next is None else NOW + until_next,
        settings=configured_settings,
    )

    [(now, settings)] = spy.calls
    assert now == NOW
    assert settings.verify_timeout == expected
    assert replace(settings, verify_timeout=configured) == configured_settings
    assert world.runs("drafts") == {"applied": 1.0}


def test_time_spent_planning_is_not_given_to_the_verification(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request takes a second on the injected clock: the plan is dated when the firing
    began, the apply when it begins, and the verification gets its share of what is left
    from then until the next firing, not from the firing's start."""
    spy = ApplySpy(monkeypatch)
    world.wire.on_request = lambda _: world.clock.advance(timedelta(seconds=1))
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))
    next_firing = NOW + timedelta(minutes=2)

    world.fire(policies, "drafts", next_firing=next_firing)

    [(now, settings)] = spy.calls
    assert now > NOW
    assert settings.verify_timeout == (next_firing - now).total_seconds() * VERIFY_SHARE
    assert settings.verify_timeout < (next_firing - NOW).total_seconds() * VERIFY_SHARE
    plan, report = world.saved("drafts.plan.json"), world.saved("drafts.report.json")
    assert plan is not None and report is not None
    assert plan["asOf"] == format_time(NOW)
    assert report["started"] == format_time(now)


def test_a_firing_already_due_reports_unseen_deletes_pending_without_waiting(
    tmp_path: Path,
) -> None:
    """Pinecone shows deletes only after a lag that never passes here, and the configured
    verify timeout is an hour: with the next firing due now, the verification does not wait;
    the deletes are sent, reported pending, and left in the pending gauge for the next firing."""
    (tmp_path / "state").mkdir()
    config = EmulatorConfig(limits="off", lag_ms=60_000, clock=ManualClock())
    with Emulator.start(config) as emulator:
        world = World(emulator, tmp_path, fresh_index(emulator))
        drafts_and_spam(world, "t-a")
        policies = world.load(
            policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")])
        )

        events = world.fire(
            policies,
            "drafts",
            next_firing=NOW,
            settings=ApplySettings(verify_timeout=3600.0),
        )

    assert world.wire.deletes == ["t-a"]
    report = world.saved("drafts.report.json")
    assert report is not None
    assert [(a["status"], a["verification"], a["remaining"]) for a in report["actions"]] == [
        ("done", "pending", 2)
    ]
    assert world.pending("drafts") == 2.0
    assert world.runs("drafts") == {"applied": 1.0}
    assert [e["action"] for e in named(events, "apply_unverified")] == [
        f"drafts/d/{world.index}/t-a"
    ]


# -- failures


def test_a_refused_apply_is_logged_and_counted_and_the_next_firing_applies(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock passes 25 hours while the plan is made: the apply refuses the stale plan (a
    RetentionError), nothing is deleted, `reconcile_failed` says why and the run is counted
    as an error. The next firing of the same reconciler, on a steady clock, applies."""
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))
    delays = [25 * HOUR]

    async def plan_live(*args: Any, **kwargs: Any) -> Plan:
        plan = await pipeline.plan_live(*args, **kwargs)
        if delays:
            world.clock.advance(delays.pop())
        return plan

    monkeypatch.setattr(reconciler_module, "plan_live", plan_live)
    after_failure: dict[str, Any] = {}

    async def two_firings() -> None:
        async with world.reconciler(policies) as reconciler:
            await asyncio.wait_for(reconciler.reconcile("drafts"), AT_MOST)
            after_failure.update(
                records=world.records("t-a"),
                runs=world.runs("drafts"),
                last_success=world.last_success("drafts"),
                report=world.saved("drafts.report.json"),
                plan=world.saved("drafts.plan.json"),
            )
            await asyncio.wait_for(reconciler.reconcile("drafts"), AT_MOST)

    with capture_logs() as events:
        asyncio.run(two_firings())

    assert after_failure["records"] == {
        "t-a-draft-1",
        "t-a-draft-2",
        "t-a-spam-1",
        "t-a-spam-2",
        "t-a-ticket",
    }
    assert after_failure["runs"] == {"error": 1.0}
    assert after_failure["last_success"] is None
    assert after_failure["report"] is None
    assert after_failure["plan"] is not None
    [failed] = named(events, "reconcile_failed")
    assert failed["policy"] == "drafts"
    assert "the plan is stale" in failed["error"]
    assert named(events, "reconcile_crashed") == []

    assert world.records("t-a") == {"t-a-spam-1", "t-a-spam-2", "t-a-ticket"}
    assert world.runs("drafts") == {"error": 1.0, "applied": 1.0}
    assert world.last_success("drafts") is not None


def test_a_bug_is_logged_with_its_trace_and_counted_and_the_next_firing_applies(
    world: World,
) -> None:
    """An exception no one expects (here from the HTTP stack at the first delete) does not
    escape the firing: `reconcile_crashed` carries it and its trace, the run is counted as
    an error, no report is saved, and the namespace's lock is given back: the next firing of
    the same reconciler deletes what the first did not."""
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))
    failures = [RuntimeError("wire cut")]

    async def before_delete(namespace: str) -> None:
        if failures:
            raise failures.pop()

    world.wire.before_delete = before_delete
    after_crash: dict[str, Any] = {}

    async def two_firings() -> None:
        async with world.reconciler(policies) as reconciler:
            await asyncio.wait_for(reconciler.reconcile("drafts"), AT_MOST)
            after_crash.update(
                records=world.records("t-a"),
                runs=world.runs("drafts"),
                report=world.saved("drafts.report.json"),
            )
            await asyncio.wait_for(reconciler.reconcile("drafts"), AT_MOST)

    with capture_logs() as events:
        asyncio.run(two_firings())

    assert {"t-a-draft-1", "t-a-draft-2"} <= after_crash["records"]
    assert after_crash["runs"] == {"error": 1.0}
    assert after_crash["report"] is None
    [crashed] = named(events, "reconcile_crashed")
    assert crashed["policy"] == "drafts"
    assert "wire cut" in crashed["error"]
    assert crashed["exc_info"] is True
    assert named(events, "reconcile_failed") == []

    assert world.records("t-a") == {"t-a-spam-1", "t-a-spam-2", "t-a-ticket"}
    assert world.runs("drafts") == {"error": 1.0, "applied": 1.0}


# -- stopping


def test_a_stop_lets_the_delete_in_flight_finish_and_starts_nothing_more(world: World) -> None:
    """A stop request while a policy's first delete is in flight: that delete completes, the
    policy's second action is not sent, the report says interrupted and the run is counted so
    (not a success). The stop does not outlive the apply: the next firing finishes the work."""
    drafts_and_spam(world, "t-a")
    policies = world.load(
        policy(
            "cleanup",
            world.index,
            ["t-*"],
            [where_rule("drafts", kind="draft"), where_rule("spam", kind="spam")],
        )
    )
    after_stop: dict[str, Any] = {}

    async def stopped_then_again() -> None:
        arrived, release = asyncio.Event(), asyncio.Event()

        async def hold_first(namespace: str) -> None:
            if len(world.wire.deletes) == 1:
                arrived.set()
                await release.wait()

        world.wire.before_delete = hold_first
        async with world.reconciler(policies) as reconciler:
            firing = asyncio.create_task(reconciler.reconcile("cleanup"))
            await asyncio.wait_for(arrived.wait(), AT_MOST)
            reconciler.stop_all()
            release.set()
            await asyncio.wait_for(firing, AT_MOST)
            after_stop.update(
                deletes=len(world.wire.deletes),
                records=world.records("t-a"),
                runs=world.runs("cleanup"),
                last_success=world.last_success("cleanup"),
                report=world.saved("cleanup.report.json"),
            )
            await asyncio.wait_for(reconciler.reconcile("cleanup"), AT_MOST)

    with capture_logs() as events:
        asyncio.run(stopped_then_again())

    assert after_stop["deletes"] == 1
    report = after_stop["report"]
    assert report["interrupted"] is True
    statuses = {a["id"].split("/")[1]: a["status"] for a in report["actions"]}
    assert sorted(statuses.values()) == ["done", "interrupted"]
    [kept] = [rule for rule, status in statuses.items() if status == "interrupted"]
    assert after_stop["records"] == {f"t-a-{kept}-1", f"t-a-{kept}-2", "t-a-ticket"}
    assert after_stop["runs"] == {"interrupted": 1.0}
    assert after_stop["last_success"] is None

    assert world.records("t-a") == {"t-a-ticket"}
    assert world.runs("cleanup") == {"interrupted": 1.0, "applied": 1.0}
    assert problems(events) == []


# -- the namespace locks


def apply_spans(events: list[Event]) -> dict[str, tuple[int, int]]:
    """Per policy, the positions in the log of its apply_started and apply_finished."""
    starts = {e["policy"]: i for i, e in enumerate(events) if e["event"] == "apply_started"}
    ends = {e["policy"]: i for i, e in enumerate(events) if e["event"] == "apply_finished"}
    assert starts.keys() == ends.keys()
    return {p: (starts[p], ends[p]) for p in starts}


def fire_together(
    world: World, policies: PolicySet, names: tuple[str, str], *, wait: float, same: bool
) -> list[Event]:
    """Fire both policies at once on one reconciler; the events logged. The first delete
    request is held until another arrives (of its own namespace if `same`), or for `wait`
    seconds at most."""

    async def together() -> None:
        first: list[str] = []
        another = asyncio.Event()

        async def hold_first(namespace: str) -> None:
            if not first:
                first.append(namespace)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(another.wait(), wait)
            elif namespace == first[0] or not same:
                another.set()

        world.wire.before_delete = hold_first
        async with world.reconciler(policies) as reconciler:
            await asyncio.wait_for(
                asyncio.gather(*(reconciler.reconcile(n) for n in names)), AT_MOST
            )

    with capture_logs() as events:
        asyncio.run(together())
    return events


def test_two_firings_over_the_same_namespaces_take_turns(world: World) -> None:
    """Two policies over the same two namespaces fire at once and both plan; the first to
    apply holds its first delete: the other's apply does not start, and sends nothing to
    either namespace, until the first apply (verification included) has finished. Both take
    the namespaces' locks in the same order, so both finish, and each deletes its own."""
    drafts_and_spam(world, "t-a", "t-b")
    policies = world.load(
        policy("drafts", world.index, ["t-*"], [where_rule("drafts", kind="draft")]),
        policy("spam", world.index, ["t-*"], [where_rule("spam", kind="spam")]),
    )

    events = fire_together(world, policies, ("drafts", "spam"), wait=SETTLE, same=True)

    assert sorted(e["policy"] for e in named(events, "plan_computed")) == ["drafts", "spam"]
    spans = apply_spans(events)
    (_, first_end), (second_start, _) = sorted(spans.values())
    assert first_end < second_start
    assert world.wire.peak == {"t-a": 1, "t-b": 1}
    assert (world.records("t-a"), world.records("t-b")) == ({"t-a-ticket"}, {"t-b-ticket"})
    assert (world.runs("drafts"), world.runs("spam")) == ({"applied": 1.0}, {"applied": 1.0})
    assert problems(events) == []


def test_two_firings_over_different_namespaces_apply_at_the_same_time(world: World) -> None:
    """The locks are per namespace: two policies over different namespaces, fired at once,
    have their deletes in flight together and their applies overlap."""
    drafts_and_spam(world, "t-a", "t-b")
    policies = world.load(
        policy("drafts", world.index, ["t-a"], [where_rule("drafts", kind="draft")]),
        policy("spam", world.index, ["t-b"], [where_rule("spam", kind="spam")]),
    )

    events = fire_together(world, policies, ("drafts", "spam"), wait=AT_MOST / 3, same=False)

    assert world.wire.peak_overall == 2
    (_, first_end), (second_start, _) = sorted(apply_spans(events).values())
    assert second_start < first_end
    assert world.records("t-a") == {"t-a-spam-1", "t-a-spam-2", "t-a-ticket"}
    assert world.records("t-b") == {"t-b-draft-1", "t-b-draft-2", "t-b-ticket"}
    assert (world.runs("drafts"), world.runs("spam")) == ({"applied": 1.0}, {"applied": 1.0})


def test_a_stop_while_planning_applies_nothing(world: World) -> None:
    """A stop request while the plan is being made (here: waiting on Pinecone) cancels the
    plan: nothing is deleted, no plan or report is saved, and the run is counted interrupted.
    A plan deletes nothing, so it is not waited for."""
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))

    async def stopped_while_planning() -> None:
        asked, never = asyncio.Event(), asyncio.Event()

        def on_request(request: httpx.Request) -> None:
            asked.set()

        world.wire.on_request = on_request
        async with world.reconciler(policies) as reconciler:
            original = reconciler_module.plan_live

            async def slow_plan(*args: Any, **kwargs: Any) -> Plan:
                plan = await original(*args, **kwargs)
                await never.wait()  # Pinecone answering slowly, or retries being waited out
                return plan

            reconciler_module.plan_live = slow_plan  # type: ignore[assignment]
            try:
                firing = asyncio.create_task(reconciler.reconcile("drafts"))
                await asyncio.wait_for(asked.wait(), AT_MOST)
                await asyncio.sleep(0.05)
                reconciler.stop_all()
                await asyncio.wait_for(firing, AT_MOST)
            finally:
                reconciler_module.plan_live = original

    with capture_logs() as events:
        asyncio.run(stopped_while_planning())

    assert world.wire.deletes == []
    assert world.records("t-a") >= {"t-a-draft-1", "t-a-draft-2"}
    assert world.runs("drafts") == {"interrupted": 1.0}
    assert world.saved("drafts.plan.json") is None
    assert world.saved("drafts.report.json") is None
    [stopped] = named(events, "reconcile_stopped")
    assert stopped["stage"] == "planning"
    assert problems(events) == []


def test_a_cancelled_firing_gives_back_only_the_locks_it_took(world: World) -> None:
    """Firing A holds namespace t-b's lock while deleting; firing B takes t-a's and waits for
    t-b's. Cancelling B gives back t-a's lock only: A still holds t-b's, so a third firing over
    t-b waits for A instead of deleting beside it."""
    drafts_and_spam(world, "t-a", "t-b")
    policies = world.load(
        policy("only-b", world.index, ["t-b"], [where_rule("d", kind="draft")]),
        policy("both", world.index, ["t-*"], [where_rule("s", kind="spam")]),
    )

    async def scenario() -> None:
        arrived, release = asyncio.Event(), asyncio.Event()

        async def hold_a(namespace: str) -> None:
            if not arrived.is_set():
                arrived.set()
                await release.wait()

        world.wire.before_delete = hold_a
        async with world.reconciler(policies) as reconciler:
            first = asyncio.create_task(reconciler.reconcile("only-b"))
            await asyncio.wait_for(arrived.wait(), AT_MOST)
            second = asyncio.create_task(reconciler.reconcile("both"))
            while not reconciler._locks.get((world.index, "t-a"), asyncio.Lock()).locked():
                await asyncio.sleep(0.01)
            second.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await second
            assert reconciler._locks[(world.index, "t-b")].locked()  # still A's
            assert not reconciler._locks[(world.index, "t-a")].locked()
            release.set()
            await asyncio.wait_for(first, AT_MOST)
            assert not reconciler._locks[(world.index, "t-b")].locked()

    with capture_logs():
        asyncio.run(scenario())
    assert world.records("t-b") == {"t-b-spam-1", "t-b-spam-2", "t-b-ticket"}


def test_the_report_is_dated_by_the_reconcilers_clock(world: World) -> None:
    """The report's start and end, and each action's end, come from the injected clock."""
    drafts_and_spam(world, "t-a")
    policies = world.load(policy("drafts", world.index, ["t-*"], [where_rule("d", kind="draft")]))
    world.fire(policies, "drafts")
    report = world.saved("drafts.report.json")
    assert report is not None
    stamp = NOW.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert (report["started"], report["finished"]) == (stamp, stamp)
    assert {a["finished"] for a in report["actions"]} == {stamp}


def test_sigterm_lets_a_running_apply_finish_its_delete_in_flight(world: World) -> None:
    """The service, in process: SIGTERM while a firing's first delete is in flight. The
    scheduler fires nothing new, but the running job is not cancelled: its delete completes,
    its second action is not sent, its report is saved (interrupted), and run() returns 0."""
    from retention.service.running import Service, ServiceSettings

    drafts_and_spam(world, "t-a")
    rules = [where_rule("drafts", kind="draft"), where_rule("spam", kind="spam")]
    world.load(policy("cleanup", world.index, ["t-*"], rules, schedule="1s"))
    settings = ServiceSettings(
        paths=(str(world.root / "policies"),),
        http_host="127.0.0.1",
        http_port=0,
        state_dir=world.state,
        grace=AT_MOST,
    )

    async def serve_then_stop() -> int:
        arrived, release = asyncio.Event(), asyncio.Event()

        async def hold_first(namespace: str) -> None:
            if len(world.wire.deletes) == 1:
                arrived.set()
                await release.wait()

        world.wire.before_delete = hold_first
        client_settings = PineconeSettings(
            api_key="test-key", controller_url=world.emulator.controller_url
        )
        async with connect(client_settings, transport=world.wire, pacer=Pacer(())) as client:
            service = Service(
                settings, client=client, metrics=world.metrics, log=structlog.get_logger()
            )
            running = asyncio.create_task(service.run())
            await asyncio.wait_for(arrived.wait(), AT_MOST)
            service._on_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)  # the service is draining, the delete still in flight
            release.set()
            return await asyncio.wait_for(running, AT_MOST)

    with capture_logs() as events:
        code = asyncio.run(serve_then_stop())

    assert code == 0
    assert len(world.wire.deletes) == 1
    report = world.saved("cleanup.report.json")
    assert report is not None and report["interrupted"] is True
    assert sorted(a["status"] for a in report["actions"]) == ["done", "interrupted"]
    assert len(world.records("t-a")) == 3  # one rule's two records deleted, not the other's
    assert world.runs("cleanup") == {"interrupted": 1.0}
    assert [
        e["event"] for e in events if e["event"] in ("service_draining", "service_stopped")
    ] == [
        "service_draining",
        "service_stopped",
    ]
