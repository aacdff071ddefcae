"""`retention demo`: the whole loop on the embedded emulator, with no configuration.

It starts the emulator on a free loopback port with Pinecone's rate limits on, seeds three
indexes shaped like the example policies expect (support tickets spread over a year, legal holds,
GDPR erasure targets, document chunks, scratch namespaces, and a document index of API 2026-07
holding assistant transcripts), then runs validate, plan, apply with progress, and a verifying
re-plan on the policies, exactly as the CLI would.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from structlog.typing import FilteringBoundLogger

from retention import eventloop, host, logs
from retention.applying.audit import AuditLedger, Place
from retention.applying.audit import Window as AuditWindow
from retention.applying.executor import ApplySettings, Stop
from retention.applying.ledger import LEDGER_FILE, Ledger
from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import PineconeClient, PineconeSettings, connect
from retention.pipeline import apply_live, plan_live
from retention.planning.render import render_text
from retention.policy import PolicySet, load_policies

DAY = 86_400
DIMENSION = 8
SOURCES = ("zendesk", "chat", "messenger", "email", "phone")
TENANTS = {
    "tenant-acme": 12_000,
    "tenant-globex": 8_000,
    "tenant-initech": 5_000,
    "tenant-legal-eu": 2_000,
}
REGIONS = {"conv-eu": 4_000, "conv-us": 3_000}
NAMESPACES = {
    "support-prod": [*TENANTS, ""],
    "kb-prod": ["", "scratch-exp-17", "scratch-exp-18"],
    "assistant-docs": list(REGIONS),
}
TRANSCRIPT_SCHEMA: dict[str, dict[str, Any]] = {
    "embedding": {"type": "dense_vector", "dimension": DIMENSION, "metric": "cosine"},
    "text": {"type": "string", "full_text_search": {}},
}
"""The document index's schema: its embedding and searchable text; the rest is metadata."""


def _vector(rng: random.Random) -> list[float]:
    return [rng.random() for _ in range(DIMENSION)]


def _tickets(
    rng: random.Random, prefix: str, n: int, now: float
) -> Iterator[tuple[str, list[float], dict[str, Any]]]:
    for i in range(n):
        meta: dict[str, Any] = {
            "source": SOURCES[rng.randrange(len(SOURCES))],
            "tags": rng.sample(["billing", "bug", "login", "refund", "urgent"], 2),
            "created_at": int(now - rng.uniform(0, 365) * DAY),
        }
        if rng.random() < 0.03:
            meta["legal_hold"] = True
        if rng.random() < 0.02:
            meta["case_id"] = rng.choice(["C-1", "C-7", "C-9"])
        if rng.random() < 0.01:
            del meta["created_at"]  # imported without a timestamp: never expires by TTL
        yield f"{prefix}-{i:06d}", _vector(rng), meta


def seed(emulator: Emulator, policies_dir: Path, now: float) -> dict[str, int]:
    """Create and fill the demo indexes; return records per index."""
    rng = random.Random(2026)
    counts: dict[str, int] = {}
    emulator.create_index("support-prod", DIMENSION)
    for ns, n in TENANTS.items():
        emulator.upsert(
            "support-prod", ns, _tickets(rng, ns.removeprefix("tenant-"), n, now), validate=False
        )
    emulator.upsert("support-prod", "", _tickets(rng, "misc", 1_500, now), validate=False)
    erasure = policies_dir / "erasure" / "2026-11.txt"
    ids = erasure.read_text().split() if erasure.exists() else []
    ids += ["user-42#msg-1", "user-42#msg-2"]
    for i, rid in enumerate(ids):
        ns = "tenant-acme" if i % 2 else "tenant-globex"
        emulator.upsert(
            "support-prod", ns, [(rid, _vector(rng), {"source": "email", "created_at": int(now)})]
        )
    counts["support-prod"] = sum(TENANTS.values()) + 1_500 + len(ids)

    emulator.create_index("kb-prod", DIMENSION)
    chunks = []
    for doc in range(400):
        for chunk in range(25):
            meta: dict[str, Any] = {"doc": f"doc-{doc:03d}", "chunk": chunk}
            if rng.random() < 0.05:
                meta["superseded_at"] = int((now - rng.uniform(0, 30) * DAY) * 1000)
            if rng.random() < 0.01:
                meta["pinned"] = True
            chunks.append((f"doc-{doc:03d}#{chunk:02d}", _vector(rng), meta))
    emulator.upsert("kb-prod", "", chunks, validate=False)
    emulator.upsert(
        "kb-prod",
        "scratch-exp-17",
        [(f"exp17-{i}", _vector(rng), {"run": 17}) for i in range(3_000)],
    )
    emulator.upsert(
        "kb-prod",
        "scratch-exp-18",
        [(f"exp18-{i}", _vector(rng), {"run": 18}) for i in range(2_000)],
    )
    counts["kb-prod"] = len(chunks) + 5_000
    counts["assistant-docs"] = _seed_transcripts(emulator, rng, now)
    return counts


