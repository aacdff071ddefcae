"""`--data` keeps every record across restarts; the command runs until a signal and exits 0."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from retention.cli import main
from retention.emulator import Emulator, EmulatorConfig
from retention.emulator.command import add_arguments
from retention.errors import RetentionError
from tests.emulator.conftest import StartEmulator, http, vec


def test_restart_with_the_same_data_keeps_every_record(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Records written over HTTP, namespaces, protection and backups survive a restart."""
    first = start_emulator(data_dir=tmp_path, indexes=(("idx", 4),))
    first.upsert("idx", "seeded", ((f"s{i}", vec(i), {"n": i}) for i in range(2000)))
    with http(first) as client:
        client.post(
            "/vectors/upsert",
            json={
                "namespace": "ns",
                "vectors": [
                    {"id": f"h{i}", "values": vec(i), "metadata": {"tags": ["a"]}}
                    for i in range(100)
                ],
            },
        )
        client.post("/vectors/delete", json={"namespace": "ns", "ids": ["h0", "h1"]})
        client.post(
            "/vectors/update", json={"namespace": "ns", "id": "h2", "setMetadata": {"x": True}}
        )
        client.post("/namespaces", json={"name": "empty"})
    with http(first, name=None) as client:
        client.patch("/indexes/idx", json={"deletion_protection": "enabled"})
        backup = client.post("/indexes/idx/backups", json={"name": "b"}).json()
    before = {ns: first.records("idx", ns) for ns in ("seeded", "ns")}
    first.stop()

    second = start_emulator(data_dir=tmp_path, indexes=(("idx", 4),))
    assert {ns: second.records("idx", ns) for ns in ("seeded", "ns")} == before
    assert len(before["seeded"]) == 2000 and len(before["ns"]) == 98
    assert second.records("idx", "ns")["h2"].metadata == {"tags": ["a"], "x": True}
    with http(second) as client:
        names = [n["name"] for n in client.get("/namespaces").json()["namespaces"]]
        assert names == ["empty", "ns", "seeded"]
    with http(second, name=None) as client:
        assert client.get("/indexes/idx").json()["deletion_protection"] == "enabled"
        assert client.get(f"/backups/{backup['backup_id']}").json()["status"] == "Ready"


def test_pending_writes_are_kept_on_stop(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """Writes still inside the lag when the emulator stops are not lost."""
    first = start_emulator(data_dir=tmp_path, indexes=(("idx", 4),), lag_ms=60_000)
    with http(first) as client:
        client.post("/vectors/upsert", json={"vectors": [{"id": "late", "values": vec(1)}]})
    first.stop()
    second = start_emulator(data_dir=tmp_path)
    assert list(second.records("idx")) == ["late"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_command_serves_until_sigterm_then_exits_0(tmp_path: Path) -> None:
    """`python -m retention.emulator` serves the SDK's paths and stops cleanly on SIGTERM."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retention.emulator",
            "--port",
            str(port),
            "--index",
            "idx:3",
            "--data",
            str(tmp_path),
            "--limits",
            "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/indexes/idx",
                    headers={"X-Pinecone-Api-Version": "2025-10"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, (
                    process.stderr.read() if process.stderr else ""
                )
                time.sleep(0.1)
        assert r.json()["dimension"] == 3
        assert r.json()["host"] == f"http://127.0.0.1:{port}/index/idx"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "emulator.sqlite3").is_file()


def test_start_on_a_port_in_use_is_one_clear_error() -> None:
    """In process, a taken port is a RetentionError naming host and port, and nothing leaks."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RetentionError) as info:
            Emulator.start(EmulatorConfig(port=port))
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port}: the port is in use (another emulator?); "
        "pick another port, or 0 for any free one"
    )


def test_start_with_data_on_a_file_is_one_clear_error(tmp_path: Path) -> None:
    """In process, a data directory that is a file is refused and the file is left alone."""
    file = tmp_path / "data"
    file.write_text("mine")
    with pytest.raises(RetentionError) as info:
        Emulator.start(EmulatorConfig(data_dir=file))
    assert str(info.value) == f"cannot keep records in {file}: it is not a directory"
    assert file.read_text() == "mine"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"port": 70000}, "port must be between 0 and 65535, got: 70000"),
        ({"port": -1}, "port must be between 0 and 65535, got: -1"),
        ({"latency_ms": float("nan")}, "latency_ms must be a non-negative number, got: nan"),
        ({"lag_ms": float("inf")}, "lag_ms must be a non-negative number, got: inf"),
    ],
)
def test_config_refuses_values_that_cannot_work(fields: dict[str, float], message: str) -> None:
    """EmulatorConfig checks what the command line checks, for in-process users."""
    with pytest.raises(ValueError) as info:
        EmulatorConfig(**fields)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_module_entry_point_reports_a_mistake_in_one_line() -> None:
    """`python -m retention.emulator --fault-rate 2` exits 1 with one line, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "retention.emulator", "--port", "0", "--fault-rate", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "retention: error: --fault-rate must be between 0 and 1, got: 2\n"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-5", "many"])
def test_a_limit_that_is_no_finite_positive_number_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """At nan or 0 every request of that kind would be refused forever, at infinity none
    would be limited: `--limit NAME=VALUE` takes a finite number > 0, in one line, exit 1."""
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--port", "0", "--limit", f"delete_records_per_s={value}"])
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "retention: error: retention emulator: argument --limit: expected NAME=VALUE with VALUE "
        f"a finite number > 0, got: delete_records_per_s={value} (see retention emulator --help)\n"
    )


def test_a_finite_positive_limit_is_taken() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--limit", "delete_records_per_s=2.5", "--limit", "list_requests_per_s=1e3"]
    )
    assert args.limit == [("delete_records_per_s", 2.5), ("list_requests_per_s", 1000.0)]
