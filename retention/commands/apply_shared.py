"""What both ways of applying share: their options, the checks on output files, signals, and
how the outcome is told (summary on stdout, one line per distinct error, the report file)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from structlog.typing import FilteringBoundLogger

from retention import eventloop, host, logs
from retention.applying.executor import ApplySettings, Stop
from retention.applying.ledger import LEDGER_FILE, Ledger, ledger_path
from retention.applying.report import ActionResult, Report
from retention.commands.common import (
    DEFAULT_RETRY_FOR,
    check_writable,
    plural,
    refuse_outputs_among,
    same_file,
    say_error,
    terminal,
    write_output,
)
from retention.commands.connecting import client_from_env, retry_policy
from retention.errors import RetentionError
from retention.host import default_state_dir
from retention.pinecone import PineconeClient
from retention.pipeline import apply_live
from retention.planning.plan import Plan
from retention.policy import PolicySet
from retention.policy.durations import parse_duration

MAX_ERRORS_SHOWN = 10


@dataclass(frozen=True)
class ApplyRequest:
    """The options of `retention apply`, as the command line gave them."""

    max_age: str = "24h"
    tolerance: float = 10.0
    max_records: int | None = None
    report: str | None = None
    journal: str | None = None
    ledger: str | None = None
    """The ledger file; by default `ledger.sqlite` in the state directory."""
    ignore_windows: bool = False
    """Apply even where a policy's windows are closed."""
    backup_timeout: float = 7200.0
    """Seconds a backup taken first may take to become Ready."""
    verify: Literal["lsn", "recount"] = "lsn"
    retry_for: float = DEFAULT_RETRY_FOR
    verify_timeout: float = 60.0

    def settings(self) -> ApplySettings:
        """The executor's settings; one line for the first option out of range."""
        try:
            max_age = parse_duration(self.max_age)
        except ValueError as exc:
            raise RetentionError(f"--max-age: {exc}") from None
        if not math.isfinite(self.tolerance) or self.tolerance < 0:
            raise RetentionError(
                f"--tolerance must be a finite percentage >= 0, got: {self.tolerance:g}"
            )
        if not math.isfinite(self.verify_timeout) or self.verify_timeout < 0:
            raise RetentionError(
                "--verify-timeout must be a finite number of seconds >= 0, "
                f"got: {self.verify_timeout:g}"
            )
        if not math.isfinite(self.backup_timeout) or self.backup_timeout < 0:
            raise RetentionError(
                "--backup-timeout must be a finite number of seconds >= 0, "
                f"got: {self.backup_timeout:g}"
            )
        if self.max_records is not None and self.max_records < 0:
            raise RetentionError(
                f"--max-records must be a number of records >= 0, got: {self.max_records}"
            )
        return ApplySettings(
            max_age=max_age,
            tolerance=self.tolerance / 100,
            max_records=self.max_records,
            verify_timeout=self.verify_timeout,
            verify=self.verify,
            ignore_windows=self.ignore_windows,
            backup_timeout=self.backup_timeout,
        )

    def check_outputs(self, inputs: Sequence[str]) -> None:
        """--report and --journal: neither one of the files applied, not the same file, and
        both writable, before anything is read from Pinecone."""
        refuse_outputs_among(
            inputs,
            self.outputs(),
            "the file being applied",
        )
        named = [(o, v) for o, v in self.outputs() if v]
        for i, (option, value) in enumerate(named):
            for other, second in named[i + 1 :]:
                if same_file(value, second):
                    raise RetentionError(
                        f"{option} and {other} name the same file {value}; give each its own"
                    )
        check_writable(self.report)
        check_writable(self.journal)

    def outputs(self) -> tuple[tuple[str, str | None], ...]:
        """The files the apply writes, by option."""
        ledger = self.ledger or str(default_state_dir() / LEDGER_FILE)
        return (("--report", self.report), ("--journal", self.journal), ("--ledger", ledger))


