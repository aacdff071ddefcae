"""Ordinary mistakes on the command line: one `retention: error:` line, exit 1, no traceback.

Each case states the exact line. Where a command would reach Pinecone, the line comes before
anything is planned or deleted, and `run` logs, loads and schedules nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.cli import main
from tests.builders import policy, ttl_rule, yaml_text
from tests.cli.conftest import Live
from tests.cli.helpers import API_KEY, AT, Run, run_cli

pytestmark = pytest.mark.usefixtures("fast_retries")

TICKETS = yaml_text(policy("tickets", "support", ["*"], [ttl_rule("expire", "90d")]))


def assert_one_error(run: Run, line: str) -> None:
    """Exit 1, no traceback, and `line` as the only message on stderr (log events aside)."""
    assert run.code == 1, run
    assert "Traceback" not in run.err
    assert run.messages == [line]


@pytest.fixture
def tickets(policies: Path) -> Path:
    """A policy folder with one TTL policy on index `support`."""
    (policies / "tickets.yaml").write_text(TICKETS)
    return policies


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# -- plan --out and apply --report: where the file cannot go


def test_plan_out_into_a_missing_directory(
    small: Live, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan file in a directory that does not exist is one line naming the directory."""
    out = tmp_path / "missing" / "plan.json"
    run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--out", str(out))
    assert_one_error(
        run,
        f"retention: error: cannot write {out}: the directory {out.parent} does not exist",
    )
    assert not out.parent.exists()


