"""The apply journal: which actions of a plan are finished, safe against `kill -9`.

Deletes are idempotent and every action's selection is fixed by the plan (absolute cutoffs,
pinned ID files), so re-running an interrupted apply cannot delete anything extra; the journal
only spares the work already done and lets the report say what happened: how many records each
finished action deleted, how it ended and when, so that running a finished plan again can say
"applied earlier" instead of repeating its figures as if they were new. It is rewritten
atomically (write, fsync, rename) as actions finish, at most a few times a second, so it is
always either old or new.

The journal's path comes from the command line, so it is read and written with care: only a
regular file of at most MAX_JOURNAL_BYTES is read, and never with an open that can block (a
FIFO there would hang the apply, `/dev/zero` would never end). It is written with
`retention.host.replace_atomically`, as plan files, apply reports and the service's state are,
which refuses to put a regular file in place of anything else (a symbolic link, a FIFO, a
device such as `/dev/null`): a rename would silently swap it for a file.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from retention.errors import PlanError
from retention.host import NotWritable, os_reason, replace_atomically
from retention.planning.plan import format_time, parse_time
from retention.policy.idfile import NotReadable, open_regular, size_text

MAX_JOURNAL_BYTES = 64 << 20
"""An apply journal is at most 64 MiB: some hundred bytes per finished action, so room for
about half a million of them."""

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
        """The journal at `path` (None: keep none), with the entries it holds for the plan of
        `fingerprint`; a PlanError when it cannot be read, or could not be written once the
        first action is finished (so that no apply deletes and then fails to record it)."""
        self.path = path
        self.fingerprint = fingerprint
        self.entries: dict[str, Entry] = {}
        if path is None:
            return
        data = _read(path)
        if data is not None and data.get("plan") == fingerprint:
            try:
                self.entries = {str(k): _entry(v) for k, v in dict(data.get("done", {})).items()}
            except (KeyError, ValueError, TypeError, AttributeError, PlanError) as exc:
                raise PlanError(f"cannot read the apply journal {path}: {exc}") from None
        self._write(None)

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
        save: bool = True,
    ) -> None:
        """Record a finished action; `save=False` leaves the write to a later `save()` (an
        apply of ten thousand actions writes its journal a few times a second, not ten
        thousand times: an action finished since the last write is only done again, and
        deletes are idempotent)."""
        self.entries[action_id] = Entry(deleted, finished, outcome)
        if save:
            self.save()

    def save(self) -> None:
        """Write the journal now (atomically, fsynced)."""
        self._save()

    def _save(self) -> None:
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
        self._write(json.dumps(document).encode())

    def _write(self, data: bytes | None) -> None:
        if self.path is None:
            return
        try:
            replace_atomically(self.path, data)
        except NotWritable as exc:
            raise PlanError(f"cannot write the apply journal {self.path}: {exc.reason}") from None


def _read(path: Path) -> dict[str, Any] | None:
    """The journal's document, or None when there is no journal yet."""

    def refuse(reason: str) -> NoReturn:
        raise PlanError(f"cannot read the apply journal {path}: {reason}")

    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            refuse("it is a symbolic link; name the file itself")
        with open_regular(str(path), MAX_JOURNAL_BYTES, "apply journals") as handle:
            raw = handle.read(MAX_JOURNAL_BYTES + 1)
    except FileNotFoundError:
        return None
    except NotReadable as exc:
        refuse(f"it {exc.reason}")
    except OSError as exc:
        refuse(os_reason(exc, path))
    if len(raw) > MAX_JOURNAL_BYTES:
        refuse(f"it grew past {size_text(MAX_JOURNAL_BYTES)} while being read")
    try:
        data = json.loads(raw)
    except RecursionError:
        refuse("it nests too deeply to be an apply journal")
    except ValueError as exc:  # not JSON, or not UTF-8
        refuse(str(exc))
    if not isinstance(data, dict):
        refuse("it is not an apply journal (a JSON object)")
    return data


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
