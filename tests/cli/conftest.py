"""Fixtures for driving `retention plan` against an emulator seeded with a small dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

import retention.pinecone
from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import PineconeClient, RetryPolicy
from tests.cli.helpers import API_KEY, seed_tenants

FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.01)
"""Three tries ~10 ms apart: the same retry path as production, exhausted in milliseconds."""

SMALL = {"tenant-a": 2_400, "tenant-b": 600}
"""The `support` index of the small dataset: namespace -> records."""


@dataclass(frozen=True)
class Live:
    """A running emulator with the CLI's environment pointed at it."""

    emulator: Emulator
    env: dict[str, str]


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Undo the CLI's structlog configuration, which holds the captured stream of this test."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI's client give up after FAST_RETRY instead of ~15 s of backoff."""
    real = retention.pinecone.connect

    def connect(*args: Any, **kwargs: Any) -> PineconeClient:
        kwargs["retry"] = FAST_RETRY  # whatever --retry-for says
        return real(*args, **kwargs)

    monkeypatch.setattr(retention.pinecone, "connect", connect)


def point_cli_at(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> dict[str, str]:
    """Set PINECONE_API_KEY and PINECONE_CONTROLLER_HOST for `emulator`; return them."""
    env = {"PINECONE_API_KEY": API_KEY, "PINECONE_CONTROLLER_HOST": emulator.controller_url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return env


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """Index `support` with SMALL's namespaces, limits off, the CLI pointed at it."""
    with Emulator.start(EmulatorConfig(limits="off")) as emulator:
        seed_tenants(emulator, "support", SMALL)
        yield Live(emulator, point_cli_at(monkeypatch, emulator))


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """An empty policy folder."""
    folder = tmp_path / "policies"
    folder.mkdir()
    return folder
