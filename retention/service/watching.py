"""Notice when the policies change on disk.

A Kubernetes ConfigMap volume is updated by swapping a `..data` symlink to a new hidden
directory, so file events on the old paths never fire. Instead the directory is polled: a
digest of every file's content below the policy paths (following links, skipping hidden names
as the loader does) changes exactly when what the loader would read changes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path


def content_digest(paths: Sequence[str | Path]) -> str:
    digest = hashlib.sha256()
    for raw in paths:
        root = Path(raw)
        files = [root] if root.is_file() else sorted(_files(root))
        for path in files:
            digest.update(str(path.relative_to(root) if path != root else path.name).encode())
            try:
                digest.update(path.read_bytes())
            except OSError as exc:  # a file vanishing mid-swap: the next poll settles it
                digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, subdirs, names in os.walk(root, followlinks=True):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found.extend(Path(directory) / n for n in names if not n.startswith("."))
    return found
