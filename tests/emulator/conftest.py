"""Fixtures that start emulators on free loopback ports and drive them like a user would."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, RetryConfig

from retention.emulator import Emulator, EmulatorConfig, ManualClock

SHARED_OPENAPI = Path(__file__).resolve().parents[3] / "shared" / "pinecone" / "openapi"

StartEmulator = Callable[..., Emulator]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start emulators with `EmulatorConfig` fields as keywords; all are stopped afterwards."""
    started: list[Emulator] = []

    def start(**fields: Any) -> Emulator:
        emulator = Emulator.start(replace(EmulatorConfig(limits="off"), **fields))
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(start_emulator: StartEmulator) -> Emulator:
    """Guards off, one index `idx` of dimension 4."""
    return start_emulator(indexes=(("idx", 4),))


def sdk(emulator: Emulator, *, retries: bool = False) -> Pinecone:
    """The official client pointed at the emulator; no retries unless asked (they hide 429s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # plain HTTP to loopback must not warn
        retry = RetryConfig() if retries else RetryConfig(max_retries=0)
        return Pinecone(api_key="k", host=emulator.controller_url, retry_config=retry)


def sdk_index(emulator: Emulator, name: str = "idx") -> Any:
    """`pc.index(host=...)` with data-plane retries off.

    SDK 10.2.0 exposes no retry setting for data-plane REST; its transport keeps the policy in
    `_config`, so the test swaps it to see each 429 and 5xx as the server sent it.
    """
    index = sdk(emulator).index(host=emulator.index_host(name))
    index._http._client._transport._config = RetryConfig(max_retries=0)
    return index


def http(emulator: Emulator, version: str = "2025-10", name: str | None = "idx") -> httpx.Client:
    """A plain httpx client for one plane (an index's data plane, or the controller)."""
    base = emulator.index_host(name) if name else emulator.controller_url
    headers = {"Api-Key": "k", "X-Pinecone-Api-Version": version}
    return httpx.Client(base_url=base, headers=headers, timeout=10)


def vec(i: int, dim: int = 4) -> list[float]:
    return [float(i % 7 + 1)] + [float((i >> k) & 1) for k in range(dim - 1)]
