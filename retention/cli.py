"""The `retention` command line: one function per command, one place that maps errors to exits.

Exit codes: 0 success; 1 an error the user can act on (bad policy, Pinecone refused, a guard
tripped); 2 `plan --detailed-exitcode` with deletions planned; 3 a bug (traceback logged);
130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from retention import __version__, eventloop, host
from retention.errors import PlanError, PolicyError, PolicyErrors, RetentionError
from retention.planning.planner import DEFAULT_SAMPLES
from retention.policy import PolicySet, load_policies

if TYPE_CHECKING:
    from retention.pinecone import PineconeClient
    from retention.planning.plan import Plan

DEFAULT_POLICY_PATH = "policies/"
DEFAULT_RETRY_FOR = 30.0
"""Seconds a failing request is retried for (`RetryPolicy.outage`)."""
MAX_PLAN_FILE_BYTES = 512 * 1024 * 1024
"""A plan file larger than this is refused unread (inline IDs come from policy files, which are
capped, so real plans stay far below it)."""

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The emulator's options (and its server, starlette and uvicorn) are imported only for
    # `retention emulator`: every other command starts that much sooner.
    parser = _parser(emulator="emulator" in words)
    args = parser.parse_args(words)
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 1 like every other mistake (its own
    exit 2 would read as `plan --detailed-exitcode`'s "deletions planned")."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"retention: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser(*, emulator: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
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
    plan.set_defaults(command_func=cmd_plan)

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
    apply.add_argument(
        "--verify",
        choices=("lsn", "recount"),
        default="lsn",
        help=(
            "lsn: one read per namespace or ID action shows the deletes applied (Pinecone's "
            "log sequence numbers); recount: enumerate every selection again (lsn)"
        ),
    )
    _retry_argument(apply)
    apply.add_argument(
        "--verify-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait this long for deletions to become visible (60)",
    )
    apply.set_defaults(command_func=cmd_apply)

    run = commands.add_parser(
        "run",
        help="reconcile the policies on their schedules (the Kubernetes pod)",
        description=(
            "Run the long-lived reconciler: each policy is planned, checked and applied on its "
            "schedule; the policy directory is reloaded when it changes; health and metrics are "
            "served over HTTP."
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
        help="write each policy's last plan and report here (env RETENTION_STATE_DIR)",
    )
    run.set_defaults(command_func=cmd_run)

    demo = commands.add_parser(
        "demo",
        help="a zero-configuration tour on the embedded emulator",
        description="Seed the embedded emulator and run validate, plan, apply and verify.",
    )
    demo.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_POLICY_PATH])
    demo.set_defaults(command_func=cmd_demo)

    served = commands.add_parser(
        "emulator",
        help="run the Pinecone-compatible emulator",
        description="Serve a Pinecone-compatible API on loopback for tests and demos.",
    )
    if emulator:
        from retention.emulator.command import add_arguments as emulator_arguments
        from retention.emulator.command import run as run_emulator

        emulator_arguments(served)
        served.set_defaults(command_func=run_emulator)
    return parser


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


def _retry_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client's retry policy from --retry-for (one line for a bad value)."""
    from retention.pinecone.retrying import RetryPolicy

    value = args.retry_for
    if not (math.isfinite(value) and value > 0):
        raise RetentionError(f"--retry-for must be a positive number of seconds, got: {value:g}")
    return {"retry": RetryPolicy(outage=value)}


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
    from retention import logs
    from retention.planning.delta import delta, render_delta
    from retention.planning.plan import parse_time, to_document
    from retention.planning.render import plan_json, render_markdown, render_text

    # Retry warnings go to stderr; stdout carries the plan, which says everything else.
    logs.configure(level="warning")
    _check_writable(args.out)
    if args.samples < 0:
        raise RetentionError(f"--samples must be a number of actions >= 0, got: {args.samples}")
    retry = _retry_options(args)
    policies = load_policies(args.paths)
    now = parse_time(args.at) if args.at else host.utc_now()
    with tempfile.TemporaryDirectory(prefix="retention-base-") as scratch:
        base_policies = _base_policies(args.base, args.paths, Path(scratch)) if args.base else None
        plan, base_plan = eventloop.run(
            _plan_live(policies, base_policies, now, args.paths[0], args.samples, retry)
        )

    document = to_document(plan)
    if args.format == "json":
        sys.stdout.write(plan_json(document))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        color = host.wants_color(sys.stdout)
        sys.stdout.write(render_text(plan, color=color))
    if base_plan is not None and base_policies is not None and args.format != "json":
        changes = delta(plan, base_plan, policies, base_policies)
        text = render_delta(changes, args.base)
        if args.format == "markdown":
            text = "#### Change against `" + args.base + "`\n\n```diff\n" + text + "```\n"
        sys.stdout.write("\n" + text)
    if args.out:
        _write_atomically(args.out, plan_json(document))
    if args.strict and plan.warnings:
        n = len(plan.warnings)
        raise RetentionError(
            f"--strict: {n} warning{'s' if n != 1 else ''}; first: {plan.warnings[0]}"
        )
    if args.detailed_exitcode and plan.totals.records:
        return 2
    return 0


