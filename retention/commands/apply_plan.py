"""`retention apply PLANFILE [PATH...]`: execute exactly a reviewed plan file.

The plan is checked against the policies under PATH (policies/ by default), named on the
command line and never taken from the plan file, so an edited plan cannot choose what it is
checked against: the same files and ID files, every action derived from them again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from structlog.typing import FilteringBoundLogger

from retention.commands.apply_shared import (
    ApplyRequest,
    Prepared,
    apply,
    journal_is_not_report,
    refuse_overwriting,
)
from retention.commands.common import DEFAULT_POLICY_PATH, check_writable
from retention.errors import PlanError
from retention.pinecone import PineconeClient
from retention.planning.plan import Plan, from_document
from retention.policy import PolicySet, load_policies

MAX_PLAN_FILE_BYTES = 512 * 1024 * 1024
"""A plan file larger than this is refused unread (inline IDs come from policy files, which are
capped, so real plans stay far below it)."""


def apply_plan_file(plan_file: str, policy_paths: Sequence[str], request: ApplyRequest) -> int:
    """Apply the plan in `plan_file`, made from the policies under `policy_paths`."""
    settings = request.settings()
    request.check_outputs([plan_file, *policy_paths])
    document = read_plan_file(Path(plan_file))
    paths = list(policy_paths) or [DEFAULT_POLICY_PATH]
    journal = Path(request.journal or plan_file + ".journal")

    async def prepare(
        client: PineconeClient, now: datetime, log: FilteringBoundLogger
    ) -> Prepared | int:
        plan = from_document(document)
        outputs = (*request.outputs(), ("--journal", str(journal)))
        policies = policies_of(plan, paths, outputs)
        journal_is_not_report(journal, request.report)
        check_writable(str(journal))
        return Prepared(plan, policies, journal)

    return apply(request, settings, prepare)


def read_plan_file(path: Path) -> dict[str, object]:
    """The plan document in `path`; one line when it is not one."""
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_FILE_BYTES:
            raise PlanError(
                f"{path} is {size:,} bytes, over the {MAX_PLAN_FILE_BYTES:,} a plan file may have"
            )
        document = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PlanError(f"{path} is not a plan file: {exc}") from None
    except RecursionError:
        raise PlanError(f"{path} is not a plan file: it nests too deeply") from None
    if not isinstance(document, dict):
        raise PlanError(f"{path} is not a plan file: a plan is a JSON object")
    return document


def policies_of(
    plan: Plan, paths: Sequence[str], outputs: Sequence[tuple[str, str | None]] = ()
) -> PolicySet:
    """The policies under `paths`, once they are shown to be the files `plan` was made from
    and no output would overwrite one. The apply then checks that they still say what the
    plan does (digest, ID files, each action: `sealing`) before it sends anything."""
    policies = load_policies(paths)
    refuse_overwriting(policies, outputs)
    _same_files(plan, policies, paths)
    return policies


def _same_files(plan: Plan, policies: PolicySet, paths: Sequence[str]) -> None:
    planned = {os.path.realpath(f): f for f in plan.sources.files}
    here = {os.path.realpath(f): f for f in policies.files}
    if planned.keys() == here.keys():
        return
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
        f"({what}); nothing was deleted; give the policy paths the plan was made from: "
        "retention apply PLANFILE PATH..."
    )
