"""Policies as they are at another git revision, for `retention plan --base GITREF`.

The files are read with `git show`, never checked out, so the working tree is left untouched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from retention.errors import PlanError


def _git(args: Sequence[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=60)
    except FileNotFoundError:
        raise PlanError("git is not installed; --base needs it") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise PlanError(
            f"git {' '.join(args[:2])} failed: {message[-1] if message else done.returncode}"
        )
    return done.stdout


def revision(path: str | Path) -> str | None:
    """The commit HEAD of the repository containing `path`, or None outside a repository."""
    where = Path(path)
    where = where if where.is_dir() else where.parent
    try:
        return _git(["rev-parse", "HEAD"], where).decode().strip() or None
    except PlanError:
        return None


def materialize(ref: str, paths: Sequence[str], into: Path) -> list[str]:
    """Write the files under `paths` as they are at `ref` into `into`; return the new paths
    that correspond to `paths` (same layout relative to the repository root)."""
    first = Path(paths[0]) if paths else Path(".")
    cwd = first if first.is_dir() else first.parent
    try:
        root = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    except PlanError:
        raise PlanError(
            f"--base {ref}: {first} is not in a git repository (--base reads the policies "
            "from git history)"
        ) from None
    try:
        commit = _git(["rev-parse", "--verify", f"{ref}^{{commit}}"], root).decode().strip()
    except PlanError:
        raise PlanError(f"--base {ref}: no such commit in the git repository {root}") from None
    mapped = []
    for raw in paths:
        try:
            relative = Path(raw).resolve().relative_to(root.resolve())
        except ValueError:
            raise PlanError(
                f"--base {ref}: {raw} is outside the git repository {root} of {paths[0]} "
                "(--base reads every path from that one repository)"
            ) from None
        names = _git(["ls-tree", "-r", "--name-only", "-z", commit, "--", str(relative)], root)
        for name in filter(None, names.decode().split("\0")):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git(["show", f"{commit}:{name}"], root))
        mapped.append(str(into / relative))
    return mapped
