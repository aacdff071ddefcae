"""Commands that never talk to Pinecone or serve HTTP do not load the stack that does: a
pre-commit hook runs `retention validate` on every commit, and the emulator (starlette,
uvicorn) or the HTTP client would be most of its start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("retention.emulator", "starlette", "uvicorn", "httpx", "apscheduler", "prometheus_client")

PROBE = """
import contextlib, io, json, sys
from retention.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(*argv: str) -> tuple[object, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    got = json.loads(done.stdout.splitlines()[-1])
    return got["code"], got["modules"]


@pytest.mark.parametrize("argv", [("validate", "--help"), ("validate", "policies")])
def test_validate_loads_neither_the_emulator_nor_the_http_stack(argv: tuple[str, ...]) -> None:
    code, modules = loaded(*argv)
    assert code == 0
    heavy = [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_the_emulator_command_does_load_it() -> None:
    """The probe itself can see an import: `emulator --help` has to load the emulator."""
    code, modules = loaded("emulator", "--help")
    assert code == 0
    assert "retention.emulator" in modules
