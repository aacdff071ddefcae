"""The apply journal: which actions of a plan are finished, safe against `kill -9`.

Deletes are idempotent and every action's selection is fixed by the plan (absolute cutoffs,
pinned ID files), so re-running an interrupted apply cannot delete anything extra; the journal
only spares the work already done and lets the report say what happened: how many records each
finished action deleted, how it ended and when, so that running a finished plan again can say
"applied earlier" instead of repeating its figures as if they were new. It is rewritten
atomically (write, fsync, rename) after each action, so it is always either old or new.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from retention.errors import PlanError
from retention.planning.plan import format_time, parse_time

Outcome = Literal["done", "namespace-gone"]
OUTCOMES: tuple[Outcome, ...] = ("done", "namespace-gone")


@dataclass(frozen=True)
class Entry:
    """One finished action: what it deleted, how it ended and when."""

    deleted: int
    finished: datetime | None = None
    """None in journals written before finish times were recorded."""
    outcome: Outcome = "done"


class Journal:
    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.entries: dict[str, Entry] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
                if data.get("plan") == fingerprint:
                    self.entries = {
                        str(k): _entry(v) for k, v in dict(data.get("done", {})).items()
                    }
            except (OSError, KeyError, ValueError, TypeError, AttributeError, PlanError) as exc:
                raise PlanError(f"cannot read the apply journal {path}: {exc}") from None

    @property
    def done(self) -> dict[str, int]:
        """Records deleted by each finished action."""
        return {k: e.deleted for k, e in self.entries.items()}

    def is_done(self, action_id: str) -> bool:
        return action_id in self.entries

    def entry(self, action_id: str) -> Entry:
        return self.entries[action_id]

    def mark_done(
        self,
        action_id: str,
        deleted: int,
        *,
        finished: datetime | None = None,
        outcome: Outcome = "done",
    ) -> None:
        self.entries[action_id] = Entry(deleted, finished, outcome)
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        document = {
            "plan": self.fingerprint,
            "done": {
                k: {
                    "deleted": e.deleted,
                    "finished": format_time(e.finished) if e.finished else None,
                    "outcome": e.outcome,
                }
                for k, e in self.entries.items()
            },
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _entry(raw: Any) -> Entry:
    """An entry as written now (an object), or by earlier releases (the deleted count)."""
    if isinstance(raw, bool):
        raise ValueError(f"not a journal entry: {raw!r}")
    if isinstance(raw, int):
        return Entry(raw)
    if not isinstance(raw, dict):
        raise ValueError(f"not a journal entry: {raw!r}")
    deleted = raw["deleted"]
    if isinstance(deleted, bool) or not isinstance(deleted, int):
        raise ValueError(f"not a record count: {deleted!r}")
    finished = raw.get("finished")
    outcome = raw.get("outcome", "done")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    return Entry(
        deleted,
        parse_time(finished) if isinstance(finished, str) else None,
        outcome,
    )
