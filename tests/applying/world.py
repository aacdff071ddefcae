"""Helpers for the apply tests: policies on disk, the CLI in-process, the emulator's contents."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog

from retention.applying.executor import ApplySettings, Stop
from retention.applying.report import Report
from retention.cli import main
from retention.emulator import Emulator
from retention.pinecone import Pacer, PineconeClient, PineconeSettings, connect
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import Plan, from_document, to_document
from retention.policy import load_policies
from tests.builders import DOCUMENT_SCHEMA, Data, seed, seed_documents

DIM = 2
_names = itertools.count()


def fresh_index(emulator: Emulator, stem: str = "idx", *, documents: bool = False) -> str:
    """A new, empty index with a name no other test uses: a vector index, or a document
    index of schema `DOCUMENT_SCHEMA`."""
    name = f"{stem}-{os.getpid()}-{next(_names)}"
    if documents:
        emulator.create_document_index(name, DOCUMENT_SCHEMA)
    else:
        emulator.create_index(name, DIM)
    return name


def fill(emulator: Emulator, index: str, data: Data, *, documents: bool = False) -> None:
    """Store `data` in `index`, as records or as documents."""
    (seed_documents if documents else seed)(emulator, index, data)


def snapshot(emulator: Emulator, index: str, namespaces: Sequence[str]) -> dict[str, set[str]]:
    """The IDs the emulator holds now, per namespace."""
    return {ns: set(emulator.records(index, ns)) for ns in namespaces}


def cli(*argv: str) -> tuple[int, str, str]:
    """Run `retention ARGV` in this process; its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def pointed_at(emulator: Emulator) -> Iterator[dict[str, str]]:
    """Point the CLI (and subprocesses given the returned env) at the emulator."""
    env = {"PINECONE_API_KEY": "test-key", "PINECONE_CONTROLLER_HOST": emulator.controller_url}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield {**os.environ, **env}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def unpaced_client(emulator: Emulator) -> PineconeClient:
    """Our client against the emulator with no client-side pacing (the emulator's limits are off)."""
    return connect(
        PineconeSettings(api_key="test-key", controller_url=emulator.controller_url),
        pacer=Pacer(()),
    )


async def plan_and_apply(emulator: Emulator, policies: Path) -> tuple[Plan, Report, Plan]:
    """`retention.pipeline`: plan, the plan file round trip, apply, then plan again."""
    log = structlog.wrap_logger(structlog.ReturnLogger())
    loaded = load_policies([str(policies)])
    now = datetime.now(UTC).replace(microsecond=0)
    async with unpaced_client(emulator) as client:
        plan = await plan_live(client, loaded, now=now, log=log)
        plan = from_document(json.loads(json.dumps(to_document(plan))))
        report = await apply_live(
            client,
            plan,
            loaded,
            now=now,
            settings=ApplySettings(verify_timeout=10),
            log=log,
            stop=Stop(),
        )
        again = await plan_live(client, load_policies([str(policies)]), now=now, log=log)
    return plan, report, again
