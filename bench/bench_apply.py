"""Benchmark `retention apply`: deletion rate at Pinecone's limits, and memory while streaming.

Run:  .venv/bin/python bench/bench_apply.py [--only abc] [--a 100000] [--b 40000] [--c 1000000]

  a  one namespace, N records selected by an idPrefix rule, deleted by ID; emulator limits on
     (Pinecone's defaults): achieved records/s against the 5,000/s limit, and 429s
  b  two indexes x two namespaces (N each) applied concurrently: records/s against the
     combined 10,000/s (the 5,000/s records limit is per index; its namespaces share it)
  c  N IDs from an ID file streamed by an apply in a subprocess, the emulator's limits raised;
     peak RSS of that process (VmHWM), sampled from /proc
  d  a, twice side by side: without the erasure ledger and with it (every ID batch and the
     SHA-256 of each of its IDs committed before the batch is sent): both rates against the
     5,000/s limit, their ratio, and the ledger's bytes per deleted ID

The emulator runs in a separate process (this script with `--serve`), seeded in-process with
`Emulator.upsert(validate=False)`; its limiter is wrapped there to count what it refused with
429, and this process also counts 429 answers at its transport. The deletion rate is measured
from the first delete request sent to the last delete answered (the recount that precedes it,
one list request per 100 IDs at 200/s, is reported separately as the end-to-end figure).
Per index the rate is (records - the first request's) / (last send - first send); b sums them.
This prints figures; it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAISED = {
    f"{name}_per_s": 1_000_000
    for name in (
        "delete_records",
        "delete_requests",
        "list_requests",
        "fetch_requests",
        "describe_index_stats_requests",
        "update_requests",
        "update_by_metadata_requests",
        "delete_by_metadata_requests",
    )
}


# -- the emulator process ---------------------------------------------------------------------


class CountingLimiter:
    """Wraps the emulator's limiter: counts the requests it refused, by limit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refused: dict[str, int] = {}

    def charge(self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]]) -> Any:
        denial = self.inner.charge(index, namespace, costs)
        if denial is not None:
            name = denial.limit.name
            self.refused[name] = self.refused.get(name, 0) + 1
        return denial


