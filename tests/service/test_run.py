"""`retention run` as a subprocess against the emulator: schedules, reload, HTTP, SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.errors import RetentionError
from retention.service.http import listen

POLICY = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {{name: {name}}}
spec:
  index: idx
  namespaces: {{include: ["t-*"]}}
  schedule: 1s
  rules:
    - name: old
      olderThan: {age}
      field: created_at
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def start_run(emu: Emulator, policies: Path, log: Path, *args: str, **env: str) -> Any:
    """`retention run POLICIES ARGS` on loopback against `emu`, its output going to `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "retention",
                "run",
                str(policies),
                "--http-host",
                "127.0.0.1",
                *args,
            ],
            env={
                **os.environ,
                "PINECONE_API_KEY": "test-key",
                "PINECONE_CONTROLLER_HOST": emu.controller_url,
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass(frozen=True)
class Served:
    """A running `retention run`: its process, URL, log file and state directory."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    state: Path


@contextlib.contextmanager
def served(emu: Emulator, policies: Path, home: Path, *args: str) -> Iterator[Served]:
    """`retention run POLICIES ARGS` with its own state directory under `home`, once /healthz
    answers; SIGTERM (then SIGKILL) on the way out."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    state, log = home / "state", home / "run.log"
    proc = start_run(
        emu, policies, log, "--http-port", str(port), *args, RETENTION_STATE_DIR=str(state)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(url + "/healthz") == 200)
        yield Served(proc, url, log, state)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("idx", 4),))) as running:
        now = time.time()
        running.upsert(
            "idx",
            "t-a",
            [(f"r{i:03d}", [0.1] * 4, {"created_at": now - (i + 0.5) * 3600}) for i in range(100)],
        )
        yield running


@pytest.fixture
def service(
    emu: Emulator, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, Path]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="3d"))
    port = free_port()
    log = tmp_path / "run.log"
    proc = start_run(
        emu,
        policies,
        log,
        "--http-port",
        str(port),
        "--reload-interval",
        "0.3",
        RETENTION_STATE_DIR=str(tmp_path / "state"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(url + "/healthz") == 200)
        yield proc, url, policies, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=1.0).status_code
    except httpx.HTTPError:
        return 0


def left(emu: Emulator) -> int:
    return len(emu.records("idx", "t-a"))


@pytest.mark.slow
def test_reconciles_on_schedule_reloads_and_stops_cleanly(
    emu: Emulator, service: tuple[subprocess.Popen[bytes], str, Path, Path]
) -> None:
    """Deletions happen on schedule, an edit is picked up, a broken edit is rejected while the
    last good policies keep running, the endpoints answer, and SIGTERM exits 0 promptly."""
    proc, url, policies, log = service
    # 100 records one hour apart (ages 0.5h .. 99.5h); older than 3 days leaves 72.
    wait_for(lambda: left(emu) == 72)
    ready = httpx.get(url + "/readyz").json()
    assert ready == {
        "ready": True,
        "policies_loaded": True,
        "policies": 1,
        "shard": "0/1",
        "pinecone": "ok",
    }
    deleted = 'retention_records_deleted_total{index="idx",namespace="t-a",policy="chat"} 28.0'
    wait_for(lambda: deleted in httpx.get(url + "/metrics").text)
    metrics = httpx.get(url + "/metrics").text
    assert 'retention_reconcile_runs_total{outcome="applied",policy="chat"}' in metrics
    assert 'retention_last_success_timestamp_seconds{policy="chat"}' in metrics
    assert 'retention_pinecone_requests_total{operation="delete",outcome="ok"}' in metrics

    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="2d"))
    wait_for(lambda: left(emu) == 48)

    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="30x"))
    wait_for(
        lambda: "retention_config_reload_failures_total 1.0" in httpx.get(url + "/metrics").text
    )
    now = time.time()
    emu.upsert("idx", "t-a", [("late", [0.1] * 4, {"created_at": now - 5 * 86400})])
    wait_for(lambda: left(emu) == 48)  # the last good policy (2d) still runs and deletes "late"
    assert "late" not in emu.records("idx", "t-a")

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    text = log.read_text()
    assert '"event": "config_reload_rejected"' in text
    assert "invalid duration" in text or "write a duration" in text
    assert '"event": "service_stopped"' in text
    assert "test-key" not in text


def test_healthz_does_not_depend_on_pinecone(tmp_path: Path) -> None:
    """With Pinecone unreachable the process is healthy but not ready."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="3d"))
    port = free_port()
    env = {
        **os.environ,
        "PINECONE_API_KEY": "k",
        "PINECONE_CONTROLLER_HOST": f"http://127.0.0.1:{free_port()}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retention",
            "run",
            str(policies),
            "--http-port",
            str(port),
            "--http-host",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(url + "/healthz") == 200)
        response = httpx.get(url + "/readyz", timeout=10)
        assert response.status_code == 503
        assert response.json()["policies_loaded"] is True
        assert response.json()["pinecone"].startswith("unreachable")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_listen_binds_before_serving_and_names_a_taken_port() -> None:
    """listen() returns bound sockets (port 0 picks one); a taken port is one clear error."""
    sockets = listen("127.0.0.1", 0)
    try:
        port = sockets[0].getsockname()[1]
        assert port > 0
        sockets[0].listen()
        with pytest.raises(RetentionError) as info:
            listen("127.0.0.1", port)
        assert str(info.value) == (
            f"cannot serve health and metrics on 127.0.0.1:{port}: the port is in use"
        )
    finally:
        for sock in sockets:
            sock.close()


def test_listen_names_an_address_this_machine_does_not_have() -> None:
    """An interface address of another machine is refused at bind time, not left to uvicorn."""
    with pytest.raises(RetentionError) as info:
        listen("192.0.2.1", 0)
    assert str(info.value) == (
        "cannot serve health and metrics on 192.0.2.1:0: "
        "no interface of this machine has that address"
    )


def test_run_with_its_port_taken_exits_1_before_scheduling(emu: Emulator, tmp_path: Path) -> None:
    """As a process, run with a taken health port prints one line, exits 1, deletes nothing."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="3d"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "PINECONE_API_KEY": "test-key",
            "PINECONE_CONTROLLER_HOST": emu.controller_url,
        }
        argv = ["run", str(policies), "--http-host", "127.0.0.1", "--http-port", str(port)]
        done = subprocess.run(
            [sys.executable, "-m", "retention", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"retention: error: cannot serve health and metrics on 127.0.0.1:{port}: "
        "the port is in use\n"
    )
    assert left(emu) == 100


def test_a_second_run_on_the_same_state_directory_or_ledger_is_refused(
    emu: Emulator, tmp_path: Path
) -> None:
    """Two unsharded reconcilers on one state directory, or on one ledger, would delete the same
    records twice and write one ledger: the second exits 1 in one line naming the first and
    what they share, before it connects; the first runs on."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="3d"))
    shared = tmp_path / "audit" / "ledger.sqlite"
    shared.parent.mkdir()
    with served(emu, policies, tmp_path / "first", "--ledger", str(shared)) as first:
        wait_for(lambda: left(emu) == 72)
        for state, what in ((first.state, "state directory"), (tmp_path / "other", "ledger")):
            log = tmp_path / f"second-{what}.log"
            second = start_run(
                emu,
                policies,
                log,
                "--http-port",
                "0",
                "--ledger",
                str(shared),
                RETENTION_STATE_DIR=str(state),
            )
            assert second.wait(timeout=60) == 1, what
            (line,) = log.read_text().splitlines()
            assert line.startswith("retention: error: ") and " is held by pid " in line
            assert f"pid {first.proc.pid} " in line and f"uses this {what}." in line
        assert first.proc.poll() is None
