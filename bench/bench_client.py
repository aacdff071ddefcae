"""Benchmark: deleting records by id at Pinecone's limits, ours against the official SDK.

Run:  .venv/bin/python bench/bench_client.py [--records 100000] [--lowered-records 300000]
                                             [--settle 10] [--only published|lowered]

Two scenarios, each on a fresh in-process emulator with its limits on:

  published   the emulator enforces Pinecone's 5,000 delete records/s; the client assumes it too
              (`--records`, 100,000 by default)
  lowered     the emulator enforces 2,000 records/s; the client still assumes 5,000 and has to
              learn the lower limit from a 429 (`--lowered-records`, 300,000 by default: 150 s,
              long enough to show whether a client settles or keeps getting refused)

For each, `retention`'s client (`IndexClient.delete_ids`) and a plain loop over the official
SDK's `index.delete(ids=batch)` (batches of 1,000, its default retries) delete the same records
in the same process, one after the other. The emulator's limiter is wrapped to count what it
admitted and refused, so both clients are measured by the server, the same way. Printed:
achieved records/s over the limit for the whole run and after `--settle` seconds, and the
share of requests refused with 429. This prints figures; it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import PineconeSettings, connect

INDEX, NAMESPACE, KEY = "bench", "tenant-a", "bench-key-0123456789"


@dataclass
class Counting:
    """Wraps the emulator's limiter and records each delete it admitted or refused."""

    inner: Any
    events: list[tuple[float, bool, float]] = field(default_factory=list)

    def charge(self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]]) -> Any:
        denial = self.inner.charge(index, namespace, costs)
        records = sum(n for op, unit, n in costs if (op, unit) == ("delete", "records"))
        if records:
            self.events.append((time.monotonic(), denial is None, records))
        return denial


@dataclass(frozen=True)
class Figures:
    records: float
    seconds: float
    requests: int
    refused: int
    settled_ratio: float
    settled_refused: float
    left: int

    def line(self, who: str, limit: float) -> str:
        rate = self.records / self.seconds
        return (
            f"  {who:<10} {self.records:>8,.0f} records in {self.seconds:6.1f} s = "
            f"{rate:7,.0f}/s  ratio {rate / limit:5.3f}  refused {self.refused}/{self.requests}"
            f" = {self.refused / max(1, self.requests):6.2%}  | after settling: ratio "
            f"{self.settled_ratio:5.3f}, refused {self.settled_refused:6.2%}  | left {self.left}"
        )


def measure(
    events: list[tuple[float, bool, float]],
    t0: float,
    t1: float,
    settle: float,
    limit: float,
    left: int,
) -> Figures:
    admitted = sum(n for _, ok, n in events if ok)
    refused = sum(1 for _, ok, _ in events if not ok)
    late = [e for e in events if e[0] >= t0 + settle]
    late_span = max(1e-9, t1 - (t0 + settle))
    late_records = sum(n for _, ok, n in late if ok)
    late_refused = sum(1 for _, ok, _ in late if not ok) / max(1, len(late))
    return Figures(
        records=admitted,
        seconds=t1 - t0,
        requests=len(events),
        refused=refused,
        settled_ratio=late_records / late_span / limit if late else float("nan"),
        settled_refused=late_refused,
        left=left,
    )


def run_ours(emu: Emulator, ids: list[str]) -> None:
    async def main() -> None:
        settings = PineconeSettings(api_key=KEY, controller_url=emu.controller_url)
        async with connect(settings) as client:
            index = await client.index(INDEX)
            await index.delete_ids(ids, NAMESPACE)

    asyncio.run(main())


def run_sdk(emu: Emulator, ids: list[str]) -> None:
    from pinecone import Index, RateLimitError

    index = Index(host=emu.index_host(INDEX), api_key=KEY)
    for start in range(0, len(ids), 1000):
        # A plain loop gives up on a batch once the SDK's own retries are spent.
        with contextlib.suppress(RateLimitError):
            index.delete(ids=ids[start : start + 1000], namespace=NAMESPACE)


def scenario(name: str, server_limit: float, records: int, settle: float) -> None:
    overrides = {} if server_limit == 5000 else {"delete_records_per_s": server_limit}
    print(
        f"{name}: emulator at {server_limit:,.0f} records/s, client assumes 5,000; {records:,} records"
    )
    runs: list[tuple[str, Callable[[Emulator, list[str]], None]]] = [
        ("retention", run_ours),
        ("sdk loop", run_sdk),
    ]
    for who, run in runs:
        config = EmulatorConfig(indexes=((INDEX, 2),), limits="pinecone", limit_overrides=overrides)
        with Emulator.start(config) as emu:
            ids = [f"doc-{i:07d}" for i in range(records)]
            emu.upsert(INDEX, NAMESPACE, ((i, [0.1, 0.2], {}) for i in ids), validate=False)
            counting = Counting(emu.runtime.enforcer)
            emu.runtime.enforcer = counting  # type: ignore[assignment]
            t0 = time.monotonic()
            run(emu, ids)
            t1 = time.monotonic()
            left = len(emu.records(INDEX, NAMESPACE))
            print(
                measure(counting.events, t0, t1, settle, server_limit, left).line(
                    who, server_limit
                ),
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--lowered-records", type=int, default=300_000)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds excluded as warm-up")
    parser.add_argument("--only", choices=("published", "lowered"))
    args = parser.parse_args(argv)
    if args.only in (None, "published"):
        scenario("published", 5000, args.records, args.settle)
    if args.only in (None, "lowered"):
        scenario("lowered", 2000, args.lowered_records, args.settle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
