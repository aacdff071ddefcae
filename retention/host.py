"""What the commands take from the machine they run on: files, the wall clock, the terminal.

Kept in one place so that each is done one way: a file the tool writes (a plan, a report, the
apply journal, the service's state) is replaced atomically and fsynced, never a link or a
device; "now" is UTC to the second, as plans record it; colour is used only on a terminal and
never under NO_COLOR (https://no-color.org). The pure core (filters, policies, the planner and
its renderers) imports none of it: it is given `now` and a colour flag.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO


def utc_now() -> datetime:
    """The time now, in UTC, to the second (what plans record and policies are judged at)."""
    return datetime.now(UTC).replace(microsecond=0)


def wants_color(stream: TextIO) -> bool:
    """Whether text for `stream` may be coloured: a terminal, and NO_COLOR not set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotWritable(Exception):
    """A file that cannot be written; `reason` completes "cannot write PATH: ...": "it is a
    named pipe (FIFO), not a regular file"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def replace_atomically(path: Path, data: bytes | None) -> None:
    """Put `data` at `path` through a temporary file beside it, fsynced and renamed over it, so
    the file is always either old or new, never partly written; with None, only make sure that
    this would work (the temporary file is created and removed). NotWritable says why not, and
    nothing is left behind.

    Only a regular file at `path` is ever replaced: a symbolic link, a FIFO, a device or a
    directory there is refused, checked before writing and again just before the rename. The
    temporary file is always created anew, never opened when something is already there (that
    could be a FIFO, a link, or a hard link to another file); one left by an earlier run that
    was killed is removed first."""
    tmp = path.with_name(f".{path.name}.tmp")
    created = False
    try:
        _check_target(path)
        fd = _create(tmp)
        created = True
        try:
            view = memoryview(data or b"")
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if data is None:
            created = False
            os.unlink(tmp)
            return
        _check_target(path)
        os.replace(tmp, path)
        created = False
    except OSError as exc:
        raise NotWritable(os_reason(exc, path)) from None
    finally:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _check_target(path: Path) -> None:
    """Refuse to replace anything at `path` but a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        if _is_sqlite(path):
            raise NotWritable(
                "it is a SQLite database (an erasure ledger?), which no output of this tool "
                "replaces; name another file"
            )
        return
    if stat.S_ISLNK(mode):
        raise NotWritable("it is a symbolic link; name the file itself")
    if stat.S_ISDIR(mode):
        raise NotWritable("it is a directory; name a file in it")
    kind = kind_of(mode)
    raise NotWritable(
        f"it is {kind}, not a regular file" if kind.startswith("a ") else "it is not a regular file"
    )


SQLITE_HEADER = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    """Whether the regular file at `path` begins as a SQLite database does (read without
    blocking: it is a regular file)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _create(tmp: Path) -> int:
    """A new, empty `tmp` opened for writing; a leftover regular file of ours is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(tmp, flags, 0o666)
    except FileExistsError:
        pass
    try:
        info = os.lstat(tmp)
    except FileNotFoundError:
        info = None
    ours = info is None or (
        stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == os.geteuid()
    )
    if ours:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        with contextlib.suppress(FileExistsError):
            return os.open(tmp, flags, 0o666)
    raise NotWritable(f"{tmp}, its temporary file, is in the way; remove it")


def os_reason(exc: OSError, path: Path) -> str:
    """Why `path` could not be read or written, in words that name what to fix."""
    if exc.errno == errno.ENOENT and not os.path.isdir(path.parent):
        return f"the directory {path.parent} does not exist"
    if exc.errno == errno.ENOTDIR:
        return f"{path.parent} is not a directory"
    if exc.errno == errno.EISDIR:
        return "it is a directory; name a file in it"
    return (exc.strerror or type(exc).__name__).lower()


STATE_DIR_VARIABLE = "RETENTION_STATE_DIR"


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the ledger (and the service's state) lives when no option says: RETENTION_STATE_DIR,
    else $XDG_STATE_HOME/retention, else ~/.local/state/retention."""
    env = os.environ if environ is None else environ
    if env.get(STATE_DIR_VARIABLE):
        return Path(env[STATE_DIR_VARIABLE])
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "retention"


def actor(environ: Mapping[str, str] | None = None) -> str:
    """Who runs this apply, for the ledger: the CI run when the environment names one (GitHub
    Actions, GitLab CI, Buildkite, Jenkins, a generic CI_RUN_ID), else the Kubernetes pod
    (POD_NAME from the downward API, or HOSTNAME inside a pod), else user@host."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        url = f"{server}/{env.get('GITHUB_REPOSITORY', '?')}/actions/runs/{env['GITHUB_RUN_ID']}"
        return f"github-actions:{url}" + (f"/attempts/{attempt}" if attempt else "")
    if env.get("GITLAB_CI") and env.get("CI_JOB_URL"):
        return f"gitlab-ci:{env['CI_JOB_URL']}"
    if env.get("BUILDKITE_BUILD_URL"):
        return f"buildkite:{env['BUILDKITE_BUILD_URL']}"
    if env.get("BUILD_URL") and env.get("JENKINS_URL"):
        return f"jenkins:{env['BUILD_URL']}"
    if env.get("CI_RUN_ID"):
        return f"ci:{env['CI_RUN_ID']}"
    if env.get("POD_NAME"):
        namespace = env.get("POD_NAMESPACE")
        return f"pod:{namespace}/{env['POD_NAME']}" if namespace else f"pod:{env['POD_NAME']}"
    if env.get("KUBERNETES_SERVICE_HOST") and env.get("HOSTNAME"):
        return f"pod:{env['HOSTNAME']}"
    user = env.get("USER") or env.get("LOGNAME") or "unknown"
    return f"user:{user}@{socket.gethostname()}"


RUN_LOCK = "run.lock"


def hold_run_lock(path: Path, what: str) -> int:
    """Hold the lock file `path` for this process's life (an exclusive flock); its descriptor.

    Two `retention run` processes on one state directory or one ledger (a Deployment scaled to
    2 on one volume, a second copy started by hand) would plan and delete the same records at
    the same time and write one ledger. The second is refused, naming the first and `what` it
    shares; the kernel releases the lock when the holder exits, however it exits.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise LockHeld(
                f"{path} is held by {holder}: another retention run uses this {what}. Two "
                "unsharded reconcilers delete the same records twice: run one, or shard them "
                "(--shard), each with its own state directory and ledger"
            ) from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


class LockHeld(Exception):
    """A run lock is held by another process."""
