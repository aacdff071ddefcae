"""The API key never leaves the Api-Key header: not in output, logs, files or metrics.

The end-to-end test runs plan, apply and run as a user would, against an emulator that requires
the key and fails a share of requests with 429 and 5xx, so retries are logged, and then reads
every byte the commands produced. The unit test checks the second lock, in the log processor.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from retention import logs
from retention.emulator import Emulator, EmulatorConfig
from tests.builders import seed

KEY = "rk-Q8vZt3WmX9pLs2Nd7Hy4Kc6Jf"
"""Distinctive: upper case and letters past `f`, so no request id or hash can contain a piece."""

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


def pieces(secret: str, size: int = 8) -> set[str]:
    """Every run of `size` characters of `secret`: a leak of part of the key is a leak."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str) -> list[str]:
    return sorted(p for p in pieces(KEY) if p in text)


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5.0)
    except httpx.HTTPError:
        return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def faulty_emulator(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """`retention emulator --api-key KEY` with 10% of requests failing, over seeded records."""
    data = tmp_path / "data"
    now = time.time()
    with Emulator.start(EmulatorConfig(data_dir=data, limits="off")) as seeding:
        seeding.create_index("idx", 4)
        hourly = {i: {"created_at": now - (i + 0.5) * 3600} for i in range(100)}
        seed(
            seeding,
            "idx",
            {ns: {f"{ns}-{i:03d}": m for i, m in hourly.items()} for ns in ("t-a", "t-b")},
        )
    argv = ["emulator", "--port", "0", "--data", str(data), "--api-key", KEY, "--limits", "off"]
    argv += ["--fault-rate", "0.1", "--fault-status", "429,500,503", "--seed", "7"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "retention", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("retention emulator: control plane on http://"), first
        yield first.rsplit(" ", 1)[1].strip(), first, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def retention(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retention", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow
def test_the_key_appears_in_no_output_file_log_or_metric(
    faulty_emulator: tuple[str, str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """plan --out, apply PLANFILE --report and run --state-dir under 429/5xx faults: every
    stdout, stderr, plan, report, journal, state file and HTTP page is free of the key."""
    url, banner, emulator = faulty_emulator
    env = {**os.environ, "PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": url}
    env.pop("RETENTION_STATE_DIR", None)
    texts: dict[str, str] = {}

    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="3d"))
    plan_file = tmp_path / "plan.json"
    plan = retention(env, "plan", str(policies), "--out", str(plan_file))
    assert plan.returncode == 0, plan.stderr
    texts |= {"plan stdout": plan.stdout, "plan stderr": plan.stderr}

    report_file = tmp_path / "report.json"
    apply = retention(env, "apply", str(plan_file), str(policies), "--report", str(report_file))
    assert apply.returncode == 0, apply.stderr
    texts |= {"apply stdout": apply.stdout, "apply stderr": apply.stderr}
    assert json.loads(report_file.read_text())
    journal = tmp_path / "plan.json.journal"
    assert journal.is_file()
    texts |= {"plan file": plan_file.read_text(), "report": report_file.read_text()}
    texts["journal"] = journal.read_text()

    (policies / "p.yaml").write_text(POLICY.format(name="chat", age="2d"))
    state = tmp_path / "state"
    port = free_port()
    run_log = tmp_path / "run.log"
    run_args = ["run", str(policies), "--http-port", str(port), "--http-host", "127.0.0.1"]
    run_args += ["--state-dir", str(state), "--reload-interval", "0.5"]
    with open(run_log, "w") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "retention", *run_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(list(state.glob("*.json"))) >= 2)
        wait_for(lambda: (r := get(base + "/readyz")) is not None and r.status_code == 200)
        for page in ("/metrics", "/healthz", "/readyz"):
            response = get(base + page)
            assert response is not None and response.status_code == 200, page
            texts[page] = response.text
        assert 'retention_records_deleted_total{index="idx"' in texts["/metrics"]
    finally:
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
    assert run.returncode == 0
    texts |= {"run stdout": out, "run stderr": run_log.read_text()}
    for path in sorted(state.iterdir()):  # the ledger (SQLite) too, read as bytes
        texts[f"state {path.name}"] = path.read_bytes().decode("utf-8", "replace")

    emulator.send_signal(signal.SIGTERM)
    emu_out, emu_err = emulator.communicate(timeout=30)
    texts |= {"emulator stdout": banner + emu_out, "emulator stderr": emu_err}

    everything = "\n".join(texts.values())
    assert '"event": "pinecone_retry"' in everything, "no fault was retried: the test saw none"
    assert "HTTP 429" in everything or "HTTP 5" in everything
    found = {name: leaks(text) for name, text in texts.items() if leaks(text)}
    assert found == {}


def test_the_log_processor_masks_a_hidden_key_in_every_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once hidden, the key is masked in strings, nested lists and dicts, and exceptions."""
    monkeypatch.setattr(logs, "_hidden", set())
    stream = io.StringIO()
    logs.configure(json=True, stream=stream)
    logs.hide(KEY)
    logs.get_logger().warning(
        "pinecone_retry",
        error=f"Illegal header value {KEY.encode()!r}",
        nested={"a": [f"x{KEY}y", 3]},
        cause=ValueError(f"bad {KEY}"),
        api_key=KEY,
    )
    event = json.loads(stream.getvalue())
    assert event["error"] == "Illegal header value b'[redacted]'"
    assert event["nested"] == {"a": ["x[redacted]y", 3]}
    assert event["cause"] == "bad [redacted]"
    assert event["api_key"] == "[redacted]"
    assert leaks(stream.getvalue()) == []
    structlog.reset_defaults()