@dataclass(frozen=True)
class Prepared:
    """A plan ready to execute: what it is checked against and where its journal goes."""

    plan: Plan
    policies: PolicySet
    """What the apply answers to: the plan must be made from them and be what they say."""
    journal: Path | None
    fresh: bool = False
    """Made by this process a moment ago: its counts are current and are not taken again."""


Prepare = Callable[[PineconeClient, datetime, FilteringBoundLogger], Awaitable[Prepared | int]]
"""Makes or reads the plan once the client is there; an int is an exit code (nothing to do,
or a person said no)."""


def apply(request: ApplyRequest, settings: ApplySettings, prepare: Prepare) -> int:
    """Run `prepare` and then the apply, SIGINT and SIGTERM asking it to stop between batches;
    tell the outcome and return the exit code."""
    # On a terminal the progress bar and the summary tell the story; elsewhere (CI, a pod)
    # every step is a JSON event, one per batch.
    logs.configure(level="warning" if logs.interactive() else "info")
    log = logs.get_logger(command="apply")
    retry = retry_policy(request.retry_for)
    stop = Stop()
    signals: list[int] = []

    ledger = Ledger.open(ledger_path(request.ledger))

    async def main() -> int:
        _on_signals(stop, signals, log)
        now = host.utc_now()
        async with client_from_env(log=log, retry=retry) as client:
            prepared = await prepare(client, now, log)
            if isinstance(prepared, int):
                return prepared
            report = await apply_live(
                client,
                prepared.plan,
                prepared.policies,
                now=now,
                settings=settings,
                log=log,
                stop=stop,
                journal=prepared.journal,
                ledger=ledger,
                bar=terminal(sys.stderr),
                fresh=prepared.fresh,
            )
        return _told(report, request, settings, signals)

    try:
        return eventloop.run(main())
    finally:
        ledger.close()


def _on_signals(stop: Stop, got: list[int], log: FilteringBoundLogger) -> None:
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        got.append(signum)
        log.warning("stop_requested", signal=signal.Signals(signum).name)
        stop.request()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)


def _told(report: Report, request: ApplyRequest, settings: ApplySettings, got: list[int]) -> int:
    # What was deleted is said first: a report that cannot be written must not hide it.
    print(report.summary())
    for r in report.pending:
        print(
            f"pending: {r.action.id}: {r.remaining:,} records still visible after "
            f"{settings.verify_timeout:g}s (Pinecone is eventually consistent; re-plan later)",
            file=sys.stderr,
        )
    troubled = [r for r in report.results if r.error and r.status != "failed"]
    print_errors([*troubled, *report.failed])
    if report.ledger_error:
        say_error(f"the ledger did not record all of this apply: {report.ledger_error}")
    if request.report:
        write_output(request.report, report.to_json())
    if report.interrupted:
        return 128 + (got[0] if got else signal.SIGINT)
    return 1 if report.failed or troubled or report.ledger_error else 0


def print_errors(results: Sequence[ActionResult]) -> None:
    """One line per distinct error (the actions it stopped named once), at most a screenful;
    the report file holds every action's error."""
    by_error: dict[str, list[str]] = {}
    for r in results:
        by_error.setdefault(r.error or "", []).append(r.action.id)
    for n, (error, ids) in enumerate(by_error.items()):
        if n == MAX_ERRORS_SHOWN:
            rest = len(by_error) - n
            say_error(f"and {plural(rest, 'more error')} (--report FILE lists every action's)")
            break
        more = f" and {plural(len(ids) - 1, 'more action')}" if len(ids) > 1 else ""
        say_error(f"{ids[0]}{more}: {error}")


def refuse_overwriting(policies: PolicySet, outputs: Sequence[tuple[str, str | None]]) -> None:
    """--report and --journal must not name a policy or ID file the apply reads."""
    inputs = [*policies.files]
    inputs += [r.ids_file.path for p in policies.policies for r in p.rules if r.ids_file]
    refuse_outputs_among(inputs, outputs, "one of the policy or ID files being applied")


def journal_is_not_report(journal: Path, report: str | None) -> None:
    if report and same_file(report, os.fspath(journal)):
        raise RetentionError(f"--report {report} is the apply journal; name another file")
