"""The apply journal: which actions of a plan are finished, safe against `kill -9`.

Deletes are idempotent and every action's selection is fixed by the plan (absolute cutoffs,
pinned ID files), so re-running an interrupted apply cannot delete anything extra; the journal
only spares the work already done and lets the report say what happened. It is rewritten
atomically (write, fsync, rename) after each action, so it is always either old or new.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from retention.errors import PlanError


class Journal:
    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.done: dict[str, int] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise PlanError(f"cannot read the apply journal {path}: {exc}") from None
            if data.get("plan") == fingerprint:
                self.done = {str(k): int(v) for k, v in data.get("done", {}).items()}

    def is_done(self, action_id: str) -> bool:
        return action_id in self.done

    def mark_done(self, action_id: str, deleted: int) -> None:
        self.done[action_id] = deleted
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w") as handle:
            json.dump({"plan": self.fingerprint, "done": self.done}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
