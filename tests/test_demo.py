"""`retention demo` runs the whole tour on the embedded emulator and ends verified."""

from __future__ import annotations

import fnmatch
import io
import tomllib
from pathlib import Path

import pytest

from retention.commands.demo import example_policies, run_demo
from retention.errors import PolicyErrors

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_runs_to_a_verified_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a directory with no policies, the demo runs on the packaged examples: it validates,
    plans, applies and re-plans to nothing, printing each step."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run_demo([], out=out) == 0
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


def test_the_package_ships_every_example_policy_file() -> None:
    """The demo's policies are the repository's `policies/`, and the wheel's package data
    globs take every one of their files (the kustomization stays behind)."""
    shipped = example_policies()
    assert shipped.resolve() == (ROOT / "policies").resolve()
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = document["tool"]["setuptools"]["package-data"]["retention"]
    files = {
        p.relative_to(shipped).as_posix()
        for p in shipped.rglob("*")
        if p.is_file() and p.name != "Kustomization"
    }
    assert files
    for name in files:
        assert any(fnmatch.fnmatchcase(f"examples/{name}", g) for g in globs), name


def test_a_demo_path_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    """An explicit path is used as given: a missing one is the loader's one-line error."""
    out = io.StringIO()
    with pytest.raises(PolicyErrors) as caught:
        run_demo([str(tmp_path / "nowhere")], out=out)
    assert "no such file or directory" in str(caught.value.errors[0])
    assert out.getvalue() == ""
