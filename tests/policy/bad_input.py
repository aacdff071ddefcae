"""Shared by the bad-input tests of policies: document heads and the one-line check."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention.cli import main

HEADER = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata:
  name: p
spec:
  index: idx
  namespaces:
    include: ["ns-*"]
  rules:
"""
"""A policy up to its rules; append rules, or replace "  rules:\\n" to add spec keys."""

HOLD = """\
apiVersion: retention/v1
kind: LegalHold
metadata:
  name: h
spec:
  index: idx
  namespaces:
    include: ["ns-*"]
  protect:
"""
"""A legal hold up to its protections; append them."""

RULE = "    - name: r\n      where: {a: 1}\n"
"""A valid rule."""


def assert_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]
) -> None:
    """`retention validate` on `text`, saved as policies/policy.yaml under `tmp_path`, exits
    1 printing exactly `expected`, where {f} stands for the file and {d} for its directory."""
    tree = tmp_path / "policies"
    tree.mkdir()
    path = tree / "policy.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [line.replace("{f}", str(path)).replace("{d}", str(tree)) for line in expected]
