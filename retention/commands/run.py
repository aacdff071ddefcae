"""`retention run`: the reconciler pod. Each policy on its schedule, the policy directory
reloaded when it changes, health and metrics over HTTP."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retention import eventloop, logs
from retention.applying.ledger import LEDGER_FILE, Ledger, ledger_path
from retention.commands.common import DEFAULT_RETRY_FOR
from retention.commands.connecting import client_from_env, retry_policy
from retention.errors import RetentionError
from retention.host import RUN_LOCK, LockHeld, default_state_dir, hold_run_lock, os_reason
from retention.pinecone.client import POOL
from retention.pinecone.transport import Lanes
from retention.service.metrics import Metrics
from retention.service.running import Service, ServiceSettings
from retention.service.sharding import parse_shard


@dataclass(frozen=True)
class RunRequest:
    """The options of `retention run`, as the command line gave them."""

    paths: Sequence[str]
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    observe: bool = False
    retry_for: float = DEFAULT_RETRY_FOR
    reload_interval: float = 5.0
    grace: float = 50.0
    state_dir: str | None = None
    ledger: str | None = None
    trend_runs: int = 7
    shard: str | None = None
    """`--shard I/N` or `auto`; None reconciles every index."""

    def check(self) -> None:
        """Refuse, at start, what would otherwise surface later or never (a port out of range
        used to mean no health server at all)."""
        if not 0 <= self.http_port <= 65535:
            raise RetentionError(f"--http-port must be between 0 and 65535, got: {self.http_port}")
        if not self.http_host.strip():
            raise RetentionError("--http-host is empty; 0.0.0.0 listens on every interface")
        if not (math.isfinite(self.reload_interval) and self.reload_interval > 0):
            raise RetentionError(
                "--reload-interval must be a positive number of seconds, got: "
                f"{self.reload_interval:g}"
            )
        if not 1 <= self.trend_runs <= 1000:
            raise RetentionError(f"--trend-runs must be between 1 and 1000, got: {self.trend_runs}")
        if not (math.isfinite(self.grace) and self.grace >= 0):
            raise RetentionError(
                f"--grace must be a non-negative number of seconds, got: {self.grace:g}"
            )


def run(request: RunRequest) -> int:
    """Serve until SIGTERM; the exit code of the service."""
    request.check()
    shard = parse_shard(request.shard, os.environ)
    retry = retry_policy(request.retry_for)
    state = state_dir(str(request.state_dir or default_state_dir()))
    path = ledger_path(request.ledger, state)
    in_state = Path(os.path.realpath(path)).parent == Path(os.path.realpath(state))
    if in_state and path.name != LEDGER_FILE:
        raise RetentionError(
            f"--ledger {path} is in the state directory, whose files the service rewrites; "
            f"name it {LEDGER_FILE} there, or put it elsewhere"
        )
    locks = [_lock(state / RUN_LOCK, "state directory")]
    if not in_state:
        locks.append(_lock(path.with_name(path.name + "." + RUN_LOCK), "ledger"))
    ledger = Ledger.open(path)
    logs.configure()
    log = logs.get_logger(command="run")
    settings = ServiceSettings(
        paths=tuple(request.paths),
        http_host=request.http_host,
        http_port=request.http_port,
        reload_interval=request.reload_interval,
        observe=request.observe,
        grace=request.grace,
        state_dir=state,
        trend_runs=request.trend_runs,
        shard=shard,
    )
    metrics = Metrics()

    async def serve() -> int:
        transport = metrics.transport(Lanes(keepalive_expiry=POOL.keepalive_expiry))
        async with client_from_env(transport=transport, log=log, retry=retry) as client:
            service = Service(settings, client=client, metrics=metrics, log=log, ledger=ledger)
            return await service.run()

    try:
        return eventloop.run(serve())
    finally:
        ledger.close()
        for fd in locks:
            os.close(fd)


def _lock(path: Path, what: str) -> int:
    """This run's hold on `path` (see `host.hold_run_lock`); one line when it cannot."""
    try:
        return hold_run_lock(path, what)
    except LockHeld as exc:
        raise RetentionError(str(exc)) from None
    except OSError as exc:
        raise RetentionError(f"cannot lock {path}: {os_reason(exc, path)}") from None


def state_dir(value: str) -> Path:
    """The state directory, created if needed; one line when it cannot hold files."""
    path = Path(value)
    if os.path.exists(path) and not os.path.isdir(path):
        raise RetentionError(f"--state-dir {value} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise RetentionError(f"--state-dir {value}: cannot create it: {reason}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RetentionError(f"--state-dir {value} is not writable")
    return path
