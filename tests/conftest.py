"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from retention.emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A Pinecone-compatible emulator on a free loopback port, limits off, no indexes yet."""
    with Emulator.start(EmulatorConfig(limits="off")) as running:
        yield running


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every process it starts) keeps its state, the ledger included, in a
    directory of its own, never in the home directory."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("RETENTION_STATE_DIR", str(state))
    return state


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Commands configure structlog for the process; each test starts from the defaults."""
    yield
    structlog.reset_defaults()
