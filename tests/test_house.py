"""House rules that keep the code readable, checked on every run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "retention"
MAX_FUNCTION_LINES = 60
CORE = ("filters.py", "quotas.py", "policy", "planning")


def test_no_function_is_longer_than_sixty_lines() -> None:
    """A function that does not fit a screen does more than one thing: split it."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {lines}")
    assert long == []


def test_the_core_silences_no_type_check() -> None:
    """The policy model, filter language and planner prove their types (TypeGuard, not
    `type: ignore`)."""
    silenced = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for part in CORE
        for path in sorted(
            (PACKAGE / part).rglob("*.py") if (PACKAGE / part).is_dir() else [PACKAGE / part]
        )
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line
    ]
    assert silenced == []
