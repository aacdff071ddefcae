"""Small datasets, policy files, git repositories and CLI runs shared by the CLI tests."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retention.cli import main
from retention.emulator import Emulator
from tests import builders
from tests.logged import Event, captured_events

AT = "2027-01-01T00:00:00Z"
"""Every test plans as of this moment, so counts never depend on the wall clock."""
AT_EPOCH = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
DAY = 86_400
API_KEY = "test-key-0123456789"
"""Long enough that scrubbing it from error texts cannot garble ordinary words."""

Metadata = dict[str, Any]


def metadata(i: int) -> Metadata:
    """Record `i`: created 0.5 to 119.5 days before AT (cycling), every tenth one a draft."""
    return {
        "created_at": int(AT_EPOCH - (i % 120 + 0.5) * DAY),
        "kind": "draft" if i % 10 == 0 else "final",
    }


def tenants(namespaces: Mapping[str, int]) -> dict[str, dict[str, Metadata]]:
    """Each namespace with that many records `NS-00000`... of `metadata(i)`."""
    return {ns: {f"{ns}-{i:05d}": metadata(i) for i in range(n)} for ns, n in namespaces.items()}


def seed_tenants(emulator: Emulator, index: str, namespaces: Mapping[str, int]) -> None:
    """Create `index` and fill it with `tenants(namespaces)`."""
    emulator.create_index(index, 4)
    builders.seed(emulator, index, tenants(namespaces))


def older_than(n: int, days: int) -> int:
    """How many of `n` seeded records are older than `days` at AT, counted in plain Python."""
    return sum(1 for i in range(n) if metadata(i)["created_at"] < AT_EPOCH - days * DAY)


def expired_or_draft(n: int, days: int) -> int:
    """How many of `n` seeded records are older than `days` or drafts (each counted once)."""
    return sum(
        1
        for i in range(n)
        if metadata(i)["created_at"] < AT_EPOCH - days * DAY or metadata(i)["kind"] == "draft"
    )


def drafts(n: int) -> int:
    """How many of `n` seeded records are drafts."""
    return sum(1 for i in range(n) if metadata(i)["kind"] == "draft")


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a throwaway identity; return its stdout."""
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str) -> str:
    """Commit everything in `repo`; return the new HEAD."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def init_repo(repo: Path) -> None:
    """An empty repository at `repo`."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")


@dataclass(frozen=True)
class Run:
    """What one `main([...])` call returned, printed and logged."""

    code: int
    out: str
    err: str
    logged: Sequence[Event] = ()
    """The structured log events, as dicts (captured, not parsed from stderr)."""

    @property
    def messages(self) -> list[str]:
        """The lines printed on stderr (log events are captured apart)."""
        return self.err.splitlines()

    @property
    def events(self) -> list[str]:
        """The names of the structured log events, in order."""
        return [e["event"] for e in self.logged]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run `retention ARGV` in process and capture what it printed and logged."""
    capsys.readouterr()
    with captured_events() as logged:
        code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err, tuple(logged))
