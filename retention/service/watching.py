"""Notice when the policies change on disk.

A Kubernetes ConfigMap volume is updated by swapping a `..data` symlink to a new hidden
directory, so file events on the old paths never fire. Instead the directory is polled: a
digest of what every file below the policy paths is (its name, type, size, modification time
and inode, through links, skipping hidden names, each real directory once, as the loader
walks) changes whenever what the loader would read changes. Nothing is read or opened, so a
poll costs a few `stat` calls however large the ID files are, and a FIFO or a symlink loop
below the paths cannot block or hang it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from retention.policy.loading import visible_files


def content_digest(paths: Sequence[str | Path]) -> str:
    digest = hashlib.sha256()
    for raw in paths:
        root = Path(raw)
        files = [str(root)] if not root.is_dir() else sorted(visible_files(root))
        for path in files:
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            digest.update(_signature(path).encode() + b"\0")
    return digest.hexdigest()


def _signature(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError as exc:  # a file vanishing mid-swap: the next poll settles it
        return f"unreadable:{exc.errno}"
    kind = "file" if stat.S_ISREG(info.st_mode) else f"other:{stat.S_IFMT(info.st_mode)}"
    return f"{kind}:{info.st_size}:{info.st_mtime_ns}:{info.st_dev}:{info.st_ino}"
