"""When an interval schedule first fires after start-up, from the last success the state
directory remembers; the file that remembers it; and `retention run` honouring it.

`trigger_for` is asked on fixed datetimes (no waiting): an interval first fires at the last
success plus the interval when that is still ahead, else within its jitter of start-up (one
second, then APScheduler's jitter), and never a whole interval after start-up. A cron schedule
does not care. The end-to-end tests start `retention run` as a process, as tests/service/
test_run.py does, with a `last-success.json` written beforehand.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import PineconeClient
from retention.planning.plan import format_time
from retention.policy import Policy, load_policies
from retention.service.metrics import Metrics
from retention.service.running import Service, ServiceSettings
from retention.service.scheduling import START_DELAY, cron_trigger, period_of, trigger_for
from retention.service.state import LAST_SUCCESS_FILE, read_last_success, write_last_success
from tests.builders import policy, ttl_rule, write_policies

NOW = datetime(2040, 1, 1, 12, 0, tzinfo=UTC)
"""A Sunday."""
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
DEFAULT_JITTER_CAP = timedelta(minutes=5)
"""An interval's jitter when the policy names none: a tenth of it, at most five minutes."""
SAMPLES = 50
"""First firings drawn per case: the jitter is random, each draw must be in bounds."""


def a_policy(tmp_path: Path, schedule: str | None, jitter: str | None = None) -> Policy:
    spec: dict[str, Any] = {}
    if schedule is not None:
        spec["schedule"] = schedule
    if jitter is not None:
        spec["jitter"] = jitter
    doc = policy("p", "idx", ["t-*"], [ttl_rule("old", "1d")], **spec)
    (loaded,) = load_policies([str(write_policies(tmp_path / "policies", [doc]))]).policies
    return loaded


def first_firings(p: Policy, *, now: datetime, last_success: datetime | None) -> list[datetime]:
    """The first firing of a fresh trigger for a service started at `now`, drawn SAMPLES
    times (each trigger draws its own jitter)."""
    fires = []
    for _ in range(SAMPLES):
        fire = trigger_for(p, now=now, last_success=last_success).get_next_fire_time(None, now)
        assert fire is not None
        fires.append(fire)
    return fires


def within(fires: list[datetime], earliest: datetime, latest: datetime) -> bool:
    return all(earliest <= f <= latest for f in fires)


# -- trigger_for on fixed datetimes


def test_a_recent_success_puts_the_first_firing_at_success_plus_interval(tmp_path: Path) -> None:
    """1h interval, last success 10 minutes before start-up: the first firing is 50 minutes
    after start-up, delayed by at most the default jitter (6 minutes capped at 5)."""
    p = a_policy(tmp_path, "1h")
    fires = first_firings(p, now=NOW, last_success=NOW - 10 * MINUTE)
    assert within(fires, NOW + 50 * MINUTE, NOW + 50 * MINUTE + DEFAULT_JITTER_CAP)


@pytest.mark.parametrize(
    "last_success",
    [
        pytest.param(NOW - 3 * HOUR, id="three-hours-ago"),
        pytest.param(NOW - HOUR, id="exactly-one-interval-ago"),
        pytest.param(NOW - HOUR + timedelta(milliseconds=500), id="due-before-the-start-delay"),
        pytest.param(None, id="unknown"),
    ],
)
def test_an_overdue_or_unknown_policy_fires_within_its_jitter_of_start_up(
    tmp_path: Path, last_success: datetime | None
) -> None:
    """Due already (or never succeeded as far as the state knows): the first firing is one
    second after start-up plus at most the jitter, never a whole interval later."""
    p = a_policy(tmp_path, "1h")
    fires = first_firings(p, now=NOW, last_success=last_success)
    assert within(fires, NOW + START_DELAY, NOW + START_DELAY + DEFAULT_JITTER_CAP)
    assert timedelta(seconds=1) == START_DELAY


def test_the_policys_own_jitter_bounds_the_first_firing(tmp_path: Path) -> None:
    """`jitter: 20s` on a 1d interval: overdue, the first firing is within 1 s + 20 s of
    start-up; due in 2 hours, within 20 s of then."""
    p = a_policy(tmp_path, "1d", jitter="20s")
    late = first_firings(p, now=NOW, last_success=NOW - timedelta(days=3))
    assert within(late, NOW + START_DELAY, NOW + START_DELAY + timedelta(seconds=20))
    soon = first_firings(p, now=NOW, last_success=NOW - timedelta(hours=22))
    assert within(soon, NOW + 2 * HOUR, NOW + 2 * HOUR + timedelta(seconds=20))


def test_after_the_first_firing_the_interval_follows(tmp_path: Path) -> None:
    """From the first firing on, one interval (plus jitter) between firings."""
    p = a_policy(tmp_path, "1h", jitter="10s")
    trigger = trigger_for(p, now=NOW, last_success=NOW - 10 * MINUTE)
    first = trigger.get_next_fire_time(None, NOW)
    assert first is not None
    second = trigger.get_next_fire_time(first, first)
    assert second is not None
    assert first + HOUR <= second <= first + HOUR + timedelta(seconds=10)


def test_a_last_success_in_the_future_does_not_defer_the_first_firing_past_an_interval(
    tmp_path: Path,
) -> None:
    """A last success after start-up (the state file written by a host whose clock ran
    ahead, or this host's clock set back since): the first firing still comes at most one
    interval (plus jitter) after start-up, never a whole interval or more beyond it."""
    p = a_policy(tmp_path, "1d", jitter="10s")
    fires = first_firings(p, now=NOW, last_success=NOW + 6 * HOUR)
    assert within(fires, NOW + START_DELAY, NOW + timedelta(days=1) + timedelta(seconds=10))


@pytest.mark.parametrize(
    "last_success",
    [
        pytest.param(NOW - 10 * MINUTE, id="recent"),
        pytest.param(NOW - timedelta(days=3), id="long-ago"),
        pytest.param(None, id="unknown"),
    ],
)
def test_a_cron_schedule_ignores_the_last_success(
    tmp_path: Path, last_success: datetime | None
) -> None:
    """`0 3 * * *` fires at the next 03:00 UTC, whatever the state says."""
    p = a_policy(tmp_path, "0 3 * * *")
    trigger = trigger_for(p, now=NOW, last_success=last_success)
    assert trigger.get_next_fire_time(None, NOW) == datetime(2040, 1, 2, 3, 0, tzinfo=UTC)
    assert str(trigger) == str(cron_trigger("0 3 * * *"))


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        pytest.param("15m", 900.0, id="interval"),
        pytest.param(None, 3600.0, id="default-hourly"),
        pytest.param("0 3 * * *", 86400.0, id="cron-daily"),
        pytest.param("*/10 * * * *", 600.0, id="cron-every-ten-minutes"),
        pytest.param("0 3 * * 0", 7 * 86400.0, id="cron-weekly"),
    ],
)
def test_the_period_is_the_interval_or_the_gap_between_two_cron_firings(
    tmp_path: Path, schedule: str | None, seconds: float
) -> None:
    assert period_of(a_policy(tmp_path, schedule), NOW) == seconds


# -- last-success.json


def test_last_successes_are_read_back_as_written(tmp_path: Path) -> None:
    times = {"a": NOW - HOUR, "b": NOW - timedelta(days=2)}
    assert write_last_success(tmp_path, times) is None
    assert read_last_success(tmp_path) == (times, None)
    document = json.loads((tmp_path / LAST_SUCCESS_FILE).read_text())
    assert document == {"policies": {"a": "2040-01-01T11:00:00Z", "b": "2039-12-30T12:00:00Z"}}
    assert write_last_success(tmp_path, {"a": NOW}) is None
    assert read_last_success(tmp_path) == ({"a": NOW}, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST_SUCCESS_FILE]


def test_no_state_directory_or_no_file_means_no_last_success_and_no_problem(
    tmp_path: Path,
) -> None:
    assert read_last_success(None) == ({}, None)
    assert read_last_success(tmp_path) == ({}, None)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        pytest.param(
            lambda f: f.write_text('{"policies": {"a": "2040-01-'), "cannot read", id="torn"
        ),
        pytest.param(lambda f: f.write_text("[1, 2]"), "cannot read", id="not-an-object"),
        pytest.param(lambda f: f.write_text('{"other": {}}'), "cannot read", id="no-policies"),
        pytest.param(
            lambda f: f.write_text('{"policies": {"a": "yesterday"}}'),
            "invalid time",
            id="bad-time",
        ),
        pytest.param(
            lambda f: f.write_text('{"policies": {"a": "2040-01-01T12:00:00"}}'),
            "no timezone",
            id="naive-time",
        ),
        pytest.param(lambda f: f.write_bytes(b"\xff\xfe\x00"), "cannot read", id="not-utf8"),
        pytest.param(lambda f: f.mkdir(), "not a regular file", id="a-directory"),
        pytest.param(
            lambda f: f.symlink_to(f.parent / "elsewhere.json"),
            "not a regular file",
            id="a-symbolic-link",
        ),
    ],
)
def test_an_unreadable_file_means_no_last_success_and_says_why(
    tmp_path: Path, make: Callable[[Path], object], words: str
) -> None:
    """Whatever is in the file's place: no times (the policies fire within their jitter of
    start-up) and one line naming the file and what is wrong, never an exception."""
    (tmp_path / "elsewhere.json").write_text('{"policies": {"a": "2040-01-01T12:00:00Z"}}')
    path = tmp_path / LAST_SUCCESS_FILE
    make(path)
    times, problem = read_last_success(tmp_path)
    assert times == {}
    assert problem is not None
    assert str(path) in problem
    assert words in problem


