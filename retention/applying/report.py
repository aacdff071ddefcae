"""What an apply did, action by action: the `--report` file and the final summary.

Every figure in it is something this run saw, never the plan's expectation restated: `deleted`
is what this run removed (the IDs it sent after fetching them, or for a filtered delete the
`matched_records` Pinecone answered with (documents API), else what a count taken just before
the request matched, or the count of the plan this process made moments before), `countedBy`
says which, `planned` is the plan's count beside it, and the verification
after the delete says whether Pinecone shows it done (`verifiedRecords`). A record two actions
select is counted under the first of them only. Work finished by
an earlier run of the same plan (from its journal) is reported as such, apart from this run's,
and an action whose namespace was deleted between planning and applying is "namespace gone",
not "done".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from retention.applying.journal import Entry
from retention.planning.plan import Action, format_time

Status = Literal[
    "done",
    "namespace-gone",
    "applied-earlier",
    "skipped",
    "interrupted",
    "outside-window",
    "window-closed",
    "failed",
]
CountedBy = Literal[
    "ids-sent", "matched-records", "count-before-delete", "plan-moments-before", "namespace-size"
]
Verification = Literal["verified", "pending", "not-checked"]

MAX_REQUEST_IDS = 50
MAX_NAMED = 3
"""Namespaces named in the summary line before the rest are only counted."""


@dataclass
class ActionResult:
    action: Action
    status: Status = "skipped"
    deleted: int = 0
    """Records this run deleted (never the planned count restated)."""
    counted_by: CountedBy | None = None
    """How `deleted` is known: the IDs sent, the `matched_records` of a filtered documents
    delete, a count just before the filtered delete, the count of the plan this process made
    moments before, or the namespace's size."""
    requests: int = 0
    seconds: float = 0.0
    verification: Verification = "not-checked"
    remaining: int | None = None
    request_ids: list[str] = field(default_factory=list)
    lsn: int | None = None
    error: str | None = None
    finished: datetime | None = None
    earlier: Entry | None = None
    """For an action finished by an earlier run of the plan: what its journal says."""
    deleted_sample: list[str] = field(default_factory=list)
    """IDs this run deleted, one per batch (thinned evenly to a bound), to fetch back."""
    _stride: int = field(default=1, repr=False)
    _batches: int = field(default=0, repr=False)

    def note_deleted_batch(self, record_id: str, bound: int) -> None:
        """A batch of IDs was deleted; `record_id` is its first. Keep it in the sample; past
        `bound`, keep every other one of those kept and take later batches at half the rate,
        so the sample spans the whole deletion in at most `bound` IDs."""
        batch, self._batches = self._batches, self._batches + 1
        if batch % self._stride:
            return
        self.deleted_sample.append(record_id)
        if len(self.deleted_sample) >= bound:
            del self.deleted_sample[1::2]
            self._stride *= 2

    def note_request(self, request_id: str | None) -> None:
        self.requests += 1
        if request_id and len(self.request_ids) < MAX_REQUEST_IDS:
            self.request_ids.append(request_id)


@dataclass(frozen=True)
class BackupTaken:
    """A backup of an index taken before this apply deleted from it."""

    index: str
    backup_id: str
    status: str
    records: int | None
    policies: tuple[str, ...]