async def _plan_live(
    policies: PolicySet,
    base: PolicySet | None,
    now: datetime,
    where: str,
    samples: int,
    retry: dict[str, Any],
) -> tuple[Plan, Plan | None]:
    from retention import gitsource, logs
    from retention.pipeline import plan_live

    log = logs.get_logger(command="plan")
    revision = gitsource.revision(where)
    async with _client(log=log, **retry) as client:
        bar = sys.stderr if sys.stderr.isatty() else None
        plan = await plan_live(
            client, policies, now=now, git_revision=revision, log=log, bar=bar, samples=samples
        )
        base_plan = None
        if base is not None:
            base_plan = await plan_live(
                client, base, now=now, git_revision=revision, log=log, samples=samples
            )
    return plan, base_plan


def _base_policies(ref: str, paths: Sequence[str], into: Path) -> PolicySet:
    """The policies as they are at git `ref`, written below `into` (which must outlive their
    planning: ID files are read from there)."""
    from retention import gitsource

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


def _client(**options: Any) -> PineconeClient:
    """The Pinecone client from the environment; a bad key or host is one line, before any
    request. `options` go to `connect` (transport, log, ...)."""
    from retention import logs, pinecone

    key = os.environ.get("PINECONE_API_KEY", "")
    if not key:
        raise RetentionError(
            "PINECONE_API_KEY is not set; export the API key of the Pinecone project "
            "(any value for the emulator)"
        )
    logs.hide(key)
    try:
        return pinecone.connect(environ=os.environ, **options)
    except ValueError as exc:
        raise RetentionError(str(exc)) from None


def _write_json(path: str, document: object) -> None:
    """Write atomically: a plan file is either whole or absent. A place that cannot take the
    file is one line naming it, and leaves nothing behind."""
    import json

    _write_atomically(path, json.dumps(document, indent=2) + "\n")


def _check_writable(path: str | None) -> None:
    """Refuse, before any work, a --out, --report or --journal the result could not be written
    to (an apply must not delete and then fail to report it), or that is something other than
    a regular file, which writing would replace (a symbolic link, a FIFO, /dev/null)."""
    if path is not None:
        _write_atomically(path, None)


def _write_atomically(path: str, text: str | None) -> None:
    """Write `text` to `path` through a temporary file, fsynced and renamed over it; None only
    checks that this would work. Only a regular file is ever replaced (`replace_atomically`)."""
    from retention.host import NotWritable, replace_atomically

    try:
        replace_atomically(Path(path), None if text is None else text.encode())
    except NotWritable as exc:
        raise RetentionError(f"cannot write {path}: {exc.reason}") from None