def serve(overrides: str) -> int:
    """Run an emulator; commands on stdin (seed, ids, stats, count), one JSON answer each."""
    from retention.emulator import Emulator, EmulatorConfig

    limits: dict[str, float] = json.loads(overrides)
    emulator = Emulator.start(EmulatorConfig(limit_overrides=limits))
    counting = CountingLimiter(emulator.runtime.enforcer)
    emulator.runtime.enforcer = counting  # type: ignore[assignment]
    print(emulator.controller_url, flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "seed":
            index, ns, prefix, n = args[0], args[1], args[2], int(args[3])
            if index not in emulator.store.indexes:
                emulator.create_index(index, 2)
            emulator.upsert(
                index,
                ns,
                ((f"{prefix}{i:07d}", (0.1, 0.2), {"i": i}) for i in range(n)),
                validate=False,
            )
            answer: object = n
        elif command == "count":
            answer = len(emulator.records(args[0], args[1]))
        else:
            answer = counting.refused
        print(json.dumps(answer), flush=True)
    emulator.stop()
    return 0


class Server:
    """The emulator process, driven over its stdin and stdout."""

    def __init__(self, limits: Mapping[str, float]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", json.dumps(limits)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def ask(self, *words: object) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# -- the client side --------------------------------------------------------------------------


@dataclass
class Counting(httpx.AsyncBaseTransport):
    """Counts 429 answers and times every delete request, from outside the client."""

    inner: httpx.AsyncBaseTransport
    throttled: int = 0
    deletes: list[tuple[float, float, int, str]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        began = time.monotonic()
        response = await self.inner.handle_async_request(request)
        if response.status_code == 429:
            self.throttled += 1
        elif request.url.path.endswith("/vectors/delete") and response.status_code == 200:
            ids = json.loads(request.content).get("ids") or ()
            self.deletes.append(
                (began, time.monotonic(), len(ids), request.url.host + request.url.path)
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def client(
    url: str, transport: httpx.AsyncBaseTransport | None = None, raised: bool = False
) -> Any:
    """`retention`'s production client; its limiter at Pinecone's limits unless `raised`."""
    from retention.pinecone import Pacer, PineconeSettings, connect
    from retention.pinecone.client import POOL
    from retention.quotas import PUBLISHED, override

    limiter = Pacer(override(PUBLISHED, RAISED) if raised else PUBLISHED)
    return connect(
        PineconeSettings(api_key="bench-key-0123456789", controller_url=url),
        transport=transport or httpx.AsyncHTTPTransport(limits=POOL),
        pacer=limiter,
    )


def write_policy(directory: Path, index: str, rule: dict[str, Any]) -> Path:
    doc = {
        "apiVersion": "retention/v1",
        "kind": "RetentionPolicy",
        "metadata": {"name": f"bench-{index}"},
        "spec": {
            "index": index,
            "namespaces": {"include": ["tenant-*"]},
            # Deleting nearly a whole namespace is the point: past the default 50% guard.
            "limits": {"maxPercent": 100},
            "rules": [rule],
        },
    }
    path = directory / f"{index}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def plan_and_apply(
    url: str, files: list[Path], raised: bool = False, ledger: Path | None = None
) -> tuple[Any, Any, Counting, float]:
    """Plan, then apply as `retention apply PLANFILE` would; the apply's wall time."""
    from retention.applying.executor import ApplySettings, Stop
    from retention.applying.ledger import Ledger
    from retention.pinecone.client import POOL
    from retention.pipeline import apply_live, plan_live
    from retention.policy import load_policies

    log = structlog.wrap_logger(structlog.ReturnLogger())
    policies = load_policies([str(f) for f in files])
    now = datetime.now(UTC).replace(microsecond=0)
    async with client(url, raised=raised) as planner:
        plan = await plan_live(planner, policies, now=now, log=log)
    counting = Counting(httpx.AsyncHTTPTransport(limits=POOL))
    began = time.monotonic()
    book = Ledger.open(ledger) if ledger is not None else None
    async with client(url, counting, raised=raised) as applier:
        report = await apply_live(
            applier,
            plan,
            policies,
            now=now,
            settings=ApplySettings(),
            log=log,
            stop=Stop(),
            ledger=book,
        )
    if book is not None:
        book.close()
    return plan, report, counting, time.monotonic() - began


def deletion_rate(deletes: list[tuple[float, float, int, str]]) -> tuple[float, float]:
    """Records per second between the first and the last delete sent, summed over indexes.

    k requests span k - 1 intervals, so each index's first request is left out of its count.
    """
    rate = 0.0
    for index in {d[3] for d in deletes}:
        mine = sorted(d for d in deletes if d[3] == index)
        rate += sum(d[2] for d in mine[1:]) / (mine[-1][0] - mine[0][0])
    return rate, max(d[0] for d in deletes) - min(d[0] for d in deletes)


def show(
    name: str,
    deleted: int,
    rate: float,
    seconds: float,
    limit: float,
    wall: float,
    refused: Any,
    throttled: int,
) -> None:
    print(
        f"{name}: {deleted:,} records deleted by ID ({seconds:.1f}s between the first and last delete sent): "
        f"{rate:,.0f}/s of a {limit:,.0f}/s limit = {rate / limit:.1%}; "
        f"apply end to end {wall:.1f}s ({deleted / wall:,.0f}/s, recount and verify included); "
        f"429s: emulator refused {sum(refused.values())} {refused or ''}, client saw {throttled}"
    )


def bench_a(n: int) -> None:
    server = Server({})
    try:
        server.ask("seed", "bench-a", "tenant-a", "doc#", n)
        server.ask("seed", "bench-a", "tenant-a", "keep#", 1000)
        with tempfile.TemporaryDirectory() as work:
            policy = write_policy(Path(work), "bench-a", {"name": "docs", "idPrefix": "doc#"})
            plan, report, counting, wall = asyncio.run(plan_and_apply(server.url, [policy]))
        assert server.ask("count", "bench-a", "tenant-a") == 1000
        assert report.deleted == n and plan.totals.records == n
        rate, seconds = deletion_rate(counting.deletes)
        show("a", n, rate, seconds, 5000, wall, server.ask("stats"), counting.throttled)
    finally:
        server.close()


def bench_d(n: int) -> None:
    server = Server({})
    try:
        rates: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as work:
            for name in ("plain", "ledger"):
                index = f"bench-d-{name}"
                server.ask("seed", index, "tenant-a", "doc#", n)
                policy = write_policy(Path(work), index, {"name": "docs", "idPrefix": "doc#"})
                ledger = Path(work) / "ledger.sqlite" if name == "ledger" else None
                _, report, counting, wall = asyncio.run(
                    plan_and_apply(server.url, [policy], ledger=ledger)
                )
                assert report.deleted == n
                rates[name], seconds = deletion_rate(counting.deletes)
                show(f"d ({name})", n, rates[name], seconds, 5000, wall, server.ask("stats"),
                     counting.throttled)  # fmt: skip
            size = sum(p.stat().st_size for p in Path(work).glob("ledger.sqlite*"))
        print(
            f"d: with the ledger / without: {rates['ledger'] / rates['plain']:.3f} of the "
            f"deletion rate; ledger {size:,} bytes = {size / n:.0f} bytes per deleted ID"
        )
    finally:
        server.close()


def bench_b(n: int) -> None:
    server = Server({})
    try:
        for index in ("bench-b1", "bench-b2"):
            for ns in ("tenant-x", "tenant-y"):
                server.ask("seed", index, ns, "doc#", n)
        with tempfile.TemporaryDirectory() as work:
            files = [
                write_policy(Path(work), index, {"name": "docs", "idPrefix": "doc#"})
                for index in ("bench-b1", "bench-b2")
            ]
            _, report, counting, wall = asyncio.run(plan_and_apply(server.url, files))
        assert report.deleted == 4 * n
        rate, seconds = deletion_rate(counting.deletes)
        show("b", 4 * n, rate, seconds, 10_000, wall, server.ask("stats"), counting.throttled)
    finally:
        server.close()


def peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Sample VmHWM and VmRSS (kB) of `pid` every 20 ms until it exits or `stop` is set."""
    while not stop.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.02)


def vm_rss_kb(field: str = "VmRSS") -> int:
    """This process's VmRSS (or VmHWM) in kB (ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def apply_child(planfile: str, url: str) -> int:
    """`retention apply PLANFILE`'s code path, its client's limiter raised like the emulator's.

    Also prints its own figures: the high-water mark right after loading the policies (the
    digest check reads the ID files), and the largest VmRSS seen while streaming afterwards.
    """
    from retention.applying.executor import ApplySettings, Stop
    from retention.pipeline import apply_live
    from retention.planning.plan import from_document
    from retention.policy import load_policies

    async def sample(peak: list[int]) -> None:
        while True:
            peak[0] = max(peak[0], vm_rss_kb())
            await asyncio.sleep(0.05)

    async def run() -> int:
        plan = from_document(json.loads(Path(planfile).read_text()))
        policies = load_policies(list(plan.sources.files))
        loaded = vm_rss_kb("VmHWM")
        log = structlog.wrap_logger(structlog.ReturnLogger())
        peak = [vm_rss_kb()]
        sampler = asyncio.create_task(sample(peak))
        async with client(url, raised=True) as c:
            report = await apply_live(
                c,
                plan,
                policies,
                now=datetime.now(UTC),
                settings=ApplySettings(),
                log=log,
                stop=Stop(),
            )
        sampler.cancel()
        report.finished = datetime.now(UTC)
        print(
            f"{report.summary()} [after loading the policies: high-water {loaded / 1024:.1f} MB; "
            f"streaming: VmRSS at most {peak[0] / 1024:.1f} MB]",
            flush=True,
        )
        return 0 if not report.failed else 1

    return asyncio.run(run())


def bench_c(n: int) -> None:
    from retention.planning.plan import to_document

    server = Server(RAISED)
    try:
        server.ask("seed", "bench-c", "tenant-c", "d", n)
        with tempfile.TemporaryDirectory() as work:
            ids = Path(work) / "ids.txt"
            with ids.open("w") as handle:
                handle.writelines(f"d{i:07d}\n" for i in range(n))
            policy = write_policy(Path(work), "bench-c", {"name": "listed", "idsFile": "ids.txt"})

            async def plan_only() -> Any:
                from retention.pipeline import plan_live
                from retention.policy import load_policies

                log = structlog.wrap_logger(structlog.ReturnLogger())
                async with client(server.url, raised=True) as c:
                    return await plan_live(
                        c,
                        load_policies([str(policy)]),
                        now=datetime.now(UTC).replace(microsecond=0),
                        log=log,
                    )

            plan = asyncio.run(plan_only())
            planfile = Path(work) / "plan.json"
            planfile.write_text(json.dumps(to_document(plan)))
            began = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, __file__, "--apply-child", str(planfile), server.url],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            stop, peak = threading.Event(), [0]
            sampler = threading.Thread(target=peak_rss, args=(proc.pid, stop, peak))
            sampler.start()
            out, _ = proc.communicate()
            stop.set()
            sampler.join()
            wall = time.monotonic() - began
        left = server.ask("count", "bench-c", "tenant-c")
        print(
            f"c: {n:,} IDs streamed from an ID file by an apply subprocess in {wall:.1f}s "
            f"({n / wall:,.0f}/s, limits raised); {left} left; peak RSS {peak[0] / 1024:.1f} MB "
            f"(limit 150 MB); exit {proc.returncode}: {out.strip()}"
        )
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="abcd", help="which benchmarks to run (abcd)")
    parser.add_argument("--a", type=int, default=100_000, metavar="N", help="records in a")
    parser.add_argument(
        "--b", type=int, default=40_000, metavar="N", help="records per namespace in b"
    )
    parser.add_argument("--c", type=int, default=1_000_000, metavar="N", help="IDs in c")
    parser.add_argument("--d", type=int, default=100_000, metavar="N", help="records in d")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--apply-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve)
    if args.apply_child is not None:
        return apply_child(*args.apply_child)
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    runs = (
        ("a", bench_a, args.a),
        ("b", bench_b, args.b),
        ("c", bench_c, args.c),
        ("d", bench_d, args.d),
    )
    for name, run, n in runs:
        if name in args.only:
            run(n)
            print(f"  load now: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
