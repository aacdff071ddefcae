"""Emulators shared by the apply tests: in-process, limits off unless a test asks otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.emulator.filtering import Readings

OTHER_READINGS = Readings(ne_on_missing=True, nin_on_missing=False, negation_on_lists="any_differs")


@pytest.fixture(scope="module")
def emulators() -> Iterator[tuple[Emulator, Emulator]]:
    """Two emulators: Pinecone's likely filter semantics, and the other plausible readings."""
    with (
        Emulator.start(EmulatorConfig(limits="off")) as usual,
        Emulator.start(EmulatorConfig(limits="off", readings=OTHER_READINGS)) as other,
    ):
        yield usual, other
