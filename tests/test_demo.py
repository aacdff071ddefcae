"""`retention demo` runs the whole tour on the embedded emulator and ends verified."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from retention.commands.demo import run_demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_runs_to_a_verified_end() -> None:
    """The demo validates, plans, applies and re-plans to nothing, printing each step."""
    out = io.StringIO()
    assert run_demo([str(ROOT / "policies")], out=out) == 0
    text = out.getvalue()
    for step in (
        "1. validate",
        "2. seed",
        "3. plan",
        "4. apply",
        "5. re-plan   nothing left to delete: verified",
    ):
        assert step in text
    assert "Plan: " in text and "records to delete in 9 namespaces of 3 indexes" in text
    assert "every protected and held record kept" in text
