"""Reading a policy's ID file: one ID per line, taken verbatim, blank lines skipped.

The planner counts from it and the apply deletes from it, so both read it through this one
module and can never disagree about what the file lists.

An ID file is named by a policy that may be careless or hostile, and erasure lists may hold
millions of IDs, so reading is bounded: only a regular file is opened (a FIFO would block
forever, `/dev/zero` never ends), the open never blocks even if the file was swapped for a FIFO
after the check, the file is at most MAX_BYTES, and no line is held in memory beyond a few
hundred bytes however long it is. Policy files are opened the same way (`open_regular`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from retention.errors import PlanError
from retention.host import kind_of
from retention.identifiers import MAX_ID_LENGTH, MAX_IDS_PER_REQUEST

MAX_BYTES = 1 << 30
"""An ID file is at most 1 GiB: some two million IDs of 512 characters, far more if shorter."""

_KEEP = MAX_ID_LENGTH + 2  # an ID of the longest length, with its CR LF
_CHUNK = 1 << 16


class NotReadable(Exception):
    """A file that must not be read; `reason` completes "this file ...": "is a named pipe
    (FIFO), not a regular file"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def size_text(limit: int) -> str:
    """`1 GiB (1,073,741,824 bytes)`."""
    for unit, power in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if limit >= 1 << power and limit % (1 << power) == 0:
            return f"{limit >> power} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def open_regular(path: str, max_bytes: int, what: str) -> BinaryIO:
    """`path` opened for reading, if it is a regular file of at most `max_bytes`: NotReadable
    when it is not, OSError when it cannot be opened. Never blocks: the type is checked before
    opening, and the open itself is non-blocking in case the file was replaced by a FIFO in
    between. `what` names the kind of file in the size message ("ID files")."""
    before = os.stat(path)
    _check(before, max_bytes, what)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        now = os.fstat(fd)
        _check(now, max_bytes, what)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise NotReadable("was replaced while being opened")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check(info: os.stat_result, max_bytes: int, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise NotReadable(f"is {kind_of(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
        raise NotReadable(f"has {info.st_size:,} bytes; {what} are at most {size_text(max_bytes)}")


class Line(NamedTuple):
    """One line of an ID file: its number from 1, its first bytes without the line end
    (enough to judge an ID; `length` says how long it really is)."""

    number: int
    head: bytes
    length: int


def lines(handle: BinaryIO, digest: hashlib._Hash | None = None) -> Iterator[Line]:
    """Every line of the file, each held to a few hundred bytes however long it is, with the
    file's bytes fed to `digest` as they pass; NotReadable once more than MAX_BYTES were read
    (a file that grew after it was checked). A line ends at LF; one CR before it, or at the
    end of the file, is not part of the line."""
    total = 0
    number = 0
    while True:
        raw = handle.readline(_KEEP)
        if not raw:
            return
        number += 1
        length = len(raw)
        tail = raw[-2:]
        if digest is not None:
            digest.update(raw)
        while not tail.endswith(b"\n"):  # longer than any ID: count the rest, keep none of it
            more = handle.readline(_CHUNK)
            if not more:
                break
            if digest is not None:
                digest.update(more)
            length += len(more)
            tail = (tail + more)[-2:]
            if total + length > MAX_BYTES:
                break
        total += length
        if total > MAX_BYTES:
            raise NotReadable(f"grew past {size_text(MAX_BYTES)} while being read")
        if tail.endswith(b"\n"):
            length -= 1
            tail = tail[:-1]
        if tail.endswith(b"\r"):
            length -= 1
        yield Line(number, raw[:length], length)


def id_batches(path: str, size: int = MAX_IDS_PER_REQUEST) -> Iterator[list[str]]:
    """The file's IDs in batches of at most `size`, streamed (files may hold millions).

    The file was checked when the policies were loaded; a file that has become unreadable or
    invalid since is a PlanError naming the file and line, never quoting it."""
    try:
        with open_regular(path, MAX_BYTES, "ID files") as handle:
            yield from id_batches_of(handle, path, size)
    except NotReadable as exc:
        raise PlanError(f"ID file {path} {exc.reason}") from None
    except OSError as exc:
        raise PlanError(f"ID file {path} cannot be read: {exc.strerror}") from None


def id_batches_of(
    handle: BinaryIO, path: str, size: int = MAX_IDS_PER_REQUEST
) -> Iterator[list[str]]:
    """The IDs read from an open ID file (named `path` in errors), in batches of `size`."""
    batch: list[str] = []
    for line in lines(handle):
        if not line.length:
            continue
        if line.length > MAX_ID_LENGTH or not line.head.isascii():
            raise PlanError(
                f"ID file {path} line {line.number} is not a valid record ID; "
                "run retention validate"
            )
        batch.append(line.head.decode("ascii"))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