def cmd_apply(args: argparse.Namespace) -> int:
    import signal

    from retention import logs
    from retention.applying.executor import ApplySettings, Stop
    from retention.pipeline import apply_live, plan_live
    from retention.planning.plan import from_document
    from retention.planning.render import render_text
    from retention.policy.durations import parse_duration

    try:
        max_age = parse_duration(args.max_age)
    except ValueError as exc:
        raise RetentionError(f"--max-age: {exc}") from None
    if not math.isfinite(args.tolerance) or args.tolerance < 0:
        raise RetentionError(
            f"--tolerance must be a finite percentage >= 0, got: {args.tolerance:g}"
        )
    if not math.isfinite(args.verify_timeout) or args.verify_timeout < 0:
        raise RetentionError(
            "--verify-timeout must be a finite number of seconds >= 0, "
            f"got: {args.verify_timeout:g}"
        )
    if args.max_records is not None and args.max_records < 0:
        raise RetentionError(
            f"--max-records must be a number of records >= 0, got: {args.max_records}"
        )
    applied = {os.path.realpath(p) for p in args.paths}
    for option, value in (("--report", args.report), ("--journal", args.journal)):
        if value is not None and os.path.realpath(value) in applied:
            raise RetentionError(f"{option} {value} is the file being applied; name another file")
    if (
        args.report
        and args.journal
        and os.path.realpath(args.report) == os.path.realpath(args.journal)
    ):
        raise RetentionError(
            f"--report and --journal name the same file {args.report}; give each its own"
        )
    _check_writable(args.report)
    _check_writable(args.journal)
    settings = ApplySettings(
        max_age=max_age,
        tolerance=args.tolerance / 100,
        max_records=args.max_records,
        verify_timeout=args.verify_timeout,
        verify=args.verify,
    )
    retry = _retry_options(args)
    # On a terminal the progress bar and the summary tell the story; elsewhere (CI, a pod)
    # every step is a JSON event, one per batch.
    logs.configure(level="warning" if sys.stderr.isatty() else "info")
    log = logs.get_logger(command="apply")
    plan_doc = _plan_file(args.paths)
    stop = Stop()
    got: list[int] = []

    async def run() -> int:
        import asyncio

        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            got.append(signum)
            log.warning("stop_requested", signal=signal.Signals(signum).name)
            stop.request()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        now = host.utc_now()
        async with _client(log=log, **retry) as client:
            journal: Path | None
            fresh = False
            if plan_doc is not None:
                plan: Plan = from_document(plan_doc)
                digest = _sealed(
                    plan,
                    args.paths[1:] or [DEFAULT_POLICY_PATH],
                    (args.report, args.journal or args.paths[0] + ".journal"),
                )
                journal = Path(args.journal or args.paths[0] + ".journal")
                if args.report and os.path.realpath(args.report) == os.path.realpath(journal):
                    raise RetentionError(
                        f"--report {args.report} is the apply journal; name another file"
                    )
                _check_writable(str(journal))
            else:
                policies = load_policies(args.paths)
                _refuse_overwriting(policies, (args.report, args.journal))
                from retention import gitsource

                plan = await plan_live(
                    client,
                    policies,
                    now=now,
                    git_revision=gitsource.revision(args.paths[0]),
                    log=log,
                )
                digest = policies.digest
                journal = Path(args.journal) if args.journal else None
                color = host.wants_color(sys.stdout)
                sys.stdout.write(render_text(plan, color=color))
                if not plan.totals.records:
                    return 0
                if not args.auto_approve and not _confirm():
                    print("retention: apply cancelled; nothing was deleted", file=sys.stderr)
                    return 1
                # Planned by this process a moment ago: its counts are current. A plan that
                # waited for a person's answer is counted again before its deletes.
                fresh = args.auto_approve
            report = await apply_live(
                client,
                plan,
                now=now,
                digest=digest,
                settings=settings,
                log=log,
                stop=stop,
                journal=journal,
                bar=sys.stderr if sys.stderr.isatty() else None,
                fresh=fresh,
            )
        report.finished = datetime.now(UTC)
        # What was deleted is said first: a report that cannot be written must not hide it.
        print(report.summary())
        for r in report.pending:
            print(
                f"pending: {r.action.id}: {r.remaining:,} records still visible after "
                f"{settings.verify_timeout:g}s (Pinecone is eventually consistent; re-plan later)",
                file=sys.stderr,
            )
        troubled = [r for r in report.results if r.error and r.status != "failed"]
        _print_errors([*troubled, *report.failed])
        if args.report:
            _write_json(args.report, report.to_document())
        if report.interrupted:
            return 128 + (got[0] if got else signal.SIGINT)
        return 1 if report.failed or troubled else 0

    return eventloop.run(run())


