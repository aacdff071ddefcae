"""The client's `Semantics` and the emulator's `Readings` name the same undocumented corners.

They are kept apart on purpose (the emulator shares nothing with the client's filter language);
tests that set the emulator to a reading the client reasons about translate here.
"""

from __future__ import annotations

from retention.emulator.filtering import Readings
from retention.filters import Semantics


def readings_of(semantics: Semantics) -> Readings:
    """The emulator's setting that answers as `semantics` says Pinecone might."""
    return Readings(
        ne_on_missing=semantics.ne_matches_missing,
        nin_on_missing=semantics.nin_matches_missing,
        negation_on_lists=semantics.list_negation,
    )
