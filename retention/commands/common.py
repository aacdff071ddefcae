"""What several commands share: defaults, output files written atomically, words for counts.

Light on purpose: `retention validate` imports it and must start without the HTTP stack
(`commands.connecting` holds the client)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from retention.errors import RetentionError
from retention.host import NotWritable, replace_atomically

DEFAULT_POLICY_PATH = "policies/"
DEFAULT_RETRY_FOR = 30.0
"""Seconds a failing request is retried for (`RetryPolicy.outage`)."""


def terminal(stream: TextIO) -> TextIO | None:
    """`stream` when a person watches it (progress lines are drawn there), else None."""
    return stream if stream.isatty() else None


def write_output(path: str, text: str) -> None:
    """Write `text` through a temporary file, fsynced and renamed over `path`: an output file
    is whole or absent. A place that cannot take it is one line naming it."""
    _replace(path, text)


def check_writable(path: str | None) -> None:
    """Refuse, before any work, an output the result could not be written to (an apply must
    not delete and then fail to report it), or that is something other than a regular file,
    which writing would replace (a symbolic link, a FIFO, /dev/null)."""
    if path is not None:
        _replace(path, None)


def _replace(path: str, text: str | None) -> None:
    try:
        replace_atomically(Path(path), None if text is None else text.encode())
    except NotWritable as exc:
        raise RetentionError(f"cannot write {path}: {exc.reason}") from None


def same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def refuse_outputs_among(
    inputs: Sequence[str], outputs: Sequence[tuple[str, str | None]], what: str
) -> None:
    """An output option (name, value) must not name one of `inputs`, which the command reads."""
    real = {os.path.realpath(p) for p in inputs}
    for option, value in outputs:
        if value is not None and os.path.realpath(value) in real:
            raise RetentionError(f"{option} {value} is {what}; name another file")


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`: a count with its noun."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def say_error(text: str) -> None:
    print(f"retention: error: {text}", file=sys.stderr)
