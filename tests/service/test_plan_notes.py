"""After every plan the reconciler logs the plan's warnings and exports holds that protect
nothing and records whose TTL field never expires, keeping the gauges right as plans change and
policies are reloaded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import structlog
from structlog.testing import capture_logs

import retention.service.reconciler as reconciler_module
from retention.pinecone import PineconeClient
from retention.planning.plan import InvalidTimestamps, Plan, PolicyResult, Sources
from retention.policy import PolicySet, load_policies
from retention.service.metrics import Metrics
from retention.service.reconciler import Reconciler
from tests import builders
from tests.builders import seed, ttl_rule, write_policies

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
HOLD_TEXT = "legal hold 'typo' protects nothing: index 'idz' does not exist"
INVALID_TEXT = "policy 'chat' rule 'old': 3 records of namespace 't-a' hold a non-numeric ts"


def policy(name: str) -> dict[str, Any]:
    return builders.policy(name, "idx", ["t-*"], [ttl_rule("old", "3d", field="ts")], limits=None)


def hold(name: str, include: str = "t-*") -> dict[str, Any]:
    return builders.hold(name, "idx", [include], [{"held": True}])


def load(folder: Path, *documents: dict[str, Any]) -> PolicySet:
    for old in folder.glob("*.yaml"):
        old.unlink()
    return load_policies([str(write_policies(folder, documents, file="all.yaml"))])


def plan(
    name: str,
    *,
    warnings: tuple[str, ...] = (),
    unmatched: tuple[str, ...] = (),
    invalid: tuple[tuple[str, int | None], ...] = (),
) -> Plan:
    """A plan of `name` with nothing to delete and the given findings; `invalid` is
    (namespace, records) for rule `old` on field `ts`."""
    return Plan(
        as_of=AS_OF,
        tool_version="test",
        sources=Sources((), "sha256:" + "0" * 64),
        index_hosts={"idx": "idx.example"},
        actions=(),
        policies=(PolicyResult(name, "ready", 0),),
        warnings=warnings,
        unmatched_holds=unmatched,
        invalid_timestamps=tuple(
            InvalidTimestamps(name, "old", "idx", ns, "ts", n) for ns, n in invalid
        ),
    )


class Harness:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.metrics = Metrics()
        self.next: Plan | None = None
        self.reconciler = Reconciler(
            cast(PineconeClient, None), self.metrics, structlog.get_logger()
        )

        async def plan_live(client: Any, policies: PolicySet, **_: Any) -> Plan:
            assert self.next is not None
            return self.next

        monkeypatch.setattr(reconciler_module, "plan_live", plan_live)

    def reconcile(
        self, policies: PolicySet, name: str, planned: Plan
    ) -> list[MutableMapping[str, Any]]:
        """Reconcile `name` with `planned` as its plan; the events logged."""
        self.reconciler.policies = policies
        self.next = planned
        with capture_logs() as logs:
            asyncio.run(self.reconciler.reconcile(name))
        assert self.metrics.registry.get_sample_value(
            "retention_reconcile_runs_total", {"policy": name, "outcome": "nothing_to_delete"}
        )
        return logs

    def held(self, name: str) -> float | None:
        return self.metrics.registry.get_sample_value("retention_hold_unmatched", {"hold": name})

    def invalid(self, policy: str, namespace: str) -> float | None:
        labels = {"policy": policy, "rule": "old", "index": "idx", "namespace": namespace}
        return self.metrics.registry.get_sample_value("retention_invalid_timestamp_records", labels)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield Harness(monkeypatch)


def test_each_warning_is_logged(harness: Harness, tmp_path: Path) -> None:
    policies = load(tmp_path / "p", policy("chat"), hold("typo"))
    logs = harness.reconcile(
        policies, "chat", plan("chat", warnings=(HOLD_TEXT, INVALID_TEXT), unmatched=("typo",))
    )
    assert [e for e in logs if e["event"] == "plan_warning"] == [
        {"event": "plan_warning", "log_level": "warning", "policy": "chat", "warning": HOLD_TEXT},
        {
            "event": "plan_warning",
            "log_level": "warning",
            "policy": "chat",
            "warning": INVALID_TEXT,
        },
    ]


def test_a_clean_plan_logs_no_warning(harness: Harness, tmp_path: Path) -> None:
    policies = load(tmp_path / "p", policy("chat"))
    logs = harness.reconcile(policies, "chat", plan("chat"))
    assert not [e for e in logs if e["event"] in ("plan_warning", "invalid_timestamps_unmeasured")]


def test_unmatched_holds_are_1_and_go_back_to_0(harness: Harness, tmp_path: Path) -> None:
    """Every plan checks every hold: 1 while a hold protects nothing, 0 once it matches."""
    policies = load(tmp_path / "p", policy("chat"), hold("typo"), hold("good"))
    harness.reconcile(policies, "chat", plan("chat", unmatched=("typo",)))
    assert (harness.held("typo"), harness.held("good")) == (1.0, 0.0)
    harness.reconcile(policies, "chat", plan("chat"))
    assert (harness.held("typo"), harness.held("good")) == (0.0, 0.0)


def test_holds_removed_by_a_reload_lose_their_series(harness: Harness, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    harness.reconcile(
        load(folder, policy("chat"), hold("typo")), "chat", plan("chat", unmatched=("typo",))
    )
    assert harness.held("typo") == 1.0
    renamed = load(folder, policy("chat"), hold("fixed"))
    harness.reconcile(renamed, "chat", plan("chat"))
    assert (harness.held("typo"), harness.held("fixed")) == (None, 0.0)


def test_invalid_timestamps_are_gauged_per_rule_and_namespace(
    harness: Harness, tmp_path: Path
) -> None:
    policies = load(tmp_path / "p", policy("chat"))
    harness.reconcile(policies, "chat", plan("chat", invalid=(("t-a", 3), ("t-b", 1_250))))
    assert (harness.invalid("chat", "t-a"), harness.invalid("chat", "t-b")) == (3.0, 1250.0)
    harness.reconcile(policies, "chat", plan("chat", invalid=(("t-b", 7),)))
    assert (harness.invalid("chat", "t-a"), harness.invalid("chat", "t-b")) == (None, 7.0)
    harness.reconcile(policies, "chat", plan("chat"))
    assert (harness.invalid("chat", "t-a"), harness.invalid("chat", "t-b")) == (None, None)


def test_an_unmeasured_count_is_logged_and_not_gauged(harness: Harness, tmp_path: Path) -> None:
    """None (the namespace changed while counting): no new series, the last value stands."""
    policies = load(tmp_path / "p", policy("chat"))
    logs = harness.reconcile(policies, "chat", plan("chat", invalid=(("t-a", None),)))
    assert harness.invalid("chat", "t-a") is None
    assert [e for e in logs if e["event"] == "invalid_timestamps_unmeasured"] == [
        {
            "event": "invalid_timestamps_unmeasured",
            "log_level": "warning",
            "policy": "chat",
            "rule": "old",
            "index": "idx",
            "namespace": "t-a",
            "field": "ts",
        }
    ]
    harness.reconcile(policies, "chat", plan("chat", invalid=(("t-a", 4),)))
    harness.reconcile(policies, "chat", plan("chat", invalid=(("t-a", None),)))
    assert harness.invalid("chat", "t-a") == 4.0


def test_a_policy_removed_by_a_reload_loses_its_series(harness: Harness, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    harness.reconcile(load(folder, policy("chat")), "chat", plan("chat", invalid=(("t-a", 3),)))
    assert harness.invalid("chat", "t-a") == 3.0
    harness.reconcile(load(folder, policy("talk")), "talk", plan("talk", invalid=(("t-a", 2),)))
    assert (harness.invalid("chat", "t-a"), harness.invalid("talk", "t-a")) == (None, 2.0)


def test_against_the_emulator_a_mistyped_hold_is_exported(tmp_path: Path) -> None:
    """The real planner and client: a hold on a namespace that does not exist is 1, the hold
    that matches is 0, and three records with a text `ts` are gauged."""
    from retention.emulator import Emulator, EmulatorConfig
    from retention.pinecone import Pacer, PineconeSettings, connect

    now = datetime.now(UTC).timestamp()
    typo = hold("typo", include="t-zz")
    policies = load(tmp_path / "p", policy("chat"), hold("good"), typo)
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("idx", 2),))) as emulator:
        records = {f"r{i}": {"ts": now} for i in range(10)} | {
            f"x{i}": {"ts": "soon"} for i in range(3)
        }
        seed(emulator, "idx", {"t-a": records})
        metrics = Metrics()

        async def run() -> list[MutableMapping[str, Any]]:
            settings = PineconeSettings(api_key="k", controller_url=emulator.controller_url)
            async with connect(settings, pacer=Pacer(())) as client:
                reconciler = Reconciler(client, metrics, structlog.get_logger())
                reconciler.policies = policies
                with capture_logs() as logs:
                    await reconciler.reconcile("chat")
                return logs

        logs = asyncio.run(run())
    value = metrics.registry.get_sample_value
    assert value("retention_hold_unmatched", {"hold": "typo"}) == 1.0
    assert value("retention_hold_unmatched", {"hold": "good"}) == 0.0
    labels = {"policy": "chat", "rule": "old", "index": "idx", "namespace": "t-a"}
    assert value("retention_invalid_timestamp_records", labels) == 3.0
    warnings = [e["warning"] for e in logs if e["event"] == "plan_warning"]
    assert len(warnings) == 2
    assert warnings[0].startswith("legal hold 'typo' protects nothing")
    assert "3 records of namespace 't-a' (index 'idx') hold a non-numeric ts" in warnings[1]