@dataclass
class Report:
    plan_fingerprint: str
    started: datetime
    finished: datetime | None = None
    results: list[ActionResult] = field(default_factory=list)
    interrupted: bool = False
    run: str | None = None
    """This apply's run in the ledger."""
    ledger_error: str | None = None
    """Why the ledger could not record (part of) this apply, if it could not."""
    backups: list[BackupTaken] = field(default_factory=list)
    """Backups taken before the first delete (`limits.backupAbove`)."""
    canaries: dict[str, str] = field(default_factory=dict)
    """Policy -> "passed", or why its canary (`rollout.canary`) stopped it."""

    @property
    def deleted(self) -> int:
        """Records deleted by this run."""
        return sum(r.deleted for r in self.results)

    @property
    def earlier(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "applied-earlier"]

    @property
    def deleted_earlier(self) -> int:
        """Records deleted by earlier runs of the same plan, as their journal says."""
        return sum(r.earlier.deleted for r in self.earlier if r.earlier is not None)

    @property
    def applied_earlier(self) -> bool:
        """Every action was finished by earlier runs: this run had nothing to do."""
        return bool(self.results) and len(self.earlier) == len(self.results)

    @property
    def gone(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "namespace-gone"]

    @property
    def pending(self) -> list[ActionResult]:
        return [r for r in self.results if r.verification == "pending"]

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "failed"]

    def summary(self) -> str:
        if self.applied_earlier:
            return self._earlier_summary()
        done = sum(1 for r in self.results if r.status == "done")
        verified = sum(1 for r in self.results if r.verification == "verified")
        seconds = (self.finished - self.started).total_seconds() if self.finished else 0.0
        text = (
            f"Applied: {self.deleted:,} record{_s(self.deleted)} deleted by {done:,} of "
            f"{len(self.results):,} action{_s(len(self.results))} in {seconds:.1f}s; "
            f"{verified:,} verified, {len(self.pending):,} pending"
        )
        if self.gone:
            text += "; " + _gone_clause(self.gone)
        if self.earlier:
            n, deleted = len(self.earlier), self.deleted_earlier
            text += (
                f"; earlier runs of this plan deleted {deleted:,} record{_s(deleted)} by "
                f"{n} action{_s(n)}"
            )
        outside = sum(1 for r in self.results if r.status == "outside-window")
        if outside:
            text += (
                f"; {outside} action{_s(outside)} not started: {'its' if outside == 1 else 'their'} "
                "policy is outside its windows"
            )
        closed = sum(1 for r in self.results if r.status == "window-closed")
        if closed:
            text += (
                f"; {closed} action{_s(closed)} stopped when {'its' if closed == 1 else 'their'} "
                "window closed: run the same apply in the next window"
            )
        if self.interrupted:
            text += "; INTERRUPTED: run the same apply again to finish"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text + "."

    def _earlier_summary(self) -> str:
        entries = [r.earlier for r in self.earlier if r.earlier is not None]
        times = [e.finished for e in entries if e.finished is not None]
        when = (
            f"finished at {format_time(max(times))}"
            if len(times) == len(entries)
            else "finished earlier"
        )
        deleted = self.deleted_earlier
        gone = sum(1 for e in entries if e.outcome == "namespace-gone")
        extra = f", {gone} namespace{_s(gone)} found gone" if gone else ""
        return (
            f"Applied earlier: this plan ({_short(self.plan_fingerprint)}) {when}, deleting "
            f"{deleted:,} record{_s(deleted)}{extra}; nothing to do."
        )

    def to_json(self) -> str:
        """The report file (`--report`, and the service's `NAME.report.json`)."""
        return json.dumps(self.to_document(), indent=2) + "\n"

    def to_document(self) -> dict[str, Any]:
        return {
            "apiVersion": "retention/v1",
            "kind": "ApplyReport",
            "plan": self.plan_fingerprint,
            "started": format_time(self.started),
            "finished": format_time(self.finished) if self.finished else None,
            "interrupted": self.interrupted,
            "appliedEarlier": self.applied_earlier,
            "deleted": self.deleted,
            "deletedEarlier": self.deleted_earlier,
            "ledgerRun": self.run,
            "ledgerError": self.ledger_error,
            "backups": [
                {
                    "index": b.index,
                    "backupId": b.backup_id,
                    "status": b.status,
                    "records": b.records,
                    "policies": list(b.policies),
                }
                for b in self.backups
            ],
            "canaries": [{"policy": k, "outcome": v} for k, v in sorted(self.canaries.items())],
            "actions": [_result_doc(r) for r in self.results],
        }


def _result_doc(r: ActionResult) -> dict[str, Any]:
    earlier = r.earlier
    return {
        "id": r.action.id,
        "kind": r.action.kind,
        "index": r.action.index,
        "namespace": r.action.namespace,
        "planned": r.action.records,
        "status": r.status,
        "deleted": r.deleted,
        "countedBy": r.counted_by,
        "verifiedRecords": r.deleted if r.verification == "verified" else None,
        "finished": format_time(r.finished) if r.finished else None,
        "requests": r.requests,
        "seconds": round(r.seconds, 3),
        "verification": r.verification,
        "remaining": r.remaining,
        "requestIds": r.request_ids,
        "lsn": r.lsn,
        "error": r.error,
        "earlier": (
            {
                "outcome": earlier.outcome,
                "deleted": earlier.deleted,
                "finished": format_time(earlier.finished) if earlier.finished else None,
            }
            if earlier is not None
            else None
        ),
    }


def _gone_clause(gone: list[ActionResult]) -> str:
    places = sorted({f"{r.action.index}/{r.action.namespace}" for r in gone})
    named = ", ".join(places[:MAX_NAMED])
    if len(places) > MAX_NAMED:
        named += f" and {len(places) - MAX_NAMED} more"
    n = len(gone)
    text = (
        f"{n} action{_s(n)} found {'its' if n == 1 else 'their'} namespace gone since planning "
        f"({named})"
    )
    return text + (": nothing deleted there" if not any(r.deleted for r in gone) else "")


def _short(fingerprint: str) -> str:
    return fingerprint[:19]


def _s(n: int) -> str:
    return "" if n == 1 else "s"
