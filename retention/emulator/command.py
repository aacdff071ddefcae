"""`retention emulator`: the Pinecone-compatible server in the foreground.

The CLI wires `add_arguments` and `run` into its sub-command; `python -m retention.emulator`
uses them directly. The server runs until SIGINT or SIGTERM and then exits 0 after writing
pending changes to `--data`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from retention.emulator.config import DEFAULT_FAULT_STATUSES, DEFAULT_PORT, EmulatorConfig
from retention.emulator.server import Emulator
from retention.limits import PUBLISHED, override


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (5080; 0: any)")
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep records in DIR (SQLite)")
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        type=_index_spec,
        metavar="NAME[:DIM]",
        help="create this index at start (dimension 8 unless given); repeatable",
    )
    parser.add_argument("--api-key", metavar="KEY", help="require this Api-Key header (else 401)")
    parser.add_argument(
        "--limits",
        choices=("pinecone", "off"),
        default="pinecone",
        help="enforce Pinecone's published per-second limits (default) or none",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        type=_limit_setting,
        metavar="NAME=VALUE",
        help="override one limit, e.g. delete_records_per_s=20000; repeatable",
    )
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After on 429")
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, metavar="F", help="fail this fraction of requests"
    )
    parser.add_argument(
        "--fault-status",
        type=_statuses,
        default=DEFAULT_FAULT_STATUSES,
        metavar="429,500,503",
        help="statuses injected faults use",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="MS")
    parser.add_argument(
        "--lag-ms", type=float, default=0.0, metavar="MS", help="writes become visible after MS"
    )
    parser.add_argument("--seed", type=int, help="seed for reproducible faults")


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        indexes=tuple(args.index),
        api_key=args.api_key,
        limits=args.limits,
        limit_overrides=dict(args.limit),
        retry_after=args.retry_after,
        fault_rate=args.fault_rate,
        fault_statuses=tuple(args.fault_status),
        latency_ms=args.latency_ms,
        lag_ms=args.lag_ms,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return 0 after a clean stop."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Emulator.start(config_from(args)) as emulator:
            print(f"retention emulator: control plane on {emulator.controller_url}", flush=True)
            for name, _ in args.index:
                print(
                    f"retention emulator: index {name} on {emulator.index_host(name)}", flush=True
                )
            stop.wait()
        print("retention emulator: stopped", file=sys.stderr, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="retention emulator", description="A Pinecone-compatible server for tests and demos."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _index_spec(text: str) -> tuple[str, int]:
    name, _, dim = text.partition(":")
    try:
        dimension = int(dim) if dim else 8
    except ValueError:
        raise argparse.ArgumentTypeError(f"dimension must be an integer, got: {dim}") from None
    if not name or dimension < 1:
        raise argparse.ArgumentTypeError(f"expected NAME[:DIM] with DIM >= 1, got: {text}")
    return name, dimension


def _limit_setting(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not sep or not name or number <= 0:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with VALUE > 0, got: {text}")
    try:
        override(PUBLISHED, {name: number})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, number


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected statuses like 429,503, got: {text}") from None
