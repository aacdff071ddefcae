"""The reload poll notices every change the loader would see, and nothing can block it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retention.service.watching import content_digest


def test_an_edit_changes_the_digest(tmp_path: Path) -> None:
    """Rewriting a policy (even to the same length) or adding an ID file is a change."""
    policy = tmp_path / "p.yaml"
    policy.write_text("a: 1\n")
    first = content_digest([tmp_path])
    assert content_digest([tmp_path]) == first
    policy.write_text("a: 2\n")
    os.utime(policy, ns=(1, 1))
    second = content_digest([tmp_path])
    assert second != first
    (tmp_path / "erase.txt").write_text("id-1\n")
    assert content_digest([tmp_path]) != second


def test_a_configmap_swap_changes_the_digest(tmp_path: Path) -> None:
    """Kubernetes swaps a hidden `..data` link to a new directory; the visible names stay."""
    for version in ("..v1", "..v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "p.yaml").write_text(f"version: {version}\n")
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "p.yaml").symlink_to("..data/p.yaml")
    before = content_digest([tmp_path])
    (tmp_path / "..data").unlink()
    (tmp_path / "..data").symlink_to("..v2")
    assert content_digest([tmp_path]) != before


@pytest.mark.timeout(10)
def test_links_loops_and_fifos_neither_hang_nor_block(tmp_path: Path) -> None:
    """Two `ln -s . x` loops and a named pipe below the policies: the poll returns."""
    (tmp_path / "p.yaml").write_text("a: 1\n")
    (tmp_path / "x").symlink_to(".")
    (tmp_path / "y").symlink_to(".")
    os.mkfifo(tmp_path / "pipe.yaml")
    assert len(content_digest([tmp_path])) == 64