def test_plan_out_onto_a_directory(
    small: Live, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out naming a directory is refused and leaves no temporary file beside it."""
    run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--out", str(tmp_path))
    assert_one_error(
        run, f"retention: error: cannot write {tmp_path}: it is a directory; name a file in it"
    )
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.tmp"))


def test_plan_out_below_a_file(
    small: Live, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out below a regular file says that the file is no directory."""
    (tmp_path / "notes.txt").write_text("x")
    out = tmp_path / "notes.txt" / "plan.json"
    run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--out", str(out))
    assert_one_error(
        run, f"retention: error: cannot write {out}: {tmp_path / 'notes.txt'} is not a directory"
    )


@pytest.mark.skipif(
    not os.path.isdir("/sys"),
    reason="needs a directory nobody may create files in",
)
def test_plan_out_where_nobody_may_write(
    small: Live, tickets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out into a place that refuses new files (sysfs, even for root) is one line."""
    run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--out", "/sys/plan.json")
    assert run.code == 1
    assert run.messages in (
        ["retention: error: cannot write /sys/plan.json: permission denied"],
        ["retention: error: cannot write /sys/plan.json: operation not permitted"],
    )


def test_apply_report_into_a_missing_directory(
    small: Live, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply --report is checked before anything is deleted, with the plan file's refusal."""
    plan = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", str(tickets), "--out", str(plan)).code == 0
    report = tmp_path / "missing" / "report.json"
    before = {ns: len(small.emulator.records("support", ns)) for ns in ("tenant-a", "tenant-b")}
    run = run_cli(capsys, "apply", str(plan), str(tickets), "--report", str(report))
    assert_one_error(
        run,
        f"retention: error: cannot write {report}: the directory {report.parent} does not exist",
    )
    after = {ns: len(small.emulator.records("support", ns)) for ns in ("tenant-a", "tenant-b")}
    assert after == before
    assert not (tmp_path / "plan.json.journal").exists()


# -- the API key and the controller host


BAD_KEYS = [
    (f"{API_KEY[:8]}\r\n{API_KEY[8:]}", "contains a line break"),
    (f"{API_KEY[:8]}\x1b{API_KEY[8:]}", "contains a control character"),
    (f"{API_KEY[:8]}ü{API_KEY[8:]}", "contains a non-ASCII character"),
    (f"{API_KEY}\n", "starts or ends with whitespace (a trailing newline from a file?)"),
    (f" {API_KEY}", "starts or ends with whitespace (a trailing newline from a file?)"),
]


def key_line(problem: str) -> str:
    return (
        f"retention: error: PINECONE_API_KEY {problem}; an API key is one line of printable "
        "ASCII: set it to the key alone"
    )


def assert_no_piece_of(key: str, run: Run) -> None:
    """No eight characters in a row of `key` appear in what the command printed."""
    text = run.out + run.err
    pieces = {key[i : i + 8] for i in range(len(key) - 7)}
    assert not [p for p in pieces if p.strip() and p in text]


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS)
def test_plan_refuses_a_key_that_is_no_header_value(
    small: Live,
    tickets: Path,
    key: str,
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """plan refuses the key at start with a line that quotes no piece of it."""
    monkeypatch.setenv("PINECONE_API_KEY", key)
    run = run_cli(capsys, "plan", str(tickets), "--at", AT)
    assert_one_error(run, key_line(problem))
    assert run.out == ""
    assert_no_piece_of(key, run)


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS[:3])
def test_apply_refuses_a_key_that_is_no_header_value(
    small: Live,
    tickets: Path,
    tmp_path: Path,
    key: str,
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """apply PLANFILE refuses the key before anything is deleted."""
    plan = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", str(tickets), "--out", str(plan)).code == 0
    before = len(small.emulator.records("support", "tenant-a"))
    monkeypatch.setenv("PINECONE_API_KEY", key)
    run = run_cli(capsys, "apply", str(plan), str(tickets))
    assert_one_error(run, key_line(problem))
    assert_no_piece_of(key, run)
    assert len(small.emulator.records("support", "tenant-a")) == before
    assert not (tmp_path / "plan.json.journal").exists()


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS[:3])
def test_run_refuses_a_key_that_is_no_header_value(
    small: Live,
    tickets: Path,
    key: str,
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """run refuses the key at start, before the health server or any schedule exists."""
    monkeypatch.setenv("PINECONE_API_KEY", key)
    run = run_cli(capsys, "run", str(tickets), "--http-port", "0", "--http-host", "127.0.0.1")
    assert_one_error(run, key_line(problem))
    assert run.events == []
    assert_no_piece_of(key, run)


def test_run_without_a_key(
    tickets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run names the missing variable, as plan and apply do."""
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    run = run_cli(capsys, "run", str(tickets), "--http-port", "0", "--http-host", "127.0.0.1")
    assert_one_error(
        run,
        "retention: error: PINECONE_API_KEY is not set (nor PINECONE_API_KEY_FILE); export the API "
        "key of the Pinecone "
        "project (any value for the emulator)",
    )


@pytest.mark.parametrize("command", ["plan", "apply", "run"])
def test_a_controller_host_without_a_scheme_is_refused_at_once(
    small: Live,
    tickets: Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`127.0.0.1:PORT` says to add a scheme, instead of failing on TLS after retries."""
    bare = small.emulator.controller_url.removeprefix("http://")
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", bare)
    args = {
        "plan": ["plan", str(tickets), "--at", AT],
        "apply": ["apply", str(tickets), "--auto-approve"],
        "run": ["run", str(tickets), "--http-port", "0", "--http-host", "127.0.0.1"],
    }[command]
    run = run_cli(capsys, *args)
    assert_one_error(
        run,
        f"retention: error: PINECONE_CONTROLLER_HOST '{bare}' has no scheme; "
        "add http:// or https://",
    )
    assert run.events == []


# -- retention emulator


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--port", "-1"], "--port must be between 0 and 65535, got: -1"),
        (["--port", "65536"], "--port must be between 0 and 65535, got: 65536"),
        (["--fault-rate", "2"], "--fault-rate must be between 0 and 1, got: 2"),
        (["--fault-rate", "-0.5"], "--fault-rate must be between 0 and 1, got: -0.5"),
        (["--fault-rate", "nan"], "--fault-rate must be between 0 and 1, got: nan"),
        (
            ["--fault-status", "200"],
            "--fault-status takes 4xx and 5xx statuses, got: 200",
        ),
        (
            ["--fault-rate", "0.5", "--fault-status", ","],
            "--fault-status names no status; give some, e.g. 429,500,503",
        ),
        (
            ["--latency-ms", "-5"],
            "--latency-ms must be a non-negative number of milliseconds, got: -5",
        ),
        (
            ["--lag-ms", "nan"],
            "--lag-ms must be a non-negative number of milliseconds, got: nan",
        ),
        (["--lag-ms", "inf"], "--lag-ms must be a non-negative number of milliseconds, got: inf"),
        (["--host", ""], "--host is empty; 127.0.0.1 serves this machine only"),
        (
            ["--host", "192.0.2.1"],
            "cannot listen on 192.0.2.1:0: no interface of this machine has that address",
        ),
        (["--api-key", ""], "--api-key is empty; leave it out to accept any key"),
        (
            ["--api-key", "s3cr3t-\n-value"],
            "--api-key must be printable ASCII, which is all a client can send",
        ),
        (
            ["--api-key", "s3cr3t-value "],
            "--api-key starts or ends with whitespace, which no client can send",
        ),
        (["--index", "idx", "--index", "idx:4"], "--index idx is given twice"),
    ],
)
def test_emulator_arguments_that_cannot_work(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is refused before anything is served, naming the option (never the key's value)."""
    run = run_cli(capsys, "emulator", "--port", "0", *args)
    assert_one_error(run, f"retention: error: {line}")
    assert run.out == ""
    assert "s3cr3t" not in run.err


def test_emulator_port_in_use(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """A port another program listens on is one line that says what to do."""
    run = run_cli(capsys, "emulator", "--port", str(taken_port))
    assert_one_error(
        run,
        f"retention: error: cannot listen on 127.0.0.1:{taken_port}: the port is in use "
        "(another emulator?); pick another port, or 0 for any free one",
    )


def test_emulator_data_on_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data naming a file is refused, and the file is left as it was."""
    file = tmp_path / "records.db"
    file.write_text("mine")
    run = run_cli(capsys, "emulator", "--port", "0", "--data", str(file))
    assert_one_error(
        run, f"retention: error: --data {file} is not a directory; name one (created if missing)"
    )
    assert file.read_text() == "mine"


def test_emulator_data_below_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data that cannot be created says where and why."""
    file = tmp_path / "records.db"
    file.write_text("mine")
    run = run_cli(capsys, "emulator", "--port", "0", "--data", str(file / "sub"))
    assert_one_error(
        run, f"retention: error: cannot keep records in {file / 'sub'}: not a directory"
    )


def test_emulator_data_holding_something_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory whose emulator.sqlite3 is no database is refused, and the file kept."""
    (tmp_path / "emulator.sqlite3").write_text("not sqlite at all, but long enough to read")
    run = run_cli(capsys, "emulator", "--port", "0", "--data", str(tmp_path))
    assert_one_error(
        run,
        f"retention: error: cannot keep records in {tmp_path}: {tmp_path / 'emulator.sqlite3'} "
        "is not an emulator database (file is not a database); move it away",
    )
    assert (tmp_path / "emulator.sqlite3").read_text().startswith("not sqlite")


# -- retention run


RUN = ["--http-host", "127.0.0.1"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--http-port", "99999"], "--http-port must be between 0 and 65535, got: 99999"),
        (["--http-port", "-1"], "--http-port must be between 0 and 65535, got: -1"),
        (["--http-host", ""], "--http-host is empty; 0.0.0.0 listens on every interface"),
        (
            ["--http-port", "0", "--http-host", "192.0.2.1"],
            "cannot serve health and metrics on 192.0.2.1:0: "
            "no interface of this machine has that address",
        ),
        (
            ["--reload-interval", "0"],
            "--reload-interval must be a positive number of seconds, got: 0",
        ),
        (
            ["--reload-interval", "-2"],
            "--reload-interval must be a positive number of seconds, got: -2",
        ),
        (
            ["--reload-interval", "nan"],
            "--reload-interval must be a positive number of seconds, got: nan",
        ),
        (["--grace", "-1"], "--grace must be a non-negative number of seconds, got: -1"),
        (["--grace", "inf"], "--grace must be a non-negative number of seconds, got: inf"),
    ],
)
def test_run_arguments_that_cannot_work(
    small: Live,
    tickets: Path,
    args: list[str],
    line: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each is an error at start: nothing is loaded, scheduled or served."""
    run = run_cli(capsys, "run", str(tickets), *RUN, *args)
    assert_one_error(run, f"retention: error: {line}")
    assert run.events == []


def test_run_http_port_in_use(
    small: Live, tickets: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """A health port in use stops run at start, before any policy is scheduled."""
    run = run_cli(capsys, "run", str(tickets), *RUN, "--http-port", str(taken_port))
    assert_one_error(
        run,
        f"retention: error: cannot serve health and metrics on 127.0.0.1:{taken_port}: "
        "the port is in use",
    )
    assert run.events == []


def test_run_state_dir_on_a_regular_file(
    small: Live, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--state-dir naming a file is refused at start and the file is left alone."""
    file = tmp_path / "state"
    file.write_text("mine")
    run = run_cli(capsys, "run", str(tickets), *RUN, "--state-dir", str(file))
    assert_one_error(run, f"retention: error: --state-dir {file} is not a directory")
    assert file.read_text() == "mine"


def test_run_help_documents_the_http_host_default(capsys: pytest.CaptureFixture[str]) -> None:
    """--help says that 0.0.0.0 is the default and why a pod needs it."""
    with pytest.raises(SystemExit):
        run_cli(capsys, "run", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--http-host HOST interface for health and metrics (default 0.0.0.0: every " in text
    assert "as a pod needs for its probes and Prometheus" in text


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["plan", "--format", "xml"],
            "retention: error: retention plan: argument --format: invalid choice: 'xml' "
            "(choose from 'text', 'markdown', 'json') (see retention plan --help)",
        ),
        (
            ["emulator", "--port", "abc"],
            "retention: error: retention emulator: argument --port: invalid int value: 'abc' "
            "(see retention emulator --help)",
        ),
        (
            ["apply", "--tolerance", "lots"],
            "retention: error: retention apply: argument --tolerance: invalid float value: "
            "'lots' (see retention apply --help)",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    """A usage error is not exit 2, which `plan --detailed-exitcode` uses for "deletions"."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == [line]
