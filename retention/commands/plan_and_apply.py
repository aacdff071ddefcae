"""`retention apply [PATH...]`: plan the policies and apply that plan in one step, after a
person's `yes` on a terminal or with --auto-approve."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from structlog.typing import FilteringBoundLogger

from retention import gitsource, host
from retention.commands.apply_shared import ApplyRequest, Prepared, apply, refuse_overwriting
from retention.errors import RetentionError
from retention.pinecone import PineconeClient
from retention.pipeline import plan_live
from retention.planning.render import render_text
from retention.policy import load_policies


def plan_and_apply(paths: Sequence[str], request: ApplyRequest, *, auto_approve: bool) -> int:
    """Plan the policies under `paths`, show the plan, and apply it once approved."""
    settings = request.settings()
    request.check_outputs(paths)

    async def prepare(
        client: PineconeClient, now: datetime, log: FilteringBoundLogger
    ) -> Prepared | int:
        policies = load_policies(paths)
        refuse_overwriting(policies, request.outputs())
        plan = await plan_live(
            client, policies, now=now, git_revision=gitsource.revision(paths[0]), log=log
        )
        sys.stdout.write(render_text(plan, color=host.wants_color(sys.stdout)))
        if not plan.totals.records:
            return 0
        if not auto_approve and not confirmed():
            print("retention: apply cancelled; nothing was deleted", file=sys.stderr)
            return 1
        journal = Path(request.journal) if request.journal else None
        # Planned by this process a moment ago: its counts are current. A plan that waited
        # for a person's answer is counted again before its deletes.
        return Prepared(plan, policies, journal, fresh=auto_approve)

    return apply(request, settings, prepare)


def confirmed() -> bool:
    """A person typed `yes`; refuse outright when nobody can answer."""
    if not sys.stdin.isatty():
        raise RetentionError(
            "refusing to apply without confirmation: pass a reviewed plan file, or "
            "--auto-approve to plan and apply in one step"
        )
    answer = input("Apply this plan? Only 'yes' is accepted: ")
    return answer.strip() == "yes"
