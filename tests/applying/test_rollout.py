"""Canaries (`spec.rollout.canary`): a few records first, verified, then the rest, or nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from retention.applying.executor import ApplySettings, Stop
from retention.applying.ledger import Ledger
from retention.applying.report import Report
from retention.emulator import Emulator, EmulatorConfig
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import Plan, from_document, to_document
from retention.policy import load_policies
from tests.applying.ledger_rows import check_consistent, rows
from tests.applying.world import cli, fresh_index, pointed_at, snapshot, unpaced_client
from tests.builders import policy, seed, ttl_rule, write_policies

DAY = 86_400
OLD = int(time.time()) - 90 * DAY
NEW = int(time.time())


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator, pointed_at(emulator):
        yield emulator


@dataclass
class Applied:
    plan: Plan
    report: Report
    events: list[MutableMapping[str, Any]]
    ledger: Path

    def named(self, *names: str) -> list[MutableMapping[str, Any]]:
        """The log events of these names, in order."""
        return [e for e in self.events if e["event"] in names]


def _apply(
    emulator: Emulator, policies: Path, tmp_path: Path, settings: ApplySettings | None = None
) -> Applied:
    """Plan, round trip the plan file, apply with a ledger; the events logged on the way."""
    capture = LogCapture()
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=[capture])
    loaded = load_policies([str(policies)])
    now = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger.open(path)

    async def run() -> tuple[Plan, Report]:
        async with unpaced_client(emulator) as client:
            plan = await plan_live(client, loaded, now=now, log=log)
            plan = from_document(json.loads(json.dumps(to_document(plan))))
            report = await apply_live(
                client,
                plan,
                loaded,
                now=now,
                settings=settings or ApplySettings(verify_timeout=10),
                log=log,
                stop=Stop(),
                ledger=ledger,
            )
        return plan, report

    try:
        plan, report = asyncio.run(run())
    finally:
        ledger.close()
    return Applied(plan, report, list(capture.entries), path)


def _records(emulator: Emulator, index: str, namespaces: Mapping[str, int]) -> dict[str, set[str]]:
    emulator.store.flush()  # writes still inside the emulator's lag count as done
    return snapshot(emulator, index, list(namespaces))


def _ttl_world(emulator: Emulator, expired: Mapping[str, int]) -> str:
    """An index whose namespaces hold that many expired records, and 20 new ones each."""
    index = fresh_index(emulator, "canary")
    data = {
        ns: {f"{ns}-old-{i:04d}": {"created_at": OLD} for i in range(n)}
        | {f"{ns}-new-{i:02d}": {"created_at": NEW} for i in range(20)}
        for ns, n in expired.items()
    }
    seed(emulator, index, data)
    return index


# -- ID policies: one batch first


def test_an_id_canary_deletes_one_batch_first_then_the_rest(live: Emulator, tmp_path: Path) -> None:
    """canary 1,500 on 2,500 IDs: one batch of min(1,500, 1,000) first, verified, then the rest."""
    index = fresh_index(live, "canary")
    ids = [f"u-{i:04d}" for i in range(2500)]
    seed(live, index, {"ns": {i: {"created_at": NEW} for i in ids} | {"keep": {"created_at": NEW}}})
    docs = [
        policy("erase", index, ["ns"], [{"name": "user", "ids": ids}], rollout={"canary": 1500})
    ]
    done = _apply(live, write_policies(tmp_path / "policies", docs), tmp_path)

    assert done.report.canaries == {"erase": "passed"}
    assert not done.report.failed
    [result] = done.report.results
    assert (result.status, result.deleted, result.verification) == ("done", 2500, "verified")
    assert _records(live, index, {"ns": 0})["ns"] == {"keep"}

    batches = rows(done.ledger, "SELECT ids FROM id_batches ORDER BY id")
    assert batches[0]["ids"] == 1000
    assert sum(b["ids"] for b in batches) == 2500
    order = done.named("canary_started", "canary_passed", "delete_batch", "action_applied")
    names = [e["event"] for e in order]
    assert names[:3] == ["canary_started", "delete_batch", "canary_passed"]
    assert order[1]["ids"] == 1000
    assert names[-1] == "action_applied" and names.count("delete_batch") == len(batches) >= 2
    check_consistent(done.ledger)


def test_an_id_canary_smaller_than_a_batch_sends_exactly_its_records_first(
    live: Emulator, tmp_path: Path
) -> None:
    index = fresh_index(live, "canary")
    ids = [f"u-{i:03d}" for i in range(40)]
    seed(live, index, {"ns": {i: {"created_at": NEW} for i in ids}})
    docs = [policy("erase", index, ["ns"], [{"name": "user", "ids": ids}], rollout={"canary": 7})]
    done = _apply(live, write_policies(tmp_path / "policies", docs), tmp_path)

    assert done.report.canaries == {"erase": "passed"}
    assert [b["ids"] for b in rows(done.ledger, "SELECT ids FROM id_batches ORDER BY id")] == [
        7,
        33,
    ]
    assert done.report.deleted == 40 and not _records(live, index, {"ns": 0})["ns"]


async def _delete(emulator: Emulator, index: str, namespace: str, ids: list[str]) -> None:
    """Delete `ids` through the data plane, as someone else would between plan and apply."""
    async with unpaced_client(emulator) as client:
        target = await client.indexes().get(index)
        for start in range(0, len(ids), 1000):
            await target.delete_batch(ids[start : start + 1000], namespace)


@pytest.mark.parametrize("canary", [None, 10])
def test_an_id_canary_is_held_to_the_namespace_guards_before_its_first_delete(
    live: Emulator, tmp_path: Path, canary: int | None
) -> None:
    """100 IDs of 1,000 records at plan time (10%, maxPercent 50); then 900 others go, so the
    IDs are 100% of the namespace: its guard, checked on fresh counts before the namespace's
    first delete, refuses them, and nothing is deleted, canary or not."""
    index = fresh_index(live, "canary")
    ids = [f"u-{i:03d}" for i in range(100)]
    others = [f"x-{i:03d}" for i in range(900)]
    seed(live, index, {"ns": {i: {"created_at": NEW} for i in ids + others}})
    rollout = {"rollout": {"canary": canary}} if canary else {}
    docs = [
        policy("erase", index, ["ns"], [{"name": "user", "ids": ids}], limits={"maxPercent": 50},
               **rollout)
    ]  # fmt: skip
    policies = write_policies(tmp_path / "policies", docs)
    planfile = tmp_path / "plan.json"
    code, out, err = cli("plan", str(policies), "--out", str(planfile))
    assert code == 0, out + err
    asyncio.run(_delete(live, index, "ns", others))

    ledger = tmp_path / "ledger.sqlite"
    code, out, err = cli("apply", str(planfile), str(policies), "--ledger", str(ledger))
    assert code == 1, out + err
    assert "would delete 100.0% of namespace 'ns', over its maxPercent 50" in err, err
    assert _records(live, index, {"ns": 0})["ns"] == set(ids)
    assert rows(ledger, "SELECT COUNT(*) AS n FROM id_batches") == [{"n": 0}]


# -- filtered policies: the smallest namespace whole


def test_a_filtered_canary_takes_the_smallest_namespace_first(
    live: Emulator, tmp_path: Path
) -> None:
    expired = {"big": 30, "small": 5, "middle": 12}
    index = _ttl_world(live, expired)
    docs = [policy("ttl", index, ["*"], [ttl_rule("expire", "30d")], rollout={"canary": 10})]
    done = _apply(live, write_policies(tmp_path / "policies", docs), tmp_path)

    assert done.report.canaries == {"ttl": "passed"}
    assert {r.action.namespace: (r.status, r.deleted) for r in done.report.results} == {
        ns: ("done", n) for ns, n in expired.items()
    }
    order = done.named("canary_started", "canary_passed", "delete_request")
    assert [e["event"] for e in order] == [
        "canary_started",
        "delete_request",
        "canary_passed",
        "delete_request",
        "delete_request",
    ]
    assert order[1]["action"] == f"ttl/expire/{index}/small"
    assert order[1]["records"] == 5
    left = _records(live, index, expired)
    assert all(not any("-old-" in i for i in left[ns]) and len(left[ns]) == 20 for ns in expired)


def test_a_canary_no_namespace_fits_refuses_with_nothing_deleted(
    live: Emulator, tmp_path: Path
) -> None:
    expired = {"a": 30, "b": 12}
    index = _ttl_world(live, expired)
    before = _records(live, index, expired)
    docs = [policy("ttl", index, ["*"], [ttl_rule("expire", "30d")], rollout={"canary": 10})]
    done = _apply(live, write_policies(tmp_path / "policies", docs), tmp_path)

    reason = done.report.canaries["ttl"]
    assert reason.startswith(
        f"canary of ttl: its smallest namespace {index}/b selects 12 records, more than "
        "rollout.canary 10"
    ), reason
    assert "nothing of the policy was deleted" in reason
    assert {(r.status, r.deleted, r.error) for r in done.report.results} == {("failed", 0, reason)}
    assert _records(live, index, expired) == before
    assert rows(done.ledger, "SELECT COUNT(*) AS n FROM id_batches") == [{"n": 0}]
    assert not done.named("delete_request", "delete_batch")


def test_a_canary_refusal_from_the_cli_exits_1_and_the_report_says_it(
    live: Emulator, tmp_path: Path
) -> None:
    expired = {"a": 30, "b": 12}
    index = _ttl_world(live, expired)
    before = _records(live, index, expired)
    docs = [
        policy("ttl", index, ["a", "b"], [ttl_rule("expire", "30d")], rollout={"canary": 10}),
        policy("other", index, ["a"], [{"name": "one", "ids": ["a-new-00"]}]),
    ]
    policies = write_policies(tmp_path / "policies", docs)
    report = tmp_path / "report.json"
    code, out, err = cli(
        "apply", str(policies), "--auto-approve", "--report", str(report), "--ledger",
        str(tmp_path / "ledger.sqlite"),
    )  # fmt: skip
    assert code == 1, out + err
    told = json.loads(report.read_text())
    [canary] = told["canaries"]
    assert canary["policy"] == "ttl" and canary["outcome"].startswith("canary of ttl: its smallest")
    by_policy = {a["id"].split("/")[0]: a for a in told["actions"] if a["status"] != "failed"}
    assert by_policy["other"]["status"] == "done" and by_policy["other"]["deleted"] == 1
    assert {a["status"] for a in told["actions"] if a["id"].startswith("ttl/")} == {"failed"}
    after = _records(live, index, expired)
    assert after == {"a": before["a"] - {"a-new-00"}, "b": before["b"]}
    errors = [line for line in err.splitlines() if line.startswith("retention: error:")]
    assert len(errors) == 1 and "and 1 more action" in errors[0], err


# -- a canary that is not verified stops its policy


@pytest.mark.parametrize("headers", ["reads", "none"])
def test_an_unverified_canary_stops_its_policy_and_others_go_on(
    tmp_path: Path, headers: Any
) -> None:
    """Deletes stay invisible for 3 s (and, without LSN headers, unproven): the canary's
    verification gives up after 0.3 s, its policy stops there, the other policy finishes."""
    config = EmulatorConfig(limits="off", lag_ms=3000, lsn_headers=headers)
    with Emulator.start(config) as emulator:
        index = fresh_index(emulator, "lag")
        ids = [f"u-{i:04d}" for i in range(1500)]
        data = {"ns": {i: {"created_at": NEW} for i in ids}}
        data["other"] = {f"o-{i}": {"created_at": OLD} for i in range(30)}
        data["other"] |= {f"n-{i}": {"created_at": NEW} for i in range(5)}
        seed(emulator, index, data)
        docs = [
            policy("erase", index, ["ns"], [{"name": "user", "ids": ids}], rollout={"canary": 50}),
            policy("ttl", index, ["other"], [ttl_rule("expire", "30d")]),
        ]
        settings = ApplySettings(verify_timeout=0.3)
        done = _apply(emulator, write_policies(tmp_path / "policies", docs), tmp_path, settings)
        left = _records(emulator, index, {"ns": 0, "other": 0})

    reason = done.report.canaries["erase"]
    assert reason.startswith("canary of erase not verified: "), reason
    assert f"in {index}/ns still visible after 0.3s" in reason
    assert "nothing else of the policy was deleted" in reason
    by_policy = {r.action.policy: r for r in done.report.results}
    erase, ttl = by_policy["erase"], by_policy["ttl"]
    assert (erase.status, erase.error, erase.deleted) == ("failed", reason, 50)
    assert (ttl.status, ttl.deleted) == ("done", 30)
    assert len(left["ns"]) == 1500 - 50 and set(ids[:50]).isdisjoint(left["ns"])
    assert left["other"] == {f"n-{i}" for i in range(5)}
    assert rows(done.ledger, "SELECT ids FROM id_batches") == [{"ids": 50}]
    assert not done.named("canary_passed") and done.named("canary_failed")
