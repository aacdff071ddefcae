"""--retry-for: how long a failing request is retried, and the line that says when it stopped."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.builders import policy, ttl_rule, yaml_text
from tests.cli.helpers import API_KEY, run_cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_an_outage_longer_than_the_retries_ends_in_one_line_that_says_so(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pinecone unreachable for longer than --retry-for 1: exit 1, and the error says how long
    retries went on and which option covers more."""
    (tmp_path / "p.yaml").write_text(
        yaml_text(policy("p", "support", ["*"], [ttl_rule("old", "30d")]))
    )
    monkeypatch.setenv("PINECONE_API_KEY", API_KEY)
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", f"http://127.0.0.1:{_closed_port()}")
    extra = ["--auto-approve"] if command == "apply" else []
    run = run_cli(capsys, command, str(tmp_path), "--retry-for", "1", *extra)
    assert run.code == 1
    (line,) = run.messages
    assert line.startswith("retention: error: describe_index: ConnectError")
    assert "(gave up after 1." in line and "retries cover 1 s, set --retry-for to change)" in line


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_a_retry_window_that_is_not_a_positive_number_is_refused(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "plan", str(tmp_path), "--retry-for", value)
    assert run.code == 1
    assert run.messages == [
        f"retention: error: --retry-for must be a positive number of seconds, got: {float(value):g}"
    ]