# -- the service schedules from the state directory


def service_at(tmp_path: Path, now: datetime, schedule: str, state: Path) -> Service:
    """A Service over one policy `chat` (not started: no scheduler running, no Pinecone), its
    clock set to `now`, its policies loaded."""
    doc = policy("chat", "idx", ["t-*"], [ttl_rule("old", "1d")], schedule=schedule)
    directory = write_policies(tmp_path / "policies", [doc])
    settings = ServiceSettings(paths=(str(directory),), state_dir=state)
    service = Service(
        settings,
        client=cast(PineconeClient, None),
        metrics=Metrics(),
        log=structlog.get_logger(),
    )
    service.reconciler.clock = lambda: now
    assert service.reload()
    return service


def first_run_of(service: Service) -> datetime:
    job = service.scheduler.get_job("chat")
    assert job is not None
    fire = job.trigger.get_next_fire_time(None, service.reconciler.clock())
    assert fire is not None
    return cast(datetime, fire)


@pytest.mark.parametrize(
    ("ago", "earliest", "latest"),
    [
        pytest.param(timedelta(minutes=30), 1.5 * HOUR, 1.5 * HOUR + DEFAULT_JITTER_CAP, id="due"),
        pytest.param(timedelta(hours=3), START_DELAY, START_DELAY + DEFAULT_JITTER_CAP, id="late"),
    ],
)
def test_the_service_schedules_the_first_firing_from_the_state_directory(
    tmp_path: Path, ago: timedelta, earliest: timedelta, latest: timedelta
) -> None:
    """The service reads last-success.json at start: a 2h policy that succeeded 30 minutes
    ago first fires 1.5 h after start-up; one that succeeded 3 h ago, at once (its jitter).
    Its schedule's period is exported."""
    state = tmp_path / "state"
    state.mkdir()
    assert write_last_success(state, {"chat": NOW - ago}) is None
    service = service_at(tmp_path, NOW, "2h", state)
    assert service.reconciler.last_success == {"chat": NOW - ago}
    assert NOW + earliest <= first_run_of(service) <= NOW + latest
    schedule = service.metrics.registry.get_sample_value(
        "retention_policy_schedule_seconds", {"policy": "chat"}
    )
    assert schedule == 7200.0
    # The last success is exported at once, not only after the next one: an alert on how long
    # a policy has gone without success must not read "never" after every restart.
    restored = service.metrics.registry.get_sample_value(
        "retention_last_success_timestamp_seconds", {"policy": "chat"}
    )
    assert restored == (NOW - ago).timestamp()


def test_a_service_whose_state_cannot_be_read_says_so_and_fires_at_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / LAST_SUCCESS_FILE).write_text("{not json")
    with capture_logs() as events:
        service = service_at(tmp_path, NOW, "1d", state)
    [warning] = [e for e in events if e["event"] == "state_not_read"]
    assert warning["log_level"] == "warning"
    assert LAST_SUCCESS_FILE in warning["error"]
    assert NOW + START_DELAY <= first_run_of(service) <= NOW + START_DELAY + DEFAULT_JITTER_CAP


# -- `retention run` as a process

POLICY = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: chat}
spec:
  index: idx
  namespaces: {include: ["t-*"]}
  schedule: 1d
  jitter: 1s
  rules:
    - name: old
      olderThan: 3d
      field: created_at
