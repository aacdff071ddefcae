"""`retention emulator`: the Pinecone-compatible server in the foreground.

The CLI wires `add_arguments` and `run` into its sub-command; `python -m retention.emulator`
uses them directly. The server runs until SIGINT or SIGTERM and then exits 0 after writing
pending changes to `--data`. Arguments that cannot work (a port out of range or in use, a fault
rate above 1, `--data` on a file) are one line and exit 1 before anything is served.
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from retention.emulator.config import (
    DEFAULT_FAULT_STATUSES,
    DEFAULT_PORT,
    DOCUMENTS_ON_VECTOR_STATUSES,
    MISSING_NAMESPACE_MODES,
    EmulatorConfig,
)
from retention.emulator.filtering import Readings
from retention.emulator.model import BACKUP_OUTCOMES
from retention.emulator.server import Emulator
from retention.errors import RetentionError
from retention.quotas import PUBLISHED, override

INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
"""Pinecone's rule for index names, as the control plane checks it on create."""


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
    _backup_arguments(parser)
    _corner_arguments(parser)
    _document_arguments(parser)


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    backups = parser.add_argument_group("backups")
    backups.add_argument(
        "--backup-min-age",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="a backup holds only records at least this old (900: Pinecone's 15 minutes)",
    )
    backups.add_argument(
        "--backup-outcome",
        choices=BACKUP_OUTCOMES,
        default="Ready",
        help="what a backup becomes after Initializing (Ready; InitializationFailed to test)",
    )


def _corner_arguments(parser: argparse.ArgumentParser) -> None:
    corners = parser.add_argument_group(
        "undocumented corners",
        "How filters behave where Pinecone does not document it: flip these to check that a "
        "policy's protections hold under every reading.",
    )
    corners.add_argument(
        "--ne-on-missing",
        choices=("no-match", "match"),
        default="no-match",
        help="does $ne match a record that lacks the field? (no-match, as observed since 2024)",
    )
    corners.add_argument(
        "--nin-on-missing",
        choices=("match", "no-match"),
        default="match",
        help="does $nin match a record that lacks the field? (match)",
    )
    corners.add_argument(
        "--list-negation",
        choices=("none_equal", "any_differs"),
        default="none_equal",
        help="$ne/$nin on a list field: no element equals, or some element differs (none_equal)",
    )
    corners.add_argument(
        "--lsn-headers",
        choices=("reads", "query", "none"),
        default="reads",
        help=(
            "which reads carry x-pinecone-max-indexed-lsn: every read, queries only (what "
            "Pinecone documents), or none (reads)"
        ),
    )
    corners.add_argument(
        "--missing-namespace",
        choices=MISSING_NAMESPACE_MODES,
        default="empty",
        help=(
            "reads and deletes in a namespace without records: empty success (empty); 404 "
            "for deletes, fetches and queries in one never created, success in one emptied, "
            "as the official SDK's suite expects (never_created); 404 in both (not_found)"
        ),
    )
    corners.add_argument(
        "--version-gates",
        choices=("on", "off"),
        default="on",
        help=(
            "answer features newer than the request's X-Pinecone-Api-Version as that version "
            "would, e.g. fetch_by_metadata before 2025-10 is 404 (on); off serves them all"
        ),
    )