MAX_ERRORS_SHOWN = 10


def _print_errors(results: Sequence[Any]) -> None:
    """One line per distinct error (the actions it stopped named once), at most a screenful;
    the report file holds every action's error."""
    by_error: dict[str, list[str]] = {}
    for r in results:
        by_error.setdefault(r.error, []).append(r.action.id)
    for n, (error, ids) in enumerate(by_error.items()):
        if n == MAX_ERRORS_SHOWN:
            rest = len(by_error) - n
            print(
                f"retention: error: and {rest:,} more error{'s' if rest != 1 else ''} "
                "(--report FILE lists every action's)",
                file=sys.stderr,
            )
            break
        more = (
            f" and {len(ids) - 1} more action{'s' if len(ids) != 2 else ''}" if len(ids) > 1 else ""
        )
        print(f"retention: error: {ids[0]}{more}: {error}", file=sys.stderr)


def _refuse_overwriting(policies: PolicySet, outputs: Sequence[str | None]) -> None:
    """--report and --journal must not name a policy or ID file the apply reads."""
    inputs = {os.path.realpath(f) for f in policies.files}
    inputs |= {
        os.path.realpath(r.ids_file.path) for p in policies.policies for r in p.rules if r.ids_file
    }
    for output in outputs:
        if output is not None and os.path.realpath(output) in inputs:
            raise RetentionError(
                f"{output} is one of the policy or ID files being applied; name another file"
            )


def _sealed(plan: Plan, paths: Sequence[str], outputs: Sequence[str | None] = ()) -> str:
    """The digest of the policies under `paths`, once they are shown to be the ones `plan`
    was made from and to yield it: the same files and ID files, and every action derived from
    them again (`sealing`). The files come from the command line, never from the plan file,
    so an edited plan cannot choose what it is checked against."""
    from retention.applying.checks import check_sources
    from retention.planning.sealing import check_sealed

    policies = load_policies(paths)
    _refuse_overwriting(policies, outputs)
    planned = {os.path.realpath(f): f for f in plan.sources.files}
    here = {os.path.realpath(f): f for f in policies.files}
    if planned.keys() != here.keys():
        missing = sorted(planned[k] for k in planned.keys() - here.keys())
        extra = sorted(here[k] for k in here.keys() - planned.keys())
        what = "; ".join(
            part
            for part in (
                f"not under {' '.join(paths)}: {', '.join(missing[:3])}" if missing else "",
                f"not in the plan: {', '.join(extra[:3])}" if extra else "",
            )
            if part
        )
        raise PlanError(
            f"the plan was made from other policy files than those under {' '.join(paths)} "
            f"({what}); "
            "nothing was deleted; give the policy paths the plan was made from: "
            "retention apply PLANFILE PATH..."
        )
    # The loader hashed every ID file already: compare with that, not by reading them again.
    pinned = {
        os.path.realpath(r.ids_file.path): r.ids_file.sha256
        for p in policies.policies
        for r in p.rules
        if r.ids_file
    }
    changed = sorted(
        {
            a.id_source.path
            for a in plan.actions
            if a.id_source is not None
            and a.id_source.type == "file"
            and a.id_source.path is not None
            and pinned.get(os.path.realpath(a.id_source.path)) != a.id_source.sha256
        }
    )
    check_sources(plan, digest=policies.digest, changed_files=changed)
    check_sealed(plan, policies)
    return policies.digest


