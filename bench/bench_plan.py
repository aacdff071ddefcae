"""Does a plan cost the same API calls at 1,000 and at 1,000,000 records? Prints figures; never fails.

Three filter-expressible rules (a TTL with a `where`, a `where`, a TTL under a protection) over
100 namespaces, planned against the emulator twice: with 10 records per namespace (1,000 in
total) and with 10,000 per namespace (1,000,000). Each rule is one dry-run count per namespace
whatever the data, so the number of requests must not change; only the emulator's work per
request grows. Requests are counted by an httpx transport wrapped around the client's own, from
outside `retention.pinecone`. The emulator enforces Pinecone's published limits during the plan
(seeding goes straight into its store, which skips them), so wall time is shaped by pacing.

Run: .venv/bin/python bench/bench_plan.py [--namespaces 100] [--small 10] [--large 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from retention import __version__
from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import connect
from retention.pinecone.inventory import LiveInventory
from retention.planning.plan import Plan
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import load_policies

NOW = datetime(2027, 1, 1, tzinfo=UTC)
DAY = 86_400
INDEX = "bench"
SOURCES = ("zendesk", "chat", "email")

POLICIES = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: tickets}
spec:
  index: bench
  namespaces: {include: ["tenant-*"]}
  rules:
    - name: expire-zendesk
      olderThan: 30d
      field: created_at
      unit: s
      where: {source: {$eq: zendesk}}
    - name: drop-drafts
      where: {kind: {$eq: draft}}
---
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: archive}
spec:
  index: bench
  namespaces: {include: ["tenant-*"]}
  protect:
    - {legal_hold: true}
  rules:
    - name: expire-all
      olderThan: 90d
      field: created_at
      unit: s
"""


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests to `inner` and counts them by operation and by response status."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[operation(request)] += 1
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def operation(request: httpx.Request) -> str:
    """A readable name for a Pinecone request, from its method, path and body."""
    path = request.url.path.rstrip("/")
    if path.endswith("/vectors/update"):
        return "count (update dryRun)" if b'"dryRun"' in request.content else "update"
    for suffix, name in (
        ("/namespaces", "list_namespaces"),
        ("/vectors/fetch_by_metadata", "fetch_by_metadata"),
        ("/vectors/fetch", "fetch"),
        ("/vectors/list", "list_ids"),
        ("/vectors/delete", "delete"),
        ("/describe_index_stats", "describe_index_stats"),
    ):
        if path.endswith(suffix):
            return name
    if request.method == "GET" and f"/indexes/{INDEX}" in path:
        return "describe_index"
    return f"{request.method} {path}"


def metadata(i: int) -> dict[str, Any]:
    """Record `i`: ages spread over 0-100 days, three sources, some drafts, some on hold."""
    return {
        "created_at": int(NOW.timestamp() - ((i * 37) % 100 + 0.5) * DAY),
        "source": SOURCES[i % 3],
        "kind": "draft" if i % 5 == 0 else "final",
        "legal_hold": i % 7 == 0,
    }


@dataclass
class Result:
    records: int
    seed_s: float
    plan_s: float
    calls: Counter[str]
    statuses: Counter[int]
    plan: Plan

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def run(
    per_namespace: int, namespaces: int, limits: Literal["pinecone", "off"], policies: Path
) -> Result:
    with Emulator.start(EmulatorConfig(limits=limits)) as emulator:
        emulator.create_index(INDEX, 2)
        began = time.perf_counter()
        for n in range(namespaces):
            emulator.upsert(
                INDEX,
                f"tenant-{n:03}",
                ((f"r-{i:06}", (0.5, 0.5), metadata(i)) for i in range(per_namespace)),
                validate=False,
            )
        seeded = time.perf_counter() - began
        counting = CountingTransport(httpx.AsyncHTTPTransport())
        env = {"PINECONE_API_KEY": "bench-key", "PINECONE_CONTROLLER_HOST": emulator.controller_url}
        loaded = load_policies([str(policies)])

        async def plan() -> Plan:
            async with connect(environ=env, transport=counting) as client:
                return await make_plan(
                    loaded,
                    LiveInventory(client),
                    now=NOW,
                    options=PlanOptions(tool_version=__version__),
                )

        began = time.perf_counter()
        made = asyncio.run(plan())
        planned = time.perf_counter() - began
    return Result(
        per_namespace * namespaces, seeded, planned, counting.calls, counting.statuses, made
    )


def show(label: str, r: Result) -> None:
    kinds = Counter(a.kind for a in r.plan.actions)
    print(
        f"{label}: {r.records:,} records; seeded in {r.seed_s:.1f}s; planned in {r.plan_s:.2f}s; "
        f"{r.plan.totals.records:,} to delete; actions {dict(kinds)}"
    )
    print(
        f"  API calls: {r.total_calls:,}  responses by status: {dict(sorted(r.statuses.items()))}"
    )
    for name, n in sorted(r.calls.items()):
        print(f"    {name:<24} {n:>6,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--small", type=int, default=10, help="records per namespace (10)")
    parser.add_argument("--large", type=int, default=10_000, help="records per namespace (10000)")
    parser.add_argument("--limits", choices=("pinecone", "off"), default="pinecone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        policies = Path(tmp) / "policies.yaml"
        policies.write_text(POLICIES)
        print(f"emulator limits during the plan: {args.limits}; {args.namespaces} namespaces\n")
        small = run(args.small, args.namespaces, args.limits, policies)
        show("small", small)
        large = run(args.large, args.namespaces, args.limits, policies)
        show("large", large)
    print()
    print(f"records ratio    {large.records / small.records:,.0f}x")
    print(f"API calls ratio  {large.total_calls / small.total_calls:.2f}")
    same = "identical" if large.calls == small.calls else "DIFFERENT"
    print(f"calls by operation: {same}")
    print(f"wall time ratio  {large.plan_s / small.plan_s:.2f}")


if __name__ == "__main__":
    main()