def _seed_transcripts(emulator: Emulator, rng: random.Random, now: float) -> int:
    """A document index of assistant conversations that ended over the last 60 days."""
    emulator.create_document_index("assistant-docs", TRANSCRIPT_SCHEMA)
    for ns, n in REGIONS.items():
        documents = []
        for i in range(n):
            doc: dict[str, Any] = {
                "_id": f"{ns}-{i:05d}",
                "embedding": _vector(rng),
                "text": f"conversation {i} about {SOURCES[rng.randrange(len(SOURCES))]}",
                "ended_at": int(now - rng.uniform(0, 60) * DAY),
            }
            if rng.random() < 0.03:
                doc["review"] = True
            documents.append(doc)
        emulator.upsert_documents("assistant-docs", ns, documents)
    return sum(REGIONS.values())


def example_policies() -> Path:
    """The example policies that ship inside the package (the repository's `policies/`), so
    that the demo runs from any directory."""
    return Path(str(resources.files("retention") / "examples"))


def run_demo(paths: list[str], out: TextIO = sys.stdout) -> int:
    """Run the tour on `paths`, or on the packaged example policies; return the exit code."""

    logs.configure(level="warning")
    log = logs.get_logger(command="demo")
    paths = paths or [str(example_policies())]
    policies_dir = Path(paths[0])

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    policies = load_policies(paths)  # a bad path is its one line, before anything is printed
    say("retention demo: policies as code for Pinecone, on the embedded emulator\n")
    say(
        f"1. validate  {len(policies.policies)} policies and {len(policies.holds)} legal hold(s) "
        f"in {len(policies.files)} files of {policies_dir}: valid"
    )

    started = time.monotonic()
    with Emulator.start(EmulatorConfig(limits="pinecone")) as emulator:
        counts = seed(emulator, policies_dir, time.time())
        total = sum(counts.values())
        say(
            f"2. seed      emulator at {emulator.controller_url} (Pinecone's rate limits on): "
            f"{total:,} records in {len(counts)} indexes"
        )
        settings = PineconeSettings(api_key="demo", controller_url=emulator.controller_url)

        async def tour(ledger: Ledger) -> int:
            async with connect(settings) as client:
                return await _tour(client, policies, out, log, say, ledger)

        with tempfile.TemporaryDirectory(prefix="retention-demo-") as state:
            ledger = Ledger.open(Path(state) / LEDGER_FILE)
            try:
                code = eventloop.run(tour(ledger))
            finally:
                ledger.close()
            _audit(Path(state) / LEDGER_FILE, say)
        left = sum(len(emulator.records(i, ns)) for i, nss in NAMESPACES.items() for ns in nss)
    say(
        f"\nDone in {time.monotonic() - started:.0f}s: {total - left:,} of {total:,} records deleted, "
        "every protected and held record kept."
    )
    say(
        "\nNext:\n"
        f"  - copy {policies_dir} to your policy repository's policies/, edit them, then\n"
        "    `retention validate` (add --format github in CI) and `retention demo policies/`\n"
        "  - `retention emulator --index support-prod:8` and point PINECONE_CONTROLLER_HOST at it\n"
        "  - against Pinecone: export PINECONE_API_KEY, then `retention plan --out plan.json`,\n"
        "    review it, and `retention apply plan.json`\n"
        "  - run it for good: deploy/kubernetes (retention run) and deploy/ci (plans on pull requests)"
    )
    return code


async def _tour(
    client: PineconeClient,
    policies: PolicySet,
    out: TextIO,
    log: FilteringBoundLogger,
    say: Callable[[str], None],
    ledger: Ledger,
) -> int:
    now = host.utc_now()
    plan = await plan_live(client, policies, now=now, log=log)
    say("3. plan      what the policies delete now, as a reviewer sees it:\n")
    out.write(_indent(render_text(plan, color=out.isatty())))
    say("4. apply     exactly that plan, at Pinecone's rate limits, then verify:")
    report = await apply_live(
        client,
        plan,
        policies,
        now=now,
        settings=ApplySettings(),
        log=log,
        stop=Stop(),
        bar=out if out.isatty() else None,
        fresh=True,
        ledger=ledger,
    )
    say(f"   {report.summary()}")
    again = await plan_live(client, policies, now=host.utc_now(), log=log)
    say(
        f"5. re-plan   {'nothing left to delete: verified' if not again.totals.records else 'left: ' + str(again.totals.records)}"
    )
    return 0 if not again.totals.records and not report.failed else 1


AUDITED = "user-42#msg-1"
"""An ID the demo's GDPR policy erases, looked up in the ledger afterwards."""


def _audit(path: Path, say: Callable[[str], None]) -> None:
    """Step 6: what the erasure ledger says about one erased ID (it holds only its digest)."""
    with AuditLedger.open(path) as ledger:
        runs = ledger.span().runs
        found = [e for e in ledger.erasures(AUDITED, Place(), AuditWindow()) if e.confirmed]
    if not found:
        say(f"6. audit     the ledger holds {runs} run(s); no erasure of {AUDITED} recorded")
        return
    e = found[0]
    say(
        f"6. audit     `retention audit --id '{AUDITED}'`: erased at {e.answered} by "
        f"{e.policy}/{e.rule} in {e.index}/{e.namespace}, plan {e.run.plan[:19]}, request "
        f"{e.request_id}; the ledger holds its SHA-256, never the ID"
    )


def _indent(text: str) -> str:
    return "".join(f"   {line}\n" if line else "\n" for line in text.splitlines())