def _document_arguments(parser: argparse.ArgumentParser) -> None:
    documents = parser.add_argument_group(
        "documents API (2026-07)", "Corners of document indexes that no source settles."
    )
    documents.add_argument(
        "--old-version-documents",
        choices=("describe", "hide"),
        default="describe",
        help="how API versions before 2026-07 see a document index (describe)",
    )
    documents.add_argument(
        "--wrong-plane-body",
        choices=("rpc", "error"),
        default="rpc",
        help="body of the 400 refusing the vectors API on a document index (rpc)",
    )
    documents.add_argument(
        "--documents-on-vector-status",
        type=int,
        choices=DOCUMENTS_ON_VECTOR_STATUSES,
        default=400,
        help="status refusing the documents API on a vector index (400)",
    )
    documents.add_argument(
        "--text-match-in-fetch",
        choices=("allow", "refuse"),
        default="allow",
        help="does a filtered fetch take $match_* operators? (allow)",
    )
    documents.add_argument(
        "--documents-edge-errors",
        choices=("text", "json"),
        default="text",
        help="401 and 429 on documents routes: plain text (text) or JSON",
    )
    documents.add_argument(
        "--matched-records",
        choices=("counted", "omitted"),
        default="counted",
        help="does a filtered delete answer matched_records, or {} (counted)",
    )
    documents.add_argument(
        "--documents-request-id",
        choices=("off", "on"),
        default="off",
        help="send x-pinecone-request-id on documents responses (off)",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, naming the option, what would otherwise fail later or serve nonsense."""
    if not 0 <= args.port <= 65535:
        raise RetentionError(f"--port must be between 0 and 65535, got: {args.port}")
    if not args.host.strip():
        raise RetentionError("--host is empty; 127.0.0.1 serves this machine only")
    if not 0.0 <= args.fault_rate <= 1.0:  # also refuses NaN
        raise RetentionError(f"--fault-rate must be between 0 and 1, got: {args.fault_rate:g}")
    for status in args.fault_status:
        if not 400 <= status <= 599:
            raise RetentionError(f"--fault-status takes 4xx and 5xx statuses, got: {status}")
    if args.fault_rate > 0 and not args.fault_status:
        raise RetentionError("--fault-status names no status; give some, e.g. 429,500,503")
    for option, value in (("--latency-ms", args.latency_ms), ("--lag-ms", args.lag_ms)):
        if not (math.isfinite(value) and value >= 0):
            raise RetentionError(
                f"{option} must be a non-negative number of milliseconds, got: {value:g}"
            )
    if not (math.isfinite(args.backup_min_age) and args.backup_min_age >= 0):
        raise RetentionError(
            f"--backup-min-age must be a non-negative number of seconds, got: "
            f"{args.backup_min_age:g}"
        )
    if args.data is not None and args.data.exists() and not args.data.is_dir():
        raise RetentionError(
            f"--data {args.data} is not a directory; name one (created if missing)"
        )
    if args.api_key is not None:
        problem = _api_key_problem(args.api_key)
        if problem:
            raise RetentionError(f"--api-key {problem}")
    seen: set[str] = set()
    for name, _ in args.index:
        if name in seen:
            raise RetentionError(f"--index {name} is given twice")
        seen.add(name)


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
        readings=Readings(
            ne_on_missing=args.ne_on_missing == "match",
            nin_on_missing=args.nin_on_missing == "match",
            negation_on_lists=args.list_negation,
        ),
        missing_namespace=args.missing_namespace,
        version_gates=args.version_gates == "on",
        lsn_headers=args.lsn_headers,
        backup_min_age_s=args.backup_min_age,
        backup_outcome=args.backup_outcome,
        old_version_documents=args.old_version_documents,
        wrong_plane_body=args.wrong_plane_body,
        documents_on_vector_status=args.documents_on_vector_status,
        text_match_in_fetch=args.text_match_in_fetch == "allow",
        documents_edge_errors=args.documents_edge_errors,
        matched_records=args.matched_records,
        documents_request_id=args.documents_request_id == "on",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return 0 after a clean stop."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    check_arguments(args)
    try:
        config = config_from(args)
    except ValueError as exc:  # anything the checks above did not foresee
        raise RetentionError(str(exc)) from None
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Emulator.start(config) as emulator:
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
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RetentionError as exc:
        print(f"retention: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _index_spec(text: str) -> tuple[str, int]:
    name, _, dim = text.partition(":")
    try:
        dimension = int(dim) if dim else 8
    except ValueError:
        raise argparse.ArgumentTypeError(f"dimension must be an integer, got: {dim}") from None
    if not name or dimension < 1:
        raise argparse.ArgumentTypeError(f"expected NAME[:DIM] with DIM >= 1, got: {text}")
    if not INDEX_NAME.match(name):
        raise argparse.ArgumentTypeError(
            f"index names are 1-45 lowercase letters, digits and hyphens, not starting or "
            f"ending with a hyphen (as Pinecone requires), got: {name}"
        )
    return name, dimension


def _api_key_problem(key: str) -> str | None:
    """Why no client could ever send `key` as a header (the key itself is never quoted)."""
    if not key:
        return "is empty; leave it out to accept any key"
    if key != key.strip():
        return "starts or ends with whitespace, which no client can send"
    if not (key.isascii() and key.isprintable()):
        return "must be printable ASCII, which is all a client can send"
    return None


def _limit_setting(text: str) -> tuple[str, float]:
    """`NAME=VALUE` with a finite VALUE > 0: nan or 0 would refuse every request of that kind
    forever, and infinity is no limit at all (that is `--limits off`)."""
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not name or not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with VALUE a finite number > 0, got: {text}"
        )
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
