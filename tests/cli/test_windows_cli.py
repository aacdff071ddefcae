"""Deletion windows and suspension: what `retention plan` says, what `retention apply` refuses,
and an apply whose window closes while it runs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from jsonschema import Draft202012Validator

from retention.applying.executor import ApplySettings, Stop
from retention.applying.report import Report
from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import IndexClient
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import Plan, format_time, from_document, to_document
from retention.policy import load_policies
from retention.policy.schema import load_schema
from tests.applying.world import fresh_index, pointed_at, snapshot, unpaced_client
from tests.builders import policy, seed, ttl_rule, write_policies
from tests.cli.conftest import SMALL, Live
from tests.cli.helpers import AT, older_than, run_cli

DAY = 86_400
OLD = int(time.time()) - 90 * DAY
NEW = int(time.time())

CLOSED_AT_AT = {"allow": [{"start": "0 2 * * *", "duration": "1h"}]}
"""Closed at AT (2027-01-01T00:00Z, a Friday): it opens two hours later."""
OPEN_AT_AT = {"allow": [{"days": ["fri"], "from": "00:00", "to": "12:00"}]}
"""Open at AT, until noon."""


# -- plan


@pytest.fixture
def windowed(small: Live, policies: Path) -> Path:
    """`tickets` (tenant-a, 30d) outside its window at AT, `drafts` (tenant-b, 90d) inside."""
    docs = [
        policy("tickets", "support", ["tenant-a"], [ttl_rule("expire", "30d")],
               windows=CLOSED_AT_AT),
        policy("drafts", "support", ["tenant-b"], [ttl_rule("expire", "90d")], windows=OPEN_AT_AT),
    ]  # fmt: skip
    return write_policies(policies, docs)


def test_the_text_plan_says_outside_its_window_and_overdue(
    windowed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "plan", str(windowed), "--at", AT)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert (
        "! policy 'tickets' is outside its window; opens 2027-01-01T02:00:00Z (allow 0 2 * * * "
        "for 1h (UTC)): apply refuses it until then unless --ignore-windows"
    ) in lines
    assert not any("drafts' is" in line for line in lines)  # open: no notice
    tickets, drafts = older_than(SMALL["tenant-a"], 30), older_than(SMALL["tenant-b"], 90)
    [overdue] = [line for line in lines if line.startswith("Overdue:")]
    assert overdue.startswith(f"Overdue: {tickets + drafts:,} records past their TTL (")
    assert f"tickets {tickets:,}" in overdue and f"drafts {drafts:,}" in overdue
    assert lines.index(overdue) == len(lines) - 2  # just above the totals line


def test_the_markdown_plan_has_the_window_and_an_overdue_column(
    windowed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "plan", str(windowed), "--at", AT, "--format", "markdown")
    assert run.code == 0, run.err
    assert "| policy | status | records | overdue | guards |" in run.out
    tickets, drafts = older_than(SMALL["tenant-a"], 30), older_than(SMALL["tenant-b"], 90)
    rows = {line.split("|")[1].strip(): line for line in run.out.splitlines() if "| `" in line}
    cells = [c.strip() for c in rows["`tickets`"].split("|")]
    assert cells[2:5] == ["ready, outside window", f"{tickets:,}", f"{tickets:,}"]
    cells = [c.strip() for c in rows["`drafts`"].split("|")]
    assert cells[2:5] == ["ready", f"{drafts:,}", f"{drafts:,}"]
    assert "> - policy 'tickets' is outside its window; opens 2027-01-01T02:00:00Z" in run.out


def test_the_json_plan_has_window_and_overdue_and_validates(
    windowed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(windowed), "--at", AT, "--format", "json", "--out", str(out))
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    Draft202012Validator(load_schema("plan.v1.json")).validate(doc)
    by_name = {p["name"]: p for p in doc["policies"]}
    assert by_name["tickets"]["window"] == {
        "open": False,
        "opens": "2027-01-01T02:00:00Z",
        "closes": None,
        "windows": "allow 0 2 * * * for 1h (UTC)",
    }
    assert by_name["drafts"]["window"] == {
        "open": True,
        "opens": None,
        "closes": "2027-01-01T12:00:00Z",
        "windows": "allow fri 00:00-12:00 (UTC)",
    }
    assert by_name["tickets"]["overdue"] == older_than(SMALL["tenant-a"], 30)
    assert by_name["drafts"]["overdue"] == older_than(SMALL["tenant-b"], 90)
    assert from_document(doc).fingerprint == doc["fingerprint"]


def test_a_policy_without_windows_has_none_and_no_overdue_without_ttl(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [policy("drafts", "support", ["tenant-b"], [{"name": "d", "where": {"kind": "draft"}}])]
    out = tmp_path / "plan.json"
    run = run_cli(
        capsys, "plan", str(write_policies(policies, docs)), "--at", AT, "--out", str(out)
    )
    assert run.code == 0, run.err
    [doc] = json.loads(out.read_text())["policies"]
    assert (doc["window"], doc["overdue"]) == (None, 0)
    assert "Overdue:" not in run.out and "window" not in run.out


def test_a_suspended_policy_is_planned_suspended(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [policy("tickets", "support", ["*"], [ttl_rule("expire", "30d")], suspend=True)]
    folder = write_policies(policies, docs)
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(folder), "--at", AT, "--out", str(out))
    assert run.code == 0, run.err
    assert "! policy 'tickets' is suspended (spec.suspend): planned, nothing deleted" in run.out
    assert "(not applied: policy suspended)" in run.out
    assert run.out.splitlines()[-1] == "Plan: nothing to delete."
    doc = json.loads(out.read_text())
    Draft202012Validator(load_schema("plan.v1.json")).validate(doc)
    [p] = doc["policies"]
    assert p["status"] == "suspended" and p["records"] == sum(
        older_than(n, 30) for n in SMALL.values()
    )
    markdown = run_cli(capsys, "plan", str(folder), "--at", AT, "--format", "markdown")
    assert "| `tickets` | suspended |" in markdown.out


# -- apply, on the real clock


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator, pointed_at(emulator):
        yield emulator


def _later_window() -> tuple[dict[str, Any], datetime]:
    """An allow window that opens on the hour, at least an hour from now, for 30 minutes."""
    opens = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return {"allow": [{"start": f"0 {opens.hour} * * *", "duration": "30m"}]}, opens


def _world(emulator: Emulator, tmp_path: Path, **spec: Any) -> tuple[str, Path]:
    """Namespaces a and b: 20 expired and 5 new records each; policy `p` (given `spec`)
    expires both, policy `q` (no windows) erases two new records of a."""
    index = fresh_index(emulator, "windows")
    data = {
        ns: {f"{ns}-old-{i:02d}": {"created_at": OLD} for i in range(20)}
        | {f"{ns}-new-{i}": {"created_at": NEW} for i in range(5)}
        for ns in ("a", "b")
    }
    seed(emulator, index, data)
    docs = [
        policy("p", index, ["a", "b"], [ttl_rule("expire", "30d")], **spec),
        policy("q", index, ["a"], [{"name": "user", "ids": ["a-new-0", "a-new-1"]}]),
    ]
    return index, write_policies(tmp_path / "policies", docs)


def _apply(
    capsys: pytest.CaptureFixture[str], policies: Path, tmp_path: Path, *extra: str
) -> tuple[Any, dict[str, Any]]:
    report = tmp_path / "report.json"
    run = run_cli(
        capsys, "apply", str(policies), "--auto-approve", "--report", str(report),
        "--ledger", str(tmp_path / "ledger.sqlite"), *extra,
    )  # fmt: skip
    return run, json.loads(report.read_text())


def test_apply_refuses_a_policy_outside_its_window(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    windows, opens = _later_window()
    index, policies = _world(live, tmp_path, windows=windows)
    before = snapshot(live, index, ["a", "b"])
    run, told = _apply(capsys, policies, tmp_path)
    assert run.code == 1, run.out + run.err
    assert "outside its window; opens " + format_time(opens) in run.out  # the plan's notice

    after = snapshot(live, index, ["a", "b"])
    assert after == {"a": before["a"] - {"a-new-0", "a-new-1"}, "b": before["b"]}
    by_id = {a["id"]: a for a in told["actions"]}
    p_actions = [a for i, a in by_id.items() if i.startswith("p/")]
    assert len(p_actions) == 2
    assert {(a["status"], a["deleted"], a["requests"]) for a in p_actions} == {
        ("outside-window", 0, 0)
    }
    [error] = {a["error"] for a in p_actions}
    assert error.startswith(f"policy p is outside its windows ({policy_windows(windows)}) at ")
    assert f"they open {format_time(opens)}; nothing of it was deleted" in error
    assert error.endswith("apply it then, or pass --ignore-windows")
    assert by_id[f"q/user/{index}/a"]["status"] == "done"

    errors = [m for m in run.messages if m.startswith("retention: error:")]
    assert errors == [f"retention: error: p/expire/{index}/a and 1 more action: {error}"], run.err


def policy_windows(windows: dict[str, Any]) -> str:
    [w] = windows["allow"]
    return f"allow {w['start']} for {w['duration']} (UTC)"


def test_ignore_windows_applies_it(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    windows, _ = _later_window()
    index, policies = _world(live, tmp_path, windows=windows)
    run, told = _apply(capsys, policies, tmp_path, "--ignore-windows")
    assert run.code == 0, run.out + run.err
    assert told["deleted"] == 42
    after = snapshot(live, index, ["a", "b"])
    assert after == {
        "a": {f"a-new-{i}" for i in range(2, 5)},
        "b": {f"b-new-{i}" for i in range(5)},
    }


def test_apply_inside_its_window_applies_it(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Denied all of a day three days away (UTC): open now, and still open if the test runs
    # across a midnight, so nothing depends on the time of day it runs at.
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    windows = {"deny": [{"days": [days[(datetime.now(UTC).weekday() + 3) % 7]]}]}
    _, policies = _world(live, tmp_path, windows=windows)
    run, told = _apply(capsys, policies, tmp_path)
    assert run.code == 0, run.out + run.err
    assert told["deleted"] == 42


def test_a_deny_window_of_today_refuses_it(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Denied all of today and tomorrow (UTC), so a midnight in between changes nothing."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    today = datetime.now(UTC).weekday()
    windows = {"deny": [{"days": [days[today], days[(today + 1) % 7]]}]}
    index, policies = _world(live, tmp_path, windows=windows)
    before = snapshot(live, index, ["a", "b"])
    run, told = _apply(capsys, policies, tmp_path)
    assert run.code == 1, run.out + run.err
    assert snapshot(live, index, ["a", "b"])["b"] == before["b"]
    assert {a["status"] for a in told["actions"] if a["id"].startswith("p/")} == {"outside-window"}
    p_actions = [a for a in told["actions"] if a["id"].startswith("p/")]
    assert len(p_actions) == 2
    assert all("is outside its windows (deny " in a["error"] for a in p_actions)


@pytest.mark.parametrize("extra", [(), ("--ignore-windows",)])
def test_a_suspended_policy_deletes_nothing(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]
) -> None:
    index, policies = _world(live, tmp_path, suspend=True)
    before = snapshot(live, index, ["a", "b"])
    run, told = _apply(capsys, policies, tmp_path, *extra)
    assert run.code == 0, run.out + run.err
    assert "! policy 'p' is suspended (spec.suspend): planned, nothing deleted" in run.out
    assert [a["id"].split("/")[0] for a in told["actions"]] == ["q"]
    assert told["deleted"] == 2
    assert snapshot(live, index, ["a", "b"]) == {
        "a": before["a"] - {"a-new-0", "a-new-1"},
        "b": before["b"],
    }


def test_a_plan_of_only_suspended_policies_applies_nothing(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = fresh_index(live, "windows")
    seed(live, index, {"a": {f"old-{i}": {"created_at": OLD} for i in range(5)}})
    docs = [policy("p", index, ["a"], [ttl_rule("expire", "30d")], suspend=True)]
    policies = write_policies(tmp_path / "policies", docs)
    run = run_cli(capsys, "apply", str(policies), "--auto-approve")
    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[-1] == "Plan: nothing to delete."
    assert len(snapshot(live, index, ["a"])["a"]) == 5


# -- a window that closes while the apply runs (the executor, on an injected clock)

T0 = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
"""Inside `*/10 * * * *` for 5m: that opening closes at 00:05, the next opens at 00:10."""
EVERY_TEN = {"allow": [{"start": "*/10 * * * *", "duration": "5m"}]}


class Clock:
    """The apply's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _close_after_first_delete(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[str]:
    """Move `clock` to the window's end once the first delete request of any kind is answered;
    the namespaces of the requests, in order."""
    sent: list[str] = []

    def wrap(name: str) -> None:
        real = getattr(IndexClient, name)

        async def delete(self: IndexClient, *args: Any, **kwargs: Any) -> Any:
            done = await real(self, *args, **kwargs)
            sent.append(str(args[-1] if args else kwargs.get("namespace")))
            clock.at = max(clock.at, T0.replace(minute=5, second=0))
            return done

        monkeypatch.setattr(IndexClient, name, delete)

    wrap("delete_batch")
    wrap("delete_by_filter")
    return sent


