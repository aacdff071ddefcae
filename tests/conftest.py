"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from retention.emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A Pinecone-compatible emulator on a free loopback port, limits off, no indexes yet."""
    with Emulator.start(EmulatorConfig(limits="off")) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Commands configure structlog for the process; each test starts from the defaults."""
    yield
    structlog.reset_defaults()