def _plan_file(paths: Sequence[str]) -> dict[str, object] | None:
    """The plan document when the first argument is a plan file (the rest are the policy
    paths it was made from), else None (all are policy paths)."""
    import json

    if not paths or not Path(paths[0]).is_file():
        return None
    path = Path(paths[0])
    if path.suffix in (".yaml", ".yml"):
        return None
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_FILE_BYTES:
            raise PlanError(
                f"{path} is {size:,} bytes, over the {MAX_PLAN_FILE_BYTES:,} a plan file may have"
            )
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlanError(f"{path} is not a plan file: {exc}") from None
    except RecursionError:
        raise PlanError(f"{path} is not a plan file: it nests too deeply") from None
    if not isinstance(doc, dict):
        raise PlanError(f"{path} is not a plan file: a plan is a JSON object")
    return doc


def _confirm() -> bool:
    if not sys.stdin.isatty():
        raise RetentionError(
            "refusing to apply without confirmation: pass a reviewed plan file, or "
            "--auto-approve to plan and apply in one step"
        )
    answer = input("Apply this plan? Only 'yes' is accepted: ")
    return answer.strip() == "yes"


def cmd_run(args: argparse.Namespace) -> int:
    from retention import logs
    from retention.pinecone.client import POOL
    from retention.pinecone.transport import Lanes
    from retention.service.metrics import Metrics
    from retention.service.running import Service, ServiceSettings

    _check_run_arguments(args)
    retry = _retry_options(args)
    state = _state_dir(args.state_dir) if args.state_dir else None
    logs.configure()
    log = logs.get_logger(command="run")
    settings = ServiceSettings(
        paths=tuple(args.paths),
        http_host=args.http_host,
        http_port=args.http_port,
        reload_interval=args.reload_interval,
        observe=args.observe,
        grace=args.grace,
        state_dir=state,
    )
    metrics = Metrics()

    async def serve() -> int:
        transport = metrics.transport(Lanes(keepalive_expiry=POOL.keepalive_expiry))
        async with _client(transport=transport, log=log, **retry) as client:
            return await Service(settings, client=client, metrics=metrics, log=log).run()

    return eventloop.run(serve())


def _check_run_arguments(args: argparse.Namespace) -> None:
    """Refuse, at start, what would otherwise surface later or never (a port out of range
    used to mean no health server at all)."""
    import math

    if not 0 <= args.http_port <= 65535:
        raise RetentionError(f"--http-port must be between 0 and 65535, got: {args.http_port}")
    if not args.http_host.strip():
        raise RetentionError("--http-host is empty; 0.0.0.0 listens on every interface")
    if not (math.isfinite(args.reload_interval) and args.reload_interval > 0):
        raise RetentionError(
            f"--reload-interval must be a positive number of seconds, got: {args.reload_interval:g}"
        )
    if not (math.isfinite(args.grace) and args.grace >= 0):
        raise RetentionError(
            f"--grace must be a non-negative number of seconds, got: {args.grace:g}"
        )


def _state_dir(value: str) -> Path:
    """The state directory, created if needed; one line when it cannot hold files."""
    path = Path(value)
    if os.path.exists(path) and not os.path.isdir(path):
        raise RetentionError(f"--state-dir {value} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise RetentionError(f"--state-dir {value}: cannot create it: {reason}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RetentionError(f"--state-dir {value} is not writable")
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    from retention.demo import run_demo

    return run_demo(list(args.paths))
