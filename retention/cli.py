"""The `retention` command line: parse, hand typed values to `retention.commands`, map errors
to exit codes. Nothing else happens here.

Exit codes: 0 success; 1 an error the user can act on (bad policy, Pinecone refused, a guard
tripped); 2 `plan --detailed-exitcode` with deletions planned; 3 a bug (traceback logged);
130 interrupted.

Each command's module is imported only when that command runs: `retention validate` (a
pre-commit hook, run on every commit) must start without the HTTP client, the scheduler or the
emulator's server.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeAlias

from retention import __version__
from retention.commands.common import DEFAULT_POLICY_PATH, DEFAULT_RETRY_FOR
from retention.errors import PolicyErrors, RetentionError
from retention.planning.planner import DEFAULT_SAMPLES

Dispatch = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(emulator="emulator" in words)
    args = parser.parse_args(words)
    dispatch: Dispatch | None = getattr(args, "dispatch", None)
    if dispatch is None:
        parser.print_help(sys.stderr)
        return 1
    if getattr(args, "log_format", "auto") != "auto":
        from retention import logs  # structlog is imported only by commands that log

        logs.choose_format(args.log_format)
    return run_command(dispatch, args)


def run_command(dispatch: Dispatch, args: argparse.Namespace) -> int:
    """Run a command, turning every failure into one line on stderr and an exit code."""
    try:
        return dispatch(args)
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


# -- dispatch: one function per command, from parsed arguments to the command's typed call


def _validate(args: argparse.Namespace) -> int:
    from retention.commands.validate import validate

    return validate(args.paths, output=args.format, strict=args.strict)


def _plan(args: argparse.Namespace) -> int:
    from retention.commands.plan import PlanRequest, plan

    return plan(
        PlanRequest(
            paths=args.paths,
            output=args.format,
            out=args.out,
            base=args.base,
            at=args.at,
            detailed_exitcode=args.detailed_exitcode,
            samples=args.samples,
            retry_for=args.retry_for,
            strict=args.strict,
        )
    )


def _test(args: argparse.Namespace) -> int:
    from retention.commands.policy_tests import run_tests

    return run_tests(args.paths, output=args.format, allow_none=args.allow_none)


def _explain(args: argparse.Namespace) -> int:
    from retention.commands.explain import ExplainRequest, explain_records

    namespace, *ids = args.namespace or [None]
    return explain_records(
        ExplainRequest(
            paths=args.paths,
            record_file=args.record,
            index=args.index,
            namespace=namespace,
            ids=[*ids, *args.ids],
            at=args.at,
            output=args.format,
        )
    )


def _apply(args: argparse.Namespace) -> int:
    from retention.commands.apply_plan import apply_plan_file
    from retention.commands.apply_shared import ApplyRequest
    from retention.commands.plan_and_apply import plan_and_apply

    request = ApplyRequest(
        max_age=args.max_age,
        tolerance=args.tolerance,
        max_records=args.max_records,
        report=args.report,
        journal=args.journal,
        ledger=args.ledger,
        ignore_windows=args.ignore_windows,
        backup_timeout=args.backup_timeout,
        verify=args.verify,
        retry_for=args.retry_for,
        verify_timeout=args.verify_timeout,
    )
    if _is_plan_file(args.paths[0]):
        return apply_plan_file(args.paths[0], args.paths[1:], request)
    return plan_and_apply(args.paths, request, auto_approve=args.auto_approve)


def _is_plan_file(path: str) -> bool:
    """The first argument of `apply` is a plan file when it is a file and not a policy file
    (the rest are the policy paths it was made from); otherwise every argument is a policy
    path."""
    return Path(path).is_file() and Path(path).suffix not in (".yaml", ".yml")


def _run(args: argparse.Namespace) -> int:
    from retention.commands.run import RunRequest, run

    return run(
        RunRequest(
            paths=args.paths,
            http_host=args.http_host,
            http_port=args.http_port,
            observe=args.observe,
            retry_for=args.retry_for,
            reload_interval=args.reload_interval,
            grace=args.grace,
            state_dir=args.state_dir,
            ledger=args.ledger,
            trend_runs=args.trend_runs,
            shard=args.shard,
        )
    )


def _audit(args: argparse.Namespace) -> int:
    from retention.commands.audit import AuditRequest, audit

    return audit(
        AuditRequest(
            ledger=args.ledger,
            record_id=args.id,
            index=args.index,
            namespace=args.namespace,
            since=args.since,
            until=args.until,
            output=args.format,
        )
    )


def _demo(args: argparse.Namespace) -> int:
    from retention.commands.demo import run_demo

    return run_demo(list(args.paths))


# -- the parser


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 1 like every other mistake (its own
    exit 2 would read as `plan --detailed-exitcode`'s "deletions planned")."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"retention: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser(*, emulator: bool = True) -> argparse.ArgumentParser:
    """Every command's arguments; the emulator's only when `emulator` (they import it)."""
    parser = _Parser(
        prog="retention",
        description="Data retention for Pinecone indexes: policies as code, plans as diffs.",
    )
    parser.add_argument("--version", action="version", version=f"retention {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _validate_arguments(commands)
    _plan_arguments(commands)
    _apply_arguments(commands)
    _run_arguments(commands)
    _explain_arguments(commands)
    _test_arguments(commands)
    _audit_arguments(commands)
    demo = commands.add_parser(
        "demo",
        help="a zero-configuration tour on the embedded emulator",
        description="Seed the embedded emulator and run validate, plan, apply and verify.",
    )
    demo.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="policy files or directories (default: the example policies shipped with retention)",
    )
    demo.set_defaults(dispatch=_demo)
    served = commands.add_parser(
        "emulator",
        help="run the Pinecone-compatible emulator",
        description="Serve a Pinecone-compatible API on loopback for tests and demos.",
    )
    for name in ("plan", "apply", "run", "demo"):
        _log_format_argument(commands.choices[name])
    if emulator:
        from retention.emulator.command import add_arguments, run

        add_arguments(served)
        served.set_defaults(dispatch=run)
    return parser


Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _validate_arguments(commands: Commands) -> None:
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
    validate.add_argument(
        "--strict",
        action="store_true",
        help="fail on warnings too (rules that add nothing or never delete, shared namespaces)",
    )
    validate.set_defaults(dispatch=_validate)


def _test_arguments(commands: Commands) -> None:
    tests = commands.add_parser(
        "test",
        help="run the PolicyTest documents offline",
        description=(
            "Judge each PolicyTest's example records by the policies beside them, offline, "
            "under every reading of Pinecone's undocumented filter corners."
        ),
    )
    tests.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    tests.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="github: GitHub Actions annotations for the failures",
    )
    tests.add_argument(
        "--allow-none",
        action="store_true",
        help="exit 0 when there are no PolicyTest documents (default: that is an error)",
    )
    tests.set_defaults(dispatch=_test)


def _explain_arguments(commands: Commands) -> None:
    explain = commands.add_parser(
        "explain",
        help="say why records would be deleted, kept or left alone",
        description=(
            "For each record: the rules that select it, the protections and legal holds that "
            "save it, and the verdict, under every reading of Pinecone's undocumented filter "
            "corners. Offline with --record FILE; live with --index I --namespace N ID..."
        ),
    )
    explain.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    explain.add_argument("--record", metavar="FILE", help="JSON or YAML list of records")
    explain.add_argument("--index", help="the records' index (live: required)")
    explain.add_argument(
        "--namespace",
        nargs="+",
        metavar=("N", "ID"),
        help="live: the namespace, then the IDs of its records to fetch and explain",
    )
    explain.add_argument(
        "--id",
        action="append",
        default=[],
        dest="ids",
        metavar="ID",
        help="live: one more record ID (repeatable)",
    )
    explain.add_argument("--at", metavar="TIME", help="ISO 8601 moment to judge at (default now)")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(dispatch=_explain)


def _plan_arguments(commands: Commands) -> None:
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
    plan.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"show sample IDs for at most N actions, one request each ({DEFAULT_SAMPLES}; 0: none)",
    )
    _retry_argument(plan)
    plan.add_argument(
        "--strict",
        action="store_true",
        help=(
            "exit 1 when the plan has any warning, such as a legal hold or a policy that matches "
            "nothing (the plan is still printed, and written to --out)"
        ),
    )
    plan.set_defaults(dispatch=_plan)


def _apply_arguments(commands: Commands) -> None:
    apply = commands.add_parser(
        "apply",
        help="execute a reviewed plan file, or plan and apply in one step",
        description=(
            "Apply exactly a reviewed plan (retention apply PLANFILE [PATH...], where PATH are "
            "the policy paths it was made from, policies/ by default), or plan and apply the "
            "policies in one step (retention apply [PATH...] --auto-approve)."
        ),
    )
    apply.add_argument(
        "paths",
        nargs="*",
        metavar="PLANFILE [PATH...]|PATH",
        default=[DEFAULT_POLICY_PATH],
        help=(
            "a plan file and the policy paths it was made from (default policies/), or policy "
            "paths to plan and apply with --auto-approve"
        ),
    )
    apply.add_argument(
        "--auto-approve", action="store_true", help="apply without asking (policies mode)"
    )
    apply.add_argument("--max-age", default="24h", help="refuse plans older than this (24h)")
    apply.add_argument(
        "--tolerance",
        type=float,
        default=10.0,
        metavar="PERCENT",
        help="refuse when a selection grew more than this since planning (10)",
    )
    apply.add_argument("--max-records", type=int, help="refuse to delete more records in total")
    apply.add_argument("--report", metavar="FILE", help="write the apply report (JSON) here")
    apply.add_argument(
        "--journal", metavar="FILE", help="progress journal (default: PLANFILE.journal)"
    )
    _ledger_argument(apply)
    apply.add_argument(
        "--ignore-windows",
        action="store_true",
        help="apply even where a policy's spec.windows are closed (suspended policies stay so)",
    )
    apply.add_argument(
        "--backup-timeout",
        type=float,
        default=7200.0,
        metavar="SECONDS",
        help="wait this long for a backup taken first (limits.backupAbove) to be Ready (7200)",
    )
    _verify_arguments(apply)
    _retry_argument(apply)
    apply.set_defaults(dispatch=_apply)


def _verify_arguments(apply: argparse.ArgumentParser) -> None:
    apply.add_argument(
        "--verify",
        choices=("lsn", "recount"),
        default="lsn",
        help=(
            "lsn: one read per namespace or ID action shows the deletes applied (Pinecone's "
            "log sequence numbers); recount: enumerate every selection again (lsn)"
        ),
    )
    apply.add_argument(
        "--verify-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait this long for deletions to become visible (60)",
    )


def _run_arguments(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="reconcile the policies on their schedules (the Kubernetes pod)",
        description=(
            "Run the long-lived reconciler: each policy is planned, checked and applied on its "
            "schedule; the policy directory is reloaded when it changes; health (/healthz, "
            "/readyz) and metrics (/metrics) are served over HTTP on --http-host:--http-port, "
            "0.0.0.0:8080 unless told otherwise."
        ),
    )
    run.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    run.add_argument(
        "--http-port", type=int, default=8080, help="health and metrics port (8080; 0: any free)"
    )
    run.add_argument(
        "--http-host",
        default="0.0.0.0",
        metavar="HOST",
        help=(
            "interface for health and metrics (default 0.0.0.0: every interface, as a pod needs "
            "for its probes and Prometheus; 127.0.0.1: this machine only)"
        ),
    )
    run.add_argument(
        "--observe", action="store_true", help="plan only, for every policy: delete nothing"
    )
    _retry_argument(run)
    run.add_argument(
        "--reload-interval", type=float, default=5.0, metavar="SECONDS", help="policy polling (5)"
    )
    run.add_argument(
        "--grace",
        type=float,
        default=50.0,
        metavar="SECONDS",
        help="on SIGTERM, wait this long for applies in flight (50)",
    )
    run.add_argument(
        "--state-dir",
        default=os.environ.get("RETENTION_STATE_DIR"),
        help=(
            "each policy's last plan, report and run, and the ledger (env RETENTION_STATE_DIR; "
            "default $XDG_STATE_HOME/retention or ~/.local/state/retention)"
        ),
    )
    _ledger_argument(run)
    run.add_argument(
        "--trend-runs",
        type=int,
        default=7,
        metavar="N",
        help=(
            "the trend breaker weighs a firing against the median of the policy's last N "
            "applies in the ledger (7)"
        ),
    )
    _shard_argument(run)
    run.set_defaults(dispatch=_run)


def _shard_argument(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--shard",
        metavar="I/N|auto",
        help=(
            "reconcile only the indexes of shard I of N (0-based), chosen by a stable hash of "
            "(project, index), so N replicas never share an index; auto: I from the pod name's "
            "ordinal (POD_NAME or HOSTNAME, NAME-I) and N from RETENTION_SHARDS"
        ),
    )


def _ledger_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="FILE",
        help="the erasure ledger (SQLite; default: ledger.sqlite in the state directory)",
    )


def _audit_arguments(commands: Commands) -> None:
    audit = commands.add_parser(
        "audit",
        help="answer from the ledger: was a record erased, and what ran when",
        description=(
            "Read the erasure ledger: with --id, whether, when and by which policy and plan a "
            "record was erased (exit 0 erased, 2 no erasure recorded); with --since/--until, "
            "every apply in that time, as evidence (text, json or csv)."
        ),
    )
    audit.add_argument("--id", metavar="ID", help="the record ID to look for")
    audit.add_argument("--index", metavar="INDEX", help="only erasures in this index")
    audit.add_argument("--namespace", metavar="NAMESPACE", help="only erasures in this namespace")
    audit.add_argument("--since", metavar="TIME", help="runs started at or after (ISO 8601)")
    audit.add_argument("--until", metavar="TIME", help="runs started before (ISO 8601)")
    audit.add_argument("--format", choices=("text", "json", "csv"), default="text")
    _ledger_argument(audit)
    audit.set_defaults(dispatch=_audit)


def _log_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default="auto",
        help=(
            "log events on stderr as JSON lines or as short console lines (auto, the default: "
            "console on a terminal, JSON elsewhere)"
        ),
    )


def _retry_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retry-for",
        type=float,
        default=DEFAULT_RETRY_FOR,
        metavar="SECONDS",
        help=(
            "keep retrying a request that fails with 5xx, 429 or a network error for this long "
            f"({DEFAULT_RETRY_FOR:g}: a short outage is ridden out)"
        ),
    )
