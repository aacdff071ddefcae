"""`retention emulator` exposes every undocumented corner of the filter language as a flag."""

from __future__ import annotations

import argparse

import pytest

from retention.emulator.command import add_arguments, config_from
from retention.emulator.filtering import DEFAULT_READINGS, EVERY_READING, Readings


def _config(*argv: str) -> tuple[Readings, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from(parser.parse_args(list(argv)))
    return config.readings, config.missing_namespace


def test_the_defaults_are_the_likely_reading() -> None:
    """No flags: Pinecone's most likely behaviour, the emulator's default reading."""
    assert _config() == (DEFAULT_READINGS, "empty")


@pytest.mark.parametrize("variant", EVERY_READING, ids=repr)
def test_every_reading_can_be_chosen(variant: Readings) -> None:
    """Each combination the safety tests cover can be served from the command line."""
    argv = [
        "--ne-on-missing",
        "match" if variant.ne_on_missing else "no-match",
        "--nin-on-missing",
        "match" if variant.nin_on_missing else "no-match",
        "--list-negation",
        variant.negation_on_lists,
        "--missing-namespace",
        "not_found",
    ]
    assert _config(*argv) == (variant, "not_found")
