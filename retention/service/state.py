"""What the service keeps between restarts in its state directory, beside the ledger: when each
policy last reconciled successfully (`last-success.json`), so that an interval schedule's first
firing after a restart comes when the policy is due, not one whole interval after start-up."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from retention.host import NotWritable, replace_atomically
from retention.planning.plan import format_time
from retention.policy.durations import parse_moment

LAST_SUCCESS_FILE = "last-success.json"
MAX_BYTES = 4 << 20


def read_last_success(state_dir: Path | None) -> tuple[dict[str, datetime], str | None]:
    """Each policy's last successful reconcile, and why none could be read (a problem is a
    warning, not a reason to stop: the policies then fire within their jitter of start-up)."""
    if state_dir is None:
        return {}, None
    path = state_dir / LAST_SUCCESS_FILE
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return {}, f"{path} is not a regular file of at most {MAX_BYTES:,} bytes"
        data = json.loads(path.read_bytes())
        times = data["policies"]
        return {str(k): parse_moment(str(v)) for k, v in dict(times).items()}, None
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return {}, f"cannot read {path}: {exc}"
    except RecursionError:
        return {}, f"cannot read {path}: it nests too deeply"


def write_last_success(state_dir: Path, times: Mapping[str, datetime]) -> str | None:
    """Save the times; why not, when they cannot be saved."""
    document = {"policies": {k: format_time(v) for k, v in sorted(times.items())}}
    try:
        replace_atomically(state_dir / LAST_SUCCESS_FILE, json.dumps(document).encode())
    except NotWritable as exc:
        return exc.reason
    return None
