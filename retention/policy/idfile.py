"""Reading a policy's ID file: one ID per line, taken verbatim, blank lines skipped.

The planner counts from it and the apply deletes from it, so both read it through this one
function and can never disagree about what the file lists.
"""

from __future__ import annotations

from collections.abc import Iterator

BATCH = 1000


def id_batches(path: str, size: int = BATCH) -> Iterator[list[str]]:
    """The file's IDs in batches of at most `size`, streamed (files may hold millions)."""
    batch: list[str] = []
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\n").removesuffix(b"\r")
            if not line:
                continue
            batch.append(line.decode("ascii"))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch
