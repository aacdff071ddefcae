"""`retention emulator` exposes every undocumented corner of the filter language as a flag."""

from __future__ import annotations

import argparse

import pytest

from retention.emulator.command import add_arguments, config_from
from retention.filters import DEFAULT_SEMANTICS, SEMANTICS_VARIANTS, Semantics


def _config(*argv: str) -> tuple[Semantics, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from(parser.parse_args(list(argv)))
    return config.semantics, config.missing_namespace


def test_the_defaults_are_the_likely_reading() -> None:
    """No flags: Pinecone's most likely behaviour, the same as the library default."""
    assert _config() == (DEFAULT_SEMANTICS, "empty")


@pytest.mark.parametrize("variant", SEMANTICS_VARIANTS, ids=repr)
def test_every_reading_can_be_chosen(variant: Semantics) -> None:
    """Each combination the safety tests cover can be served from the command line."""
    argv = [
        "--ne-on-missing",
        "match" if variant.ne_matches_missing else "no-match",
        "--nin-on-missing",
        "match" if variant.nin_matches_missing else "no-match",
        "--list-negation",
        variant.list_negation,
        "--missing-namespace",
        "not_found",
    ]
    assert _config(*argv) == (variant, "not_found")
