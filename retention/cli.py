"""The `retention` command line: one function per command, one place that maps errors to exits.

Exit codes: 0 success; 1 an error the user can act on (bad policy, Pinecone refused, a guard
tripped); 2 `plan --detailed-exitcode` with deletions planned; 3 a bug (traceback logged);
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from retention import __version__
from retention.errors import PolicyError, PolicyErrors, RetentionError
from retention.policy import load_policies

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
