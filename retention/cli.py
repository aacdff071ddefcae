"""The `retention` command line: one function per command, one place that maps errors to exits.

Exit codes: 0 success; 1 an error the user can act on (bad policy, Pinecone refused, a guard
tripped); 2 `plan --detailed-exitcode` with deletions planned; 3 a bug (traceback logged);
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from retention import __version__
from retention.errors import PlanError, PolicyError, PolicyErrors, RetentionError
from retention.policy import PolicySet, load_policies

if TYPE_CHECKING:
    from retention.pinecone import PineconeClient
    from retention.planning.plan import Plan

DEFAULT_POLICY_PATH = "policies/"

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "command_func", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 1
    return run_command(command, args)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run a command, turning every failure into one line on stderr and an exit code."""
    try:
        return command(args)
    except KeyboardInterrupt:
        print("retention: interrupted", file=sys.stderr)
        return 130
    except PolicyErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return exc.exit_code
    except RetentionError as exc:
        print(f"retention: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:
        traceback.print_exc()
        print(
            "retention: internal error (a bug): please report it with the traceback above",
            file=sys.stderr,
        )
        return 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retention",
        description="Data retention for Pinecone indexes: policies as code, plans as diffs.",
    )
    parser.add_argument("--version", action="version", version=f"retention {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check policy files offline",
        description="Check policy files against the schema and the semantic rules, offline.",
    )
    validate.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    validate.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="github: GitHub Actions annotations (::error file=...)",
    )
    validate.set_defaults(command_func=cmd_validate)

    plan = commands.add_parser(
        "plan",
        help="show what the policies would delete now",
        description="Plan the deletions the policies call for against the live index.",
    )
    plan.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    plan.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    plan.add_argument("--out", metavar="PLANFILE", help="also write the plan file (JSON) here")
    plan.add_argument(
        "--base", metavar="GITREF", help="also show what this change adds or removes against GITREF"
    )
    plan.add_argument(
        "--at", metavar="TIME", help="plan as of TIME (ISO 8601, e.g. 2027-01-01T00:00:00Z)"
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to delete, 2 when deletions are planned",
    )
    plan.set_defaults(command_func=cmd_plan)
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        policies = load_policies(args.paths)
    except PolicyErrors as exc:
        for error in exc.errors:
            print(_github(error) if args.format == "github" else str(error))
        files = len({e.location.path for e in exc.errors})
        n = len(exc.errors)
        print(
            f"{n} error{'s' if n != 1 else ''} in {files} file{'s' if files != 1 else ''}",
            file=sys.stderr,
        )
        return 1
    p, h, f = len(policies.policies), len(policies.holds), len(policies.files)
    print(
        f"ok: {p} polic{'ies' if p != 1 else 'y'} and {h} legal hold{'s' if h != 1 else ''} "
        f"in {f} file{'s' if f != 1 else ''}"
    )
    return 0


def _github(error: PolicyError) -> str:
    """A GitHub Actions workflow command; `%`, CR and LF are escaped as the runner expects."""
    loc = error.location
    message = error.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    path = loc.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return (
        f"::error file={path},line={loc.line},col={loc.column},title=retention validate::{message}"
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from retention.planning.delta import delta, render_delta
    from retention.planning.plan import parse_time, to_document
    from retention.planning.render import render_json, render_markdown, render_text

    policies = load_policies(args.paths)
    now = parse_time(args.at) if args.at else datetime.now(UTC).replace(microsecond=0)
    base_policies = _base_policies(args.base, args.paths) if args.base else None
    plan, base_plan = asyncio.run(_plan_live(policies, base_policies, now, args.paths[0]))

    if args.format == "json":
        sys.stdout.write(render_json(plan))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(render_text(plan, color=color))
    if base_plan is not None and base_policies is not None and args.format != "json":
        changes = delta(plan, base_plan, policies, base_policies)
        text = render_delta(changes, args.base)
        if args.format == "markdown":
            text = "#### Change against `" + args.base + "`\n\n```diff\n" + text + "```\n"
        sys.stdout.write("\n" + text)
    if args.out:
        _write_json(args.out, to_document(plan))
    if args.detailed_exitcode and plan.totals.records:
        return 2
    return 0


async def _plan_live(
    policies: PolicySet, base: PolicySet | None, now: datetime, where: str
) -> tuple[Plan, Plan | None]:
    from retention import gitsource
    from retention.inventory import LiveInventory
    from retention.planning.planner import PlanOptions, make_plan

    options = PlanOptions(tool_version=__version__, git_revision=gitsource.revision(where))
    async with _client() as client:
        inventory = LiveInventory(client)
        plan = await make_plan(policies, inventory, now=now, options=options)
        base_plan = None
        if base is not None:
            base_plan = await make_plan(base, inventory, now=now, options=options)
    return plan, base_plan


def _base_policies(ref: str, paths: Sequence[str]) -> PolicySet:
    from retention import gitsource

    into = Path(tempfile.mkdtemp(prefix="retention-base-"))
    mapped = gitsource.materialize(ref, paths, into)
    existing = [p for p in mapped if Path(p).exists()]
    if not existing:
        return PolicySet((), (), (), "sha256:" + "0" * 64)
    try:
        return load_policies(existing)
    except PolicyErrors as exc:
        first = exc.errors[0]
        raise PlanError(
            f"the policies at {ref} are invalid ({len(exc.errors)} errors; first: {first.message})"
        ) from None


def _client() -> PineconeClient:
    from retention.pinecone import connect

    try:
        return connect(environ=os.environ)
    except ValueError as exc:
        raise RetentionError(str(exc)) from None


def _write_json(path: str, document: object) -> None:
    """Write atomically: a plan file is either whole or absent."""
    import json

    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, target)
