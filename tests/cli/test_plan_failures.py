"""`retention plan` in bad situations: exit 1, one clear line on stderr, no plan on stdout."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.emulator.faults import Faults
from tests.builders import policy, seed, ttl_rule, yaml_text
from tests.cli.conftest import FAST_RETRY, Live, point_cli_at
from tests.cli.helpers import AT, AT_EPOCH, Metadata, Run, run_cli, seed_tenants

pytestmark = pytest.mark.usefixtures("fast_retries")

TICKETS = yaml_text(policy("tickets", "support", ["*"], [ttl_rule("expire", "90d")]))


def assert_one_error(run: Run, line: str) -> None:
    """Exit 1, no output, no traceback, and `line` as the only message on stderr."""
    assert run.code == 1, run
    assert run.out == ""
    assert "Traceback" not in run.err
    assert run.messages == [line]


def seed_passing_first(n: int, rate: float, status: int) -> int:
    """A fault seed under which the first `n` requests pass and every retry after them fails."""
    for candidate in range(10_000):
        faults = Faults(rate, (status,), candidate)
        draws = [faults.draw() for _ in range(n + FAST_RETRY.attempts)]
        if all(d is None for d in draws[:n]) and all(d is not None for d in draws[n:]):
            return candidate
    raise AssertionError("no seed found")  # pragma: no cover


@pytest.fixture
def tickets(policies: Path) -> Path:
    """A policy folder with one TTL policy on index `support`."""
    (policies / "tickets.yaml").write_text(TICKETS)
    return policies


def test_index_missing(
    small: Live, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy naming an index the project does not have fails before anything is planned."""
    (policies / "archive.yaml").write_text(
        yaml_text(policy("archive", "archive-prod", ["*"], [ttl_rule("x", "1d")]))
    )
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(policies), "--at", AT, "--out", str(out))
    assert_one_error(
        run, "retention: error: describe_index: HTTP 404 NOT_FOUND: Index archive-prod not found."
    )
    assert not out.exists()


@pytest.fixture
def listing_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator whose seeded faults let describe_index through and fail every request after."""
    config = EmulatorConfig(
        limits="off",
        fault_rate=0.9,
        fault_statuses=(500,),
        seed=seed_passing_first(1, 0.9, 500),
    )
    with Emulator.start(config) as emulator:
        seed_tenants(emulator, "support", {"tenant-a": 10})
        point_cli_at(monkeypatch, emulator)
        yield emulator


def test_namespace_listing_fails(
    listing_fails: Emulator, tickets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A namespace listing that keeps failing stops the plan after the retries, naming it."""
    out = tmp_path / "plan.json"
    run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--out", str(out))
    assert_one_error(
        run,
        "retention: error: list_namespaces: HTTP 500 13: Internal error (injected by the "
        "emulator). (gave up after 3 attempts)",
    )
    assert run.events == ["pinecone_retry"] * (FAST_RETRY.attempts - 1)
    assert not out.exists()


def test_rate_limited_until_retries_are_exhausted(
    tickets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every request answered 429 ends in one line quoting Pinecone's 429, after the retries."""
    config = EmulatorConfig(limits="off", fault_rate=1.0, fault_statuses=(429,))
    with Emulator.start(config) as emulator:
        point_cli_at(monkeypatch, emulator)
        run = run_cli(capsys, "plan", str(tickets), "--at", AT, "--format", "json")
    assert_one_error(
        run,
        "retention: error: describe_index: HTTP 429 RESOURCE_EXHAUSTED: Request failed. "
        "Too many requests; the emulator injected this fault. (gave up after 3 attempts)",
    )
    assert run.events == ["pinecone_retry"] * (FAST_RETRY.attempts - 1)


def _mixed_ttl(small: Live, policies: Path, *, fail: bool) -> None:
    records: dict[str, Metadata] = {
        f"m-{i}": {"created_at": AT_EPOCH - i * 86_400} for i in range(7)
    }
    records |= {f"s-{i}": {"created_at": f"2026-01-0{i + 1}"} for i in range(3)}
    seed(small.emulator, "support", {"mixed": records})
    doc = yaml_text(policy("tickets", "support", ["mixed"], [ttl_rule("expire", "90d")]))
    if fail:
        doc = doc.replace("  rules:\n", "  onInvalidTimestamps: fail\n  rules:\n")
    (policies / "tickets.yaml").write_text(doc)


def test_ttl_field_holds_strings(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TTL field holding strings in some records: the plan goes on and says how many
    records never expire under the rule."""
    _mixed_ttl(small, policies, fail=False)
    run = run_cli(capsys, "plan", str(policies), "--at", AT)
    assert run.code == 0, run.err
    assert (
        "! policy 'tickets' rule 'expire': 3 records of namespace 'mixed' (index 'support') "
        "hold a non-numeric created_at and never expire under this rule"
    ) in run.out.splitlines()


def test_ttl_field_holds_strings_with_fail(
    small: Live, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`onInvalidTimestamps: fail` refuses the plan instead, in one line."""
    _mixed_ttl(small, policies, fail=True)
    run = run_cli(capsys, "plan", str(policies), "--at", AT)
    assert_one_error(
        run,
        "retention: error: policy 'tickets' rule 'expire': 3 records of namespace 'mixed' "
        "(index 'support') hold a value in 'created_at' that is not an epoch number in s "
        "(onInvalidTimestamps: fail)",
    )


def test_api_key_unset(
    small: Live, tickets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without PINECONE_API_KEY the plan says which variable to set."""
    monkeypatch.delenv("PINECONE_API_KEY")
    run = run_cli(capsys, "plan", str(tickets), "--at", AT)
    assert_one_error(
        run,
        "retention: error: PINECONE_API_KEY is not set (nor PINECONE_API_KEY_FILE); export the API "
        "key of the Pinecone "
        "project (any value for the emulator)",
    )


@pytest.mark.parametrize(
    ("at", "line"),
    [
        (
            "yesterday",
            "retention: error: invalid time 'yesterday'; use ISO 8601 such as 2027-01-01T00:00:00Z",
        ),
        (
            "2027-01-01T00:00:00",
            "retention: error: time '2027-01-01T00:00:00' has no timezone; add Z for UTC",
        ),
        (
            "2027-13-01T00:00:00Z",
            "retention: error: invalid time '2027-13-01T00:00:00Z'; use ISO 8601 such as "
            "2027-01-01T00:00:00Z",
        ),
    ],
)
def test_bad_at(
    small: Live, tickets: Path, at: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `--at` that is not an ISO 8601 moment with a timezone is refused with an example."""
    assert_one_error(run_cli(capsys, "plan", str(tickets), "--at", at), line)


def test_controller_unreachable(
    tickets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused connection names the host it could not reach, after the retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PINECONE_API_KEY", "test-key-0123456789")
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", f"http://127.0.0.1:{port}")
    run = run_cli(capsys, "plan", str(tickets), "--at", AT)
    assert_one_error(
        run,
        "retention: error: describe_index: ConnectError: All connection attempts failed "
        f"(http://127.0.0.1:{port}) (gave up after 3 attempts)",
    )
    assert run.events == ["pinecone_retry"] * (FAST_RETRY.attempts - 1)
