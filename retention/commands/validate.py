"""`retention validate`: check policy files offline, every problem as FILE:LINE:COL."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Literal

from retention.commands.common import plural
from retention.errors import Location, PolicyError, PolicyErrors
from retention.policy import load_policies
from retention.policy.overlaps import Finding, findings

Format = Literal["text", "github"]


def validate(paths: Sequence[str], *, output: Format = "text", strict: bool = False) -> int:
    """0 when every policy is valid; else each problem on stdout, a count on stderr, 1.

    Warnings (rules that add nothing or never delete, policies acting in the same namespaces)
    are printed too; with `strict` they fail the validation."""
    try:
        policies = load_policies(paths)
    except PolicyErrors as exc:
        for error in exc.errors:
            print(github_annotation(error) if output == "github" else str(error))
        files = len({e.location.path for e in exc.errors})
        print(f"{plural(len(exc.errors), 'error')} in {plural(files, 'file')}", file=sys.stderr)
        return 1
    warnings = findings(policies)
    for w in warnings:
        print(_github(w, "warning" if not strict else "error") if output == "github" else str(w))
    if strict and warnings:
        print(f"{plural(len(warnings), 'warning')}, refused by --strict", file=sys.stderr)
        return 1
    kinds = [plural(len(policies.policies), "policy", "policies")]
    kinds.append(plural(len(policies.holds), "legal hold"))
    if policies.tests:
        kinds.append(plural(len(policies.tests), "policy test"))
    listed = ", ".join(kinds[:-1]) + f" and {kinds[-1]}"
    print(f"ok: {listed} in {plural(len(policies.files), 'file')}")
    return 0


def github_annotation(error: PolicyError, title: str = "retention validate") -> str:
    """A GitHub Actions workflow command; `%`, CR and LF are escaped as the runner expects."""
    return _annotation("error", error.location, error.message, title)


def _github(finding: Finding, level: str) -> str:
    return _annotation(level, finding.location, finding.message, "retention validate")


def _annotation(level: str, loc: Location, text: str, title: str) -> str:
    message = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    path = loc.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return f"::{level} file={path},line={loc.line},col={loc.column},title={title}::{message}"