"""
FIRES_WITHIN = 2.0
"""Seconds from start-up within which a due policy fires: START_DELAY plus its 1 s jitter."""
WATCH = FIRES_WITHIN + 3.0
"""How long after start-up the tests watch for a firing (some margin for a loaded machine)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def events_in(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        with_brace = line[line.find("{") :] if "{" in line else ""
        try:
            out.append(json.loads(with_brace))
        except ValueError:
            continue
    return out


def event_names(log: Path) -> list[str]:
    return [str(e.get("event")) for e in events_in(log)]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """`idx` with 100 records in t-a, one hour apart (0.5 h to 99.5 h old): 28 are older
    than 3 days."""
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("idx", 4),))) as running:
        now = time.time()
        running.upsert(
            "idx",
            "t-a",
            [(f"r{i:03d}", [0.1] * 4, {"created_at": now - (i + 0.5) * 3600}) for i in range(100)],
        )
        yield running


def left(emu: Emulator) -> int:
    return len(emu.records("idx", "t-a"))


class Running:
    """`retention run` started with last-success.json saying `chat` succeeded `ago` before."""

    def __init__(self, emu: Emulator, root: Path, ago: timedelta) -> None:
        self.state = root / "state"
        self.state.mkdir()
        self.written = datetime.now(UTC).replace(microsecond=0) - ago
        (self.state / LAST_SUCCESS_FILE).write_text(
            json.dumps({"policies": {"chat": format_time(self.written)}})
        )
        policies = root / "policies"
        policies.mkdir()
        (policies / "p.yaml").write_text(POLICY)
        self.port = free_port()
        self.log = root / "run.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "retention",
                    "run",
                    str(policies),
                    "--http-host",
                    "127.0.0.1",
                    "--http-port",
                    str(self.port),
                    "--state-dir",
                    str(self.state),
                ],
                env={
                    **os.environ,
                    "PINECONE_API_KEY": "test-key",
                    "PINECONE_CONTROLLER_HOST": emu.controller_url,
                },
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def started(self) -> None:
        """Wait until the service has scheduled its policy and listens."""
        assert wait_for(lambda: "service_started" in event_names(self.log), 30.0), (
            self.log.read_text()
        )
        assert "policy_scheduled" in event_names(self.log)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5.0).text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=15) == 0
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()


@pytest.fixture
def start(emu: Emulator, tmp_path: Path) -> Iterator[Callable[[timedelta], Running]]:
    started: list[Running] = []

    def run(ago: timedelta) -> Running:
        started.append(Running(emu, tmp_path, ago))
        return started[-1]

    yield run
    for r in started:
        r.stop()


@pytest.mark.slow
def test_run_fires_a_daily_policy_at_once_when_its_last_success_is_25_hours_old(
    emu: Emulator, start: Callable[[timedelta], Running]
) -> None:
    """The state says `chat` (1d) last succeeded 25 hours ago: it is overdue, so the service
    reconciles it within seconds of start-up (not a day later), and records the new success
    in last-success.json."""
    running = start(timedelta(hours=25))
    running.started()
    applied = 'retention_reconcile_runs_total{outcome="applied",policy="chat"} 1.0'
    assert wait_for(lambda: applied in running.metrics(), WATCH), running.log.read_text()
    assert left(emu) == 72
    names = event_names(running.log)
    assert names.count("plan_computed") == 1
    assert "state_not_read" not in names
    metrics = running.metrics()
    assert 'retention_policy_schedule_seconds{policy="chat"} 86400.0' in metrics
    saved, problem = read_last_success(running.state)
    assert problem is None
    assert saved["chat"] > running.written + timedelta(hours=24)


@pytest.mark.slow
def test_run_does_not_fire_a_daily_policy_that_succeeded_an_hour_ago(
    emu: Emulator, start: Callable[[timedelta], Running]
) -> None:
    """The state says `chat` (1d) last succeeded an hour ago: its first firing is 23 hours
    away, so in the seconds after start-up in which a due policy fires, nothing is planned or
    deleted and the state file is left as it was."""
    running = start(timedelta(hours=1))
    running.started()
    before = (running.state / LAST_SUCCESS_FILE).read_text()
    assert not wait_for(lambda: "plan_computed" in event_names(running.log), WATCH)
    assert left(emu) == 100
    metrics = running.metrics()
    runs = [
        line for line in metrics.splitlines() if line.startswith("retention_reconcile_runs_total{")
    ]
    assert all(line.endswith(" 0.0") for line in runs), runs  # the alerts' series, no run
    assert 'retention_policy_schedule_seconds{policy="chat"} 86400.0' in metrics
    assert (running.state / LAST_SUCCESS_FILE).read_text() == before
