"""Log events on stderr: short console lines on a terminal, JSON lines elsewhere, or as
`--log-format` says. Each case runs the real command with stderr on a pseudo-terminal or a pipe."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import policy, ttl_rule, write_policies
from tests.cli.conftest import Live

CONSOLE_LINE = re.compile(r"^\d\d:\d\d:\d\d \[\s*(info|warning|error)\s*\] [a-z_]+ ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def policies_for(folder: Path) -> Path:
    return write_policies(folder, [policy("p", "support", ["tenant-*"], [ttl_rule("old", "1d")])])


def run_on_terminal(args: list[str], env: dict[str, str], until: str, timeout: float = 30) -> str:
    """Run `retention ARGS` with stderr on a pseudo-terminal (stdout a pipe); what stderr showed,
    colours removed. A long-running command is stopped with SIGTERM once `until` appeared."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "retention", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the command exited and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if until in ANSI.sub("", seen.decode(errors="replace")):
                process.terminate()
                until = "\0never"
            if process.poll() is not None and not ready:
                break
        assert process.wait(timeout=30) == 0, seen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return ANSI.sub("", seen.decode(errors="replace")).replace("\r\n", "\n")


def run_piped(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "retention", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def run_args(folder: Path, *extra: str) -> list[str]:
    return ["run", str(folder), "--http-host", "127.0.0.1", "--http-port", "0", *extra]


def test_run_on_a_terminal_logs_short_console_lines(small: Live, tmp_path: Path) -> None:
    """On a terminal, `retention run` writes one readable line an event, no JSON."""
    text = run_on_terminal(run_args(policies_for(tmp_path)), small.env, until="service_started")
    lines = [line for line in text.splitlines() if line.strip()]
    assert any("service_started" in line for line in lines), text
    for line in lines:
        assert CONSOLE_LINE.match(line), line
        assert not line.lstrip().startswith("{"), line


def test_log_format_json_on_a_terminal_is_json(small: Live, tmp_path: Path) -> None:
    """`--log-format json` keeps JSON lines even on a terminal (a terminal-attached collector)."""
    args = run_args(policies_for(tmp_path), "--log-format", "json")
    text = run_on_terminal(args, small.env, until="service_started")
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert "service_started" in {e["event"] for e in events}
    assert all(e["timestamp"].endswith("Z") for e in events)


def test_piped_stderr_is_json_and_console_on_request(small: Live, tmp_path: Path) -> None:
    """Off a terminal the default is JSON lines; `--log-format console` gives console lines."""
    folder = policies_for(tmp_path)
    piped = run_piped(["apply", str(folder), "--auto-approve"], small.env)
    events = [json.loads(line) for line in piped.splitlines() if line.startswith("{")]
    assert "apply_finished" in {e["event"] for e in events}
    write_policies(folder, [policy("p", "support", ["tenant-*"], [ttl_rule("old", "1h")])])
    console = run_piped(
        ["apply", str(folder), "--auto-approve", "--log-format", "console"], small.env
    )
    lines = [line for line in console.splitlines() if CONSOLE_LINE.match(line)]
    assert any(" apply_finished " in line for line in lines), console
    assert not any(line.startswith("{") for line in console.splitlines()), console


def test_apply_on_a_terminal_shows_only_its_human_lines(small: Live, tmp_path: Path) -> None:
    """`apply` on a terminal: its progress bar (the summary goes to stdout), no event lines."""
    text = run_on_terminal(
        ["apply", str(policies_for(tmp_path)), "--auto-approve"], small.env, until="\0never"
    )
    assert "2,250/2,250 records" in text, text
    assert "{" not in text and "apply_finished" not in text, text


def test_an_unknown_log_format_is_one_line(tmp_path: Path) -> None:
    """A format that does not exist is refused before anything connects."""
    done = subprocess.run(
        [sys.executable, "-m", "retention", "plan", str(tmp_path), "--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "--log-format" in done.stderr and "invalid choice" in done.stderr
