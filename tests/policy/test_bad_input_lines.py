"""Every bad-input case of the policy tests, through `retention validate`: exactly its lines.

The cases live with their topic (filter values, ID files, input bounds); this runs them all the
same way, and tests/e2e runs the one-line ones through `apply` against a live index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy import test_filter_values, test_ids_files, test_input_bounds
from tests.policy.bad_input import assert_reported

CASES = [
    pytest.param(text, lines, id=name)
    for module in (test_filter_values, test_ids_files, test_input_bounds)
    for name, text, lines in module.CASES
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bad_input_is_one_line_at_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]
) -> None:
    """Each bad input exits 1 with exactly the expected lines, at the right FILE:LINE:COL."""
    assert_reported(tmp_path, capsys, text, expected)