SETTINGS = ApplySettings(verify_timeout=10, delete_workers=1, namespaces_at_once=1)
"""One batch and one namespace at a time, so the moment the window closes is the test's."""


def _plan_then_apply(
    emulator: Emulator, policies: Path, journal: Path, clock: Clock
) -> tuple[Plan, Report]:
    """Plan at T0, round trip the plan file, apply it starting at `clock`'s time."""
    log = structlog.wrap_logger(structlog.ReturnLogger())
    loaded = load_policies([str(policies)])

    async def run() -> tuple[Plan, Report]:
        async with unpaced_client(emulator) as client:
            plan = await plan_live(client, loaded, now=T0, log=log)
            plan = from_document(json.loads(json.dumps(to_document(plan))))
            report = await apply_live(
                client, plan, loaded, now=clock(), settings=SETTINGS, log=log, stop=Stop(),
                journal=journal, clock=clock,
            )  # fmt: skip
        return plan, report

    return asyncio.run(run())


def test_a_window_closing_mid_apply_stops_its_policy_and_a_later_apply_finishes(
    live: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 IDs in a, 1,200 in b: the first batch's answer comes as the window closes, so the
    rest of a and all of b wait; policy q (no windows) finishes; the apply in the next
    opening deletes the rest and nothing twice."""
    index = fresh_index(live, "closing")
    a_ids, b_ids = [f"a-{i:04d}" for i in range(3000)], [f"b-{i:04d}" for i in range(1200)]
    data: dict[str, dict[str, dict[str, Any]]] = {"a": {i: {} for i in a_ids}}
    data["b"] = {i: {} for i in b_ids}
    data["c"] = {f"c-{i}": {"created_at": 0} for i in range(7)} | {"c-keep": {"created_at": NEW}}
    seed(live, index, data)
    docs = [
        policy("p", index, ["a", "b"], [{"name": "user", "ids": a_ids + b_ids}],
               windows=EVERY_TEN),
        policy("q", index, ["c"], [ttl_rule("expire", "30d")]),
    ]  # fmt: skip
    policies = write_policies(tmp_path / "policies", docs)
    journal = tmp_path / "journal.json"
    first_clock = Clock(T0)
    sent = _close_after_first_delete(monkeypatch, first_clock)
    plan, first = _plan_then_apply(live, policies, journal, first_clock)
    assert plan.actions and sent

    left = snapshot(live, index, ["a", "b", "c"])
    results = {r.action.id: r for r in first.results}
    p_a, p_b = results[f"p/user/{index}/a"], results[f"p/user/{index}/b"]
    q = results[f"q/expire/{index}/c"]
    deleted_a = 3000 - len(left["a"])
    assert 0 < deleted_a < 3000 and deleted_a == p_a.deleted
    assert deleted_a % 1000 == 0  # whole batches only
    assert (p_a.status, p_b.status) == ("window-closed", "window-closed")
    assert p_b.deleted == 0 and left["b"] == set(b_ids)
    assert "closed at 2027-01-01T00:05:00Z" in (p_a.error or "")
    assert (q.status, q.deleted) == ("done", 7) and left["c"] == {"c-keep"}
    assert "stopped when their window closed: run the same apply in the next window" in (
        first.summary()
    )
    assert not first.failed
    done = json.loads(journal.read_text())["done"]
    assert set(done) == {q.action.id}

    monkeypatch.undo()
    nxt = Clock(T0.replace(minute=10))
    second = _apply_again(live, policies, journal, plan, nxt)
    results = {r.action.id: r for r in second.results}
    assert results[q.action.id].status == "applied-earlier"
    assert results[p_a.action.id].status == "done"
    assert results[p_a.action.id].deleted == 3000 - deleted_a
    assert results[p_b.action.id].status == "done" and results[p_b.action.id].deleted == 1200
    assert snapshot(live, index, ["a", "b", "c"]) == {"a": set(), "b": set(), "c": {"c-keep"}}


def _apply_again(
    emulator: Emulator, policies: Path, journal: Path, plan: Plan, clock: Clock
) -> Report:
    """Apply the same `plan` again, with its journal, starting at `clock`'s time."""
    log = structlog.wrap_logger(structlog.ReturnLogger())
    loaded = load_policies([str(policies)])

    async def run() -> Report:
        async with unpaced_client(emulator) as client:
            return await apply_live(
                client, plan, loaded, now=clock(), settings=SETTINGS, log=log, stop=Stop(),
                journal=journal, clock=clock,
            )  # fmt: skip

    return asyncio.run(run())


def test_a_window_closing_between_filtered_namespaces_stops_the_rest(
    live: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = fresh_index(live, "closing")
    namespaces = ("n1", "n2", "n3")
    data = {
        ns: {f"{ns}-old-{i}": {"created_at": OLD} for i in range(10)}
        | {f"{ns}-new": {"created_at": NEW}}
        for ns in namespaces
    }
    seed(live, index, data)
    docs = [policy("p", index, list(namespaces), [ttl_rule("expire", "30d")], windows=EVERY_TEN)]
    policies = write_policies(tmp_path / "policies", docs)
    journal = tmp_path / "journal.json"
    clock = Clock(T0)
    sent = _close_after_first_delete(monkeypatch, clock)
    plan, first = _plan_then_apply(live, policies, journal, clock)

    assert len(sent) == 1
    statuses = sorted((r.status, r.deleted) for r in first.results)
    assert statuses == [("done", 10), ("window-closed", 0), ("window-closed", 0)]
    left = snapshot(live, index, list(namespaces))
    assert sum(len(v) for v in left.values()) == 3 + 20

    monkeypatch.undo()
    second = _apply_again(live, policies, journal, plan, Clock(T0.replace(minute=10)))
    assert sorted(r.status for r in second.results) == ["applied-earlier", "done", "done"]
    assert second.deleted == 20
    assert snapshot(live, index, list(namespaces)) == {ns: {f"{ns}-new"} for ns in namespaces}


def test_an_id_action_whose_last_batch_is_answered_as_the_window_closes_is_done(
    live: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its one batch was sent inside the window and nothing of it is left: it finished, so it
    is done (and journaled), not stopped by the window with nothing left to wait for."""
    index = fresh_index(live, "closing")
    ids = [f"u-{i}" for i in range(5)]
    seed(live, index, {"n": {i: {} for i in ids} | {"keep": {}}})
    docs = [policy("p", index, ["n"], [{"name": "user", "ids": ids}], windows=EVERY_TEN)]
    policies = write_policies(tmp_path / "policies", docs)
    journal = tmp_path / "journal.json"
    clock = Clock(T0)
    _close_after_first_delete(monkeypatch, clock)
    _, report = _plan_then_apply(live, policies, journal, clock)
    assert snapshot(live, index, ["n"])["n"] == {"keep"}
    [result] = report.results
    assert result.deleted == 5
    assert (result.status, result.error) == ("done", None)
    assert set(json.loads(journal.read_text())["done"]) == {result.action.id}


def test_a_later_apply_outside_the_window_still_refuses(live: Emulator, tmp_path: Path) -> None:
    index = fresh_index(live, "closing")
    seed(live, index, {"n": {f"old-{i}": {"created_at": OLD} for i in range(4)}})
    docs = [policy("p", index, ["n"], [ttl_rule("expire", "30d")], windows=EVERY_TEN)]
    policies = write_policies(tmp_path / "policies", docs)
    journal = tmp_path / "journal.json"
    outside = Clock(T0.replace(minute=7))
    _, report = _plan_then_apply(live, policies, journal, outside)
    [result] = report.results
    assert result.status == "outside-window" and "they open 2027-01-01T00:10:00Z" in (
        result.error or ""
    )
    assert len(snapshot(live, index, ["n"])["n"]) == 4
