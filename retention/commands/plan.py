"""`retention plan`: what the policies would delete now, as text, markdown or JSON, and saved."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from retention import eventloop, gitsource, host, logs
from retention.commands.common import (
    DEFAULT_RETRY_FOR,
    check_writable,
    plural,
    terminal,
    write_output,
)
from retention.commands.connecting import client_from_env, retry_policy
from retention.errors import PlanError, PolicyErrors, RetentionError
from retention.pinecone.retrying import RetryPolicy
from retention.pipeline import plan_live
from retention.planning.delta import delta, render_delta
from retention.planning.plan import Plan, parse_time, to_document
from retention.planning.planner import DEFAULT_SAMPLES
from retention.planning.render import plan_json, render_markdown, render_text
from retention.policy import PolicySet, load_policies

Format = Literal["text", "markdown", "json"]


@dataclass(frozen=True)
class PlanRequest:
    """What `retention plan` was asked, as the command line said it."""

    paths: Sequence[str]
    output: Format = "text"
    out: str | None = None
    base: str | None = None
    at: str | None = None
    detailed_exitcode: bool = False
    samples: int = DEFAULT_SAMPLES
    retry_for: float = DEFAULT_RETRY_FOR
    strict: bool = False


def plan(request: PlanRequest) -> int:
    """Print the plan (and its change against --base); 2 with --detailed-exitcode when it
    deletes anything, 1 with --strict when it warns."""
    # Retry warnings go to stderr; stdout carries the plan, which says everything else.
    logs.configure(level="warning")
    check_writable(request.out)
    if request.samples < 0:
        raise RetentionError(f"--samples must be a number of actions >= 0, got: {request.samples}")
    retry = retry_policy(request.retry_for)
    policies = load_policies(request.paths)
    now = parse_time(request.at) if request.at else host.utc_now()
    with tempfile.TemporaryDirectory(prefix="retention-base-") as scratch:
        base = _base_policies(request.base, request.paths, Path(scratch)) if request.base else None
        made, base_plan = eventloop.run(_plan_live(request, policies, base, now, retry))
    document = to_document(made)
    sys.stdout.write(_rendered(made, request.output, document))
    if base_plan is not None and base is not None and request.base and request.output != "json":
        changes = delta(made, base_plan, policies, base)
        sys.stdout.write("\n" + _change(render_delta(changes, request.base), request))
    if request.out:
        write_output(request.out, plan_json(document))
    if request.strict and made.warnings:
        raise RetentionError(
            f"--strict: {plural(len(made.warnings), 'warning')}; first: {made.warnings[0]}"
        )
    return 2 if request.detailed_exitcode and made.totals.records else 0


def _rendered(made: Plan, output: Format, document: dict[str, object]) -> str:
    if output == "json":
        return plan_json(document)
    if output == "markdown":
        return render_markdown(made)
    return render_text(made, color=host.wants_color(sys.stdout))


def _change(text: str, request: PlanRequest) -> str:
    if request.output == "markdown":
        return f"#### Change against `{request.base}`\n\n```diff\n{text}```\n"
    return text


async def _plan_live(
    request: PlanRequest,
    policies: PolicySet,
    base: PolicySet | None,
    now: datetime,
    retry: RetryPolicy,
) -> tuple[Plan, Plan | None]:
    log = logs.get_logger(command="plan")
    revision = gitsource.revision(request.paths[0])
    async with client_from_env(log=log, retry=retry) as client:
        made = await plan_live(
            client,
            policies,
            now=now,
            git_revision=revision,
            log=log,
            bar=terminal(sys.stderr),
            samples=request.samples,
        )
        base_plan = None
        if base is not None:
            base_plan = await plan_live(
                client, base, now=now, git_revision=revision, log=log, samples=request.samples
            )
    return made, base_plan


def _base_policies(ref: str, paths: Sequence[str], into: Path) -> PolicySet:
    """The policies as they are at git `ref`, written below `into` (which must outlive their
    planning: ID files are read from there)."""
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
