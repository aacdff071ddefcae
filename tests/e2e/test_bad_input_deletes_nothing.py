"""Every bad policy input, given to `retention apply --auto-approve` against a live index:
exactly its one line, exit 1, and not a record deleted.

The cases are the validation tests' own (tests/policy), each a document with one mistake; here
they go through the command that would delete, with records in the namespaces they target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import run_cli
from tests.policy import test_filter_values, test_ids_files, test_input_bounds

CASES = [
    pytest.param(text, lines[0], id=name)
    for module in (test_filter_values, test_ids_files, test_input_bounds)
    for name, text, lines in module.CASES
    if len(lines) == 1
]
NAMESPACES = ("ns-a", "ns-b")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """Index `idx` whose records every case's rules would select, were they valid."""
    with Emulator.start(EmulatorConfig(limits="off")) as running:
        running.create_index("idx", 4)
        for ns in NAMESPACES:
            records = [(f"{ns}-{i}", [0.1] * 4, {"a": 1, "legal_hold": "yes"}) for i in range(50)]
            running.upsert("idx", ns, records)
        yield running


def test_there_are_enough_cases() -> None:
    """The issue asks for at least thirty bad inputs checked end to end."""
    assert len(CASES) >= 30


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("text", "line"), CASES)
def test_bad_input_deletes_nothing(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: str,
) -> None:
    """The one line `validate` gives, exit 1, and the index exactly as it was."""
    point_cli_at(monkeypatch, emulator)
    tree = tmp_path / "policies"
    tree.mkdir()
    path = tree / "policy.yaml"
    path.write_text(text)
    before = {ns: set(emulator.records("idx", ns)) for ns in NAMESPACES}
    run = run_cli(capsys, "apply", str(tree), "--auto-approve")
    assert run.code == 1
    assert run.messages == [line.replace("{f}", str(path)).replace("{d}", str(tree))]
    assert {ns: set(emulator.records("idx", ns)) for ns in NAMESPACES} == before
