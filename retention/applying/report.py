"""What an apply did, action by action: the `--report` file and the final summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from retention.planning.plan import Action, format_time

Status = Literal["done", "skipped", "interrupted", "failed"]
Verification = Literal["verified", "pending", "not-checked"]

MAX_REQUEST_IDS = 50


@dataclass
class ActionResult:
    action: Action
    status: Status = "skipped"
    deleted: int = 0
    requests: int = 0
    seconds: float = 0.0
    verification: Verification = "not-checked"
    remaining: int | None = None
    request_ids: list[str] = field(default_factory=list)
    lsn: int | None = None
    error: str | None = None

    def note_request(self, request_id: str | None) -> None:
        self.requests += 1
        if request_id and len(self.request_ids) < MAX_REQUEST_IDS:
            self.request_ids.append(request_id)


@dataclass
class Report:
    plan_fingerprint: str
    started: datetime
    finished: datetime | None = None
    results: list[ActionResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.results)

    @property
    def pending(self) -> list[ActionResult]:
        return [r for r in self.results if r.verification == "pending"]

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if r.status == "failed"]

    def summary(self) -> str:
        done = sum(1 for r in self.results if r.status == "done")
        verified = sum(1 for r in self.results if r.verification == "verified")
        seconds = (self.finished - self.started).total_seconds() if self.finished else 0.0
        text = (
            f"Applied: {self.deleted:,} records deleted by {done} of {len(self.results)} "
            f"action{'s' if len(self.results) != 1 else ''} in {seconds:.1f}s; "
            f"{verified} verified, {len(self.pending)} pending"
        )
        if self.interrupted:
            text += "; INTERRUPTED: run the same apply again to finish"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text + "."

    def to_document(self) -> dict[str, Any]:
        return {
            "apiVersion": "retention/v1",
            "kind": "ApplyReport",
            "plan": self.plan_fingerprint,
            "started": format_time(self.started),
            "finished": format_time(self.finished) if self.finished else None,
            "interrupted": self.interrupted,
            "deleted": self.deleted,
            "actions": [
                {
                    "id": r.action.id,
                    "kind": r.action.kind,
                    "planned": r.action.records,
                    "status": r.status,
                    "deleted": r.deleted,
                    "requests": r.requests,
                    "seconds": round(r.seconds, 3),
                    "verification": r.verification,
                    "remaining": r.remaining,
                    "requestIds": r.request_ids,
                    "lsn": r.lsn,
                    "error": r.error,
                }
                for r in self.results
            ],
        }
