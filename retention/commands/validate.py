"""`retention validate`: check policy files offline, every problem as FILE:LINE:COL."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Literal

from retention.commands.common import plural
from retention.errors import PolicyError, PolicyErrors
from retention.policy import load_policies

Format = Literal["text", "github"]


def validate(paths: Sequence[str], *, output: Format = "text") -> int:
    """0 when every policy is valid; else each problem on stdout, a count on stderr, 1."""
    try:
        policies = load_policies(paths)
    except PolicyErrors as exc:
        for error in exc.errors:
            print(github_annotation(error) if output == "github" else str(error))
        files = len({e.location.path for e in exc.errors})
        print(f"{plural(len(exc.errors), 'error')} in {plural(files, 'file')}", file=sys.stderr)
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
    loc = error.location
    message = error.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    path = loc.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return f"::error file={path},line={loc.line},col={loc.column},title={title}::{message}"
