"""At scale, how close does `retention` come to the floor Pinecone's limits set, from start to exit?

Run:  .venv/bin/python bench/bench_scale.py [--only plan,filtered,ids]
          [--namespaces 1000,3000,10000] [--ids 30000,1000000] [--quick] [--timeout 3600]

Every figure is the real command line (`retention plan ...`, `retention apply ...`) run as a
subprocess, timed from its start to its exit: wall time (monotonic, around the child's whole
life), CPU time (the child's own rusage from `os.wait4`: ru_utime + ru_stime) and peak RSS
(its VmHWM, read from /proc every 20 ms). The emulator runs with Pinecone's published limits
(the default `EmulatorConfig`, what `retention emulator --limits pinecone` serves) in a
separate process, this script with `--serve`; it is seeded there with
`Emulator.upsert(validate=False)`, which skips the limits.
In that process the ASGI application is wrapped to count every request by operation and
status (a dry-run update-by-metadata is a count), and the limiter to count what it refused,
by limit; both are read and reset after each command.

  plan      N namespaces `tenant-00001`... of five records each (three older than the TTL, two
            drafts, one both), one policy with a TTL rule and a `where` rule:
            `retention plan DIR --out PLAN.json --format json`. Floor: one dry-run count per
            (rule, namespace), 500/s per index (update by metadata): rules x N / 500 s.
  filtered  the largest N: `retention apply PLAN.json DIR` of that plan (maxPercent 100). Floor:
            one fresh count per filtered delete (update by metadata, 500/s per index) and one
            delete (delete by metadata, 500/s per index); separate limits, so they may overlap:
            max(actions / 500, actions / 500) s. Then `retention apply DIR --auto-approve` on a
            fresh copy of the data, whose plan needs no recount: plan floor + actions / 500 s
            (the deletes cannot start before the plan that finds them has finished).
  ids       M records `doc#...` (and 1,000 others kept) in one namespace, an idPrefix rule:
            `retention apply PLAN.json DIR` of a saved plan. Floor: M / 5,000 s (delete
            records, per namespace and per index). Next to it, on the same data seeded again,
            a plain loop over the official SDK in its own process: `index.list(prefix=...)`
            page by page, `index.delete(ids=...)` in batches of 1,000 (the SDK's own retries;
            a batch refused even so is retried after a second). Then the same over 2 indexes x
            2 namespaces of M / 4 records each: floor M / 4 x 2 / 5,000 s per index, the two
            indexes at once (10,000/s combined); the SDK loop takes them one after another.

`--quick` is a smoke check: 50 and 150 namespaces, 10,000 IDs. The `retention` measured is the
one this interpreter imports (the first line printed says which); `PYTHONPATH=DIR` measures
another checkout. Ratio is floor / wall (1.0 is the floor). A command that exits non-zero is
printed with the tail of its stderr and the run goes on. This prints figures; it does not pass
or fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key-0123456789"
DAY = 86_400
INDEX = "scale"
RULES = 2
COUNT_OP = "count (update dryRun)"
UPDATE_BY_METADATA_PER_S = 500.0  # per index; dry-run counts and recounts
DELETE_BY_METADATA_PER_S = 500.0  # per index
DELETE_RECORDS_PER_S = 5000.0  # per namespace and per index
KEEP = 1000  # records outside the ID rule's prefix, in every ID namespace
TAIL_BYTES = 4000


# -- the emulator process ---------------------------------------------------------------------


def operation(method: str, path: str, body: bytes) -> str:
    """A readable name for a Pinecone request, from its method, path and (for writes) body."""
    data = path.split("/", 3)[3] if path.startswith("/index/") and path.count("/") >= 3 else ""
    if not data:
        if path.startswith("/indexes/") and method == "GET":
            return "describe_index"
        return f"{method} {path}"
    if data in ("vectors/update", "vectors/delete"):
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = {}
        if data == "vectors/update":
            if "filter" not in fields:
                return "update (by id)"
            dry = fields.get("dryRun", fields.get("dry_run")) is True
            return COUNT_OP if dry else "update by metadata"
        if fields.get("filter") is not None:
            return "delete by metadata"
        return "delete all" if fields.get("deleteAll", fields.get("delete_all")) else "delete ids"
    if data.startswith("namespaces/"):
        return {"GET": "describe_namespace", "DELETE": "delete_namespace"}.get(method, data)
    return {
        "namespaces": "list_namespaces",
        "vectors/list": "list_ids",
        "vectors/fetch": "fetch",
        "vectors/fetch_by_metadata": "fetch_by_metadata",
        "vectors/upsert": "upsert",
        "describe_index_stats": "describe_index_stats",
        "query": "query",
    }.get(data, f"{method} {data}")


class CountingApp:
    """ASGI middleware: counts every request by (operation, status)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        body = bytearray()
        status = [0]
        peek = method == "POST" and path.endswith(("/vectors/update", "/vectors/delete"))

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receiving if peek else receive, sending)
        name = operation(method, path, bytes(body))
        with self.lock:
            self.counts[(name, status[0])] += 1

    def take(self) -> list[tuple[str, int, int]]:
        with self.lock:
            taken, self.counts = self.counts, Counter()
        return [(op, status, n) for (op, status), n in sorted(taken.items())]


class CountingLimiter:
    """Wraps the emulator's limiter: counts the requests it refused, by limit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.refused: Counter[str] = Counter()

    def charge(self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]]) -> Any:
        denial = self.inner.charge(index, namespace, costs)
        if denial is not None:
            with self.lock:
                self.refused[denial.limit.name] += 1
        return denial

    def take(self) -> dict[str, int]:
        with self.lock:
            taken, self.refused = self.refused, Counter()
        return dict(taken)


def tenant_records(now: float) -> list[tuple[str, tuple[float, float], dict[str, Any]]]:
    """Five records: ages 5, 10, 40, 60, 90 days; the 10- and 60-day ones are drafts."""
    ages = ((5, "final"), (10, "draft"), (40, "final"), (60, "draft"), (90, "final"))
    return [
        (f"r-{i}", (0.1, 0.2), {"created_at": int(now - age * DAY), "kind": kind})
        for i, (age, kind) in enumerate(ages)
    ]


def serve() -> int:
    """Run an emulator at Pinecone's limits; commands on stdin, one JSON answer line each."""
    import retention.emulator.server as server_module
    from retention.emulator import Emulator, EmulatorConfig

    counting_app: list[CountingApp] = []
    build_app = server_module.build_app

    def counted(runtime: Any) -> Any:
        counting_app.append(CountingApp(build_app(runtime)))
        return counting_app[0]

    server_module.build_app = counted  # type: ignore[assignment]
    emulator = Emulator.start(EmulatorConfig())
    limiter = CountingLimiter(emulator.runtime.enforcer)
    emulator.runtime.enforcer = limiter  # type: ignore[assignment]
    print(emulator.controller_url, flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        answer: object = None
        if command == "tenants":  # INDEX FIRST COUNT: namespaces tenant-FIRST.. of 5 records
            index, first, n = args[0], int(args[1]), int(args[2])
            if index not in emulator.store.indexes:
                emulator.create_index(index, 2)
            records = tenant_records(time.time())
            for k in range(first, first + n):
                emulator.upsert(index, f"tenant-{k:05d}", records, validate=False)
            answer = n
        elif command == "ids":  # INDEX NAMESPACE PREFIX COUNT
            index, ns, prefix, n = args[0], args[1], args[2], int(args[3])
            if index not in emulator.store.indexes:
                emulator.create_index(index, 2)
            for start in range(0, n, 100_000):
                stop = min(n, start + 100_000)
                emulator.upsert(
                    index,
                    ns,
                    ((f"{prefix}{i:07d}", (0.1, 0.2), {}) for i in range(start, stop)),
                    validate=False,
                )
            answer = n
        elif command == "left":  # INDEX NAMESPACE
            answer = len(emulator.records(args[0], args[1]))
        elif command == "host":
            answer = emulator.index_host(args[0])
        elif command == "counts":
            answer = {
                "requests": counting_app[0].take(),
                "refused": limiter.take(),
                "cpu": time.process_time(),
            }
        print(json.dumps(answer), flush=True)
    emulator.stop()
    return 0


class Server:
    """The emulator process, driven over its stdin and stdout."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError("the emulator process did not start")

    def ask(self, *words: object) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def counts(self) -> Counts:
        got = self.ask("counts")
        requests = {(op, status): n for op, status, n in got["requests"]}
        return Counts(requests, got["refused"], got["cpu"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=120)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- running a command ------------------------------------------------------------------------


@dataclass
class Counts:
    """What the emulator answered during one command: by (operation, status), and 429s by limit."""

    requests: dict[tuple[str, int], int]
    refused: dict[str, int]
    cpu: float = 0.0
    """The emulator process's CPU seconds: a clock when read, then the command's share."""

    def of(self, op: str, status: int | None = None) -> int:
        return sum(n for (o, s), n in self.requests.items() if o == op and status in (None, s))

    @property
    def throttled(self) -> int:
        return sum(n for (_, s), n in self.requests.items() if s == 429)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def lines(self) -> Iterator[str]:
        ops = sorted({op for op, _ in self.requests})
        yield f"    {'requests by operation':<26} {'sent':>9} {'429':>7} {'other non-2xx':>14}"
        for op in ops:
            sent = self.of(op)
            refused = self.of(op, 429)
            other = sum(
                n for (o, s), n in self.requests.items() if o == op and s >= 300 and s != 429
            )
            yield f"    {op:<26} {sent:>9,} {refused:>7,} {other:>14,}"
        yield (
            f"    {'total':<26} {self.total:>9,} {self.throttled:>7,}"
            f"   (the emulator used {self.cpu:.1f}s of CPU meanwhile)"
        )
        if self.refused:
            yield "    429s by limit: " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(self.refused.items())
            )


@dataclass
class Run:
    """One command, from its start to its exit."""

    argv: list[str]
    code: int
    wall: float
    cpu: float
    rss_mb: float
    stdout: Path
    stderr: Path
    counts: Counts = field(default_factory=lambda: Counts({}, {}))
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.timed_out

    def last_line(self, starting: str) -> str:
        for line in reversed(tail(self.stdout).splitlines()):
            if line.startswith(starting):
                return line
        return ""

    @property
    def exit(self) -> str:
        """`exit 1`, or the signal that ended the command (SIGKILL: the bench's own timeout)."""
        if self.timed_out:
            return "killed at the timeout"
        if self.code < 0:
            return f"killed by {signal.Signals(-self.code).name} (not by this bench)"
        return f"exit {self.code}"

    def failure(self) -> str:
        lines = collapse(tail(self.stderr).rstrip().splitlines())[-12:]
        return (
            f"  !! {' '.join(self.argv[1:3])}: {self.exit} after {self.wall:.1f}s; stderr tail:\n"
            + ("\n".join("     | " + line for line in lines) or "     | (empty)")
        )


def collapse(lines: list[str]) -> list[str]:
    """Runs of log lines that differ only in their digits (timestamps) become one, counted."""
    out: list[str] = []
    shape, run = "", 0
    for line in lines:
        key = re.sub(r"[0-9]", "", line)
        if out and key == shape:
            run += 1
            out[-1] = f"{line}  (x{run})"
            continue
        shape, run = key, 1
        out.append(line)
    return out


def tail(path: Path, size: int = TAIL_BYTES) -> str:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode("utf-8", "replace")


def retention_argv(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("retention")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "retention"]
    return [*head, *args]


def timed(argv: list[str], url: str, work: Path, name: str, timeout: float) -> Run:
    """Run `argv` with the emulator's URL; wall, CPU and peak RSS of the child, start to exit."""
    env = dict(os.environ, PINECONE_API_KEY=KEY, PINECONE_CONTROLLER_HOST=url)
    env.pop("NO_COLOR", None)
    out, err = work / f"{name}.stdout", work / f"{name}.stderr"
    killed = threading.Event()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        began = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=work, env=env
        )

        def kill() -> None:
            killed.set()
            os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        # Popen returns once the child has exec'd, so its VmHWM is the command's own from here.
        done, peak = threading.Event(), [0]
        sampler = threading.Thread(target=high_water, args=(proc.pid, done, peak))
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
        timer.cancel()
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        argv,
        proc.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        peak[0] / 1024,
        out,
        err,
        timed_out=killed.is_set(),
    )


def high_water(pid: int, done: threading.Event, peak: list[int]) -> None:
    """Keep in `peak` the largest VmHWM (kB) of `pid`, read every 20 ms until `done`.

    Not ru_maxrss: Linux carries the forking parent's high-water mark into the child's, so a
    child of this process would never read below what this process once held.
    """
    status = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak[0] = max(peak[0], int(line.split()[1]))
        done.wait(0.02)


def run_counted(server: Server, argv: list[str], work: Path, name: str, timeout: float) -> Run:
    before = server.counts()  # whatever came before is not this command's
    run = timed(argv, server.url, work, name, timeout)
    run.counts = server.counts()
    run.counts.cpu -= before.cpu
    return run


# -- policies ---------------------------------------------------------------------------------


def write_policy(directory: Path, name: str, index: str, rules: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {
        "apiVersion": "retention/v1",
        "kind": "RetentionPolicy",
        "metadata": {"name": name},
        "spec": {
            "index": index,
            "namespaces": {"include": ["tenant-*"]},
            "limits": {"maxPercent": 100},
            "rules": rules,
        },
    }
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


TENANT_RULES = [
    {"name": "expire", "olderThan": "30d", "field": "created_at", "unit": "s"},
    {"name": "drafts", "where": {"kind": {"$eq": "draft"}}},
]


def actions_by_kind(planfile: Path) -> Counter[str]:
    with planfile.open() as handle:
        doc = json.load(handle)
    return Counter(str(a.get("kind")) for a in doc.get("actions", ()))


# -- the scenarios ----------------------------------------------------------------------------


@dataclass
class Row:
    work: str
    wall: float | None
    floor: float
    note: str = ""

    @property
    def ratio(self) -> str:
        return f"{self.floor / self.wall:.2f}" if self.wall else "-"


@dataclass
class Bench:
    timeout: float
    work: Path
    rows: list[Row] = field(default_factory=list)
    cpu_per_ns: dict[int, float] = field(default_factory=dict)

    def row(self, work: str, run: Run | None, floor: float, note: str = "") -> None:
        ok = run is not None and run.ok
        wall = run.wall if run is not None and ok else None
        if run is not None and not ok:
            note = f"FAILED ({run.exit} after {run.wall:.1f}s) " + note
        self.rows.append(Row(work, wall, floor, note.strip()))

    def seed_tenants(self, server: Server, n: int) -> float:
        began = time.monotonic()
        for first in range(1, n + 1, 1000):
            server.ask("tenants", INDEX, first, min(1000, n + 1 - first))
        return time.monotonic() - began

    def plan(self, n: int, keep_for_apply: bool) -> tuple[Server, Path, Path, Run] | None:
        server = Server()
        try:
            seeded = self.seed_tenants(server, n)
            work = self.work / f"plan-{n}"
            policies = work / "policies"
            write_policy(policies, "tenants", INDEX, TENANT_RULES)
            planfile = work / "plan.json"
            argv = retention_argv("plan", str(policies), "--out", str(planfile), "--format", "json")
            print(
                f"plan, {n:,} namespaces x 5 records (seeded in {seeded:.1f}s): "
                f"{' '.join(argv[-6:])}",
                flush=True,
            )
            run = run_counted(server, argv, work, "plan", self.timeout)
            self.show_plan(n, run, planfile)
        except BaseException:
            server.close()
            raise
        if keep_for_apply and run.ok:
            return server, policies, planfile, run
        server.close()
        return None

    def show_plan(self, n: int, run: Run, planfile: Path) -> None:
        floor = RULES * n / UPDATE_BY_METADATA_PER_S
        pairs = RULES * n
        counts = run.counts.of(COUNT_OP)
        admitted = run.counts.of(COUNT_OP, 200)
        per_ns_ms = run.cpu / n * 1000
        if run.ok:
            self.cpu_per_ns[n] = per_ns_ms
        print(
            f"  {run.exit}; wall {run.wall:.1f}s; floor {floor:.1f}s "
            f"({RULES} rules x {n:,} / {UPDATE_BY_METADATA_PER_S:.0f}/s); "
            f"ratio {floor / run.wall:.2f} (target >= 0.45: wall <= {floor / 0.45:.0f}s)"
        )
        print(
            f"  CPU {run.cpu:.1f}s = {per_ns_ms:.2f} ms per namespace (target: within 1.3x "
            f"across sizes); peak RSS {run.rss_mb:.0f} MB (target < 300 MB)"
        )
        print(
            f"  counts per (rule, namespace): {counts / pairs:.2f} sent, {admitted / pairs:.2f} "
            f"admitted (target <= 2); admitted counts paced at {admitted / run.wall:.0f}/s "
            f"of {UPDATE_BY_METADATA_PER_S:.0f}/s = "
            f"{admitted / run.wall / UPDATE_BY_METADATA_PER_S:.2f} (target >= 0.9)"
        )
        if run.ok:
            kinds = actions_by_kind(planfile)
            print(f"  actions: {dict(kinds)}")
        for line in run.counts.lines():
            print(line)
        if not run.ok:
            print(run.failure())
        self.row(
            f"plan, {n:,} namespaces",
            run,
            floor,
            f"CPU {run.cpu:.1f}s ({per_ns_ms:.2f} ms/ns), RSS {run.rss_mb:.0f} MB, "
            f"{counts / pairs:.2f} counts/(rule,ns)",
        )
        print(flush=True)

    def filtered(self, n: int, kept: tuple[Server, Path, Path, Run] | None, planned: bool) -> None:
        if kept is None and not planned:
            print(f"filtered apply over {n:,} namespaces: planning it first", flush=True)
            kept = self.plan(n, keep_for_apply=True)
        if kept is None:
            print(f"filtered apply over {n:,} namespaces: the plan failed; nothing to apply\n")
            self.row(f"apply PLAN.json, filtered deletes over {n:,} ns", None, 0, "no plan")
            return
        server, policies, planfile, _ = kept
        try:
            kinds = actions_by_kind(planfile)
            filtered = kinds.get("deleteByFilter", 0)
            others = sum(kinds.values()) - filtered
            floor = max(filtered / UPDATE_BY_METADATA_PER_S, filtered / DELETE_BY_METADATA_PER_S)
            argv = retention_argv("apply", str(planfile), str(policies))
            print(f"filtered apply over {n:,} namespaces: {' '.join(argv[-3:])}", flush=True)
            run = run_counted(server, argv, planfile.parent, "apply", self.timeout)
            print(
                f"  {filtered:,} filtered deletes"
                f"{f' (and {others:,} other actions)' if others else ''}; "
                f"floor max({filtered:,} recounts / 500/s, {filtered:,} deletes / 500/s) = "
                f"{floor:.1f}s (update- and delete-by-metadata are separate limits)"
            )
            self.show_apply(run, floor)
            self.row(
                f"apply PLAN.json, {filtered:,} filtered deletes over {n:,} ns",
                run,
                floor,
                f"429s {run.counts.throttled:,}",
            )
        finally:
            server.close()
        with Server() as fresh:
            self.seed_tenants(fresh, n)
            work = planfile.parent
            argv = retention_argv("apply", str(policies), "--auto-approve")
            print(
                f"plan and apply in one process over {n:,} namespaces: {' '.join(argv[-3:])}",
                flush=True,
            )
            run = run_counted(fresh, argv, work, "auto-approve", self.timeout)
            plan_floor = RULES * n / UPDATE_BY_METADATA_PER_S
            floor = plan_floor + filtered / DELETE_BY_METADATA_PER_S
            print(
                f"  floor: plan {RULES} x {n:,} / 500/s = {plan_floor:.1f}s, then "
                f"{filtered:,} deletes / 500/s (no recount) = "
                f"{filtered / DELETE_BY_METADATA_PER_S:.1f}s: {floor:.1f}s"
            )
            self.show_apply(run, floor)
            self.row(
                f"apply --auto-approve, {n:,} ns",
                run,
                floor,
                f"CPU {run.cpu:.1f}s, RSS {run.rss_mb:.0f} MB, 429s {run.counts.throttled:,}",
            )

    def show_apply(self, run: Run, floor: float) -> None:
        print(
            f"  {run.exit}; wall {run.wall:.1f}s; ratio {floor / run.wall:.2f} "
            f"(target >= 0.85); CPU {run.cpu:.1f}s; peak RSS {run.rss_mb:.0f} MB; "
            f"429s {run.counts.throttled:,}"
        )
        summary = run.last_line("Applied") or run.last_line("")
        print(f"  printed: {summary or '(nothing)'}")
        for line in run.counts.lines():
            print(line)
        if not run.ok:
            print(run.failure())
        print(flush=True)

    def ids(self, m: int) -> None:
        targets = [("ids", "tenant-ids", m)]
        self.id_case(
            f"{m:,} IDs, 1 namespace", targets, m / DELETE_RECORDS_PER_S, f"{m:,} / 5,000/s"
        )
        quarter = m // 4
        targets = [
            (index, ns, quarter) for index in ("ids-a", "ids-b") for ns in ("tenant-x", "tenant-y")
        ]
        self.id_case(
            f"{4 * quarter:,} IDs, 2 indexes x 2 ns",
            targets,
            quarter * 2 / DELETE_RECORDS_PER_S,
            f"{quarter:,} x 2 ns / 5,000/s per index, both indexes at once",
        )

    def id_case(
        self, label: str, targets: list[tuple[str, str, int]], floor: float, how: str
    ) -> None:
        total = sum(n for _, _, n in targets)
        work = self.work / f"ids-{len(targets)}x{total}"
        policies = work / "policies"
        for index in sorted({t[0] for t in targets}):
            write_policy(policies, f"docs-{index}", index, [{"name": "docs", "idPrefix": "doc#"}])
        with Server() as server:
            for index, ns, n in targets:
                server.ask("ids", index, ns, "doc#", n)
                server.ask("ids", index, ns, "keep#", KEEP)
            planfile = work / "plan.json"
            argv = retention_argv("plan", str(policies), "--out", str(planfile), "--format", "json")
            print(f"ID apply, {label}: planned first ({' '.join(argv[-6:])})", flush=True)
            plan = run_counted(server, argv, work, "plan", self.timeout)
            print(
                f"  plan: {plan.exit}, {plan.wall:.1f}s, CPU {plan.cpu:.1f}s, "
                f"RSS {plan.rss_mb:.0f} MB (not part of the figure)"
            )
            if not plan.ok:
                print(plan.failure(), "\n", flush=True)
                self.row(f"apply PLAN.json, {label}", None, floor, "the plan failed")
                return
            argv = retention_argv("apply", str(planfile), str(policies))
            print(f"  retention: {' '.join(argv[-3:])}; floor {floor:.1f}s ({how})", flush=True)
            ours = run_counted(server, argv, work, "apply", self.timeout)
            left = sum(server.ask("left", index, ns) for index, ns, _ in targets)
            self.show_ids(ours, floor, total, left - KEEP * len(targets))
            self.row(
                f"apply PLAN.json, {label}",
                ours,
                floor,
                f"429s {ours.counts.throttled:,}, RSS {ours.rss_mb:.0f} MB",
            )
            for index, ns, n in targets:
                server.ask("ids", index, ns, "doc#", n)
            hosts = [(server.ask("host", index), ns) for index, ns, _ in targets]
            argv = [sys.executable, __file__, "--sdk-loop", json.dumps(hosts)]
            print(
                f"  official SDK loop, one (index, namespace) after another; floor {floor:.1f}s",
                flush=True,
            )
            sdk = run_counted(server, argv, work, "sdk", self.timeout)
            left = sum(server.ask("left", index, ns) for index, ns, _ in targets)
            self.show_ids(sdk, floor, total, left - KEEP * len(targets))
            self.row(
                f"  official SDK loop, {label}",
                sdk,
                floor,
                f"429s {sdk.counts.throttled:,}, RSS {sdk.rss_mb:.0f} MB",
            )

    def show_ids(self, run: Run, floor: float, total: int, left: int) -> None:
        rate = total / run.wall
        limit = total / floor
        print(
            f"    {run.exit}; wall {run.wall:.1f}s = {rate:,.0f} records/s of "
            f"{limit:,.0f}/s; ratio {floor / run.wall:.2f} (target >= 0.95); CPU "
            f"{run.cpu:.1f}s; peak RSS {run.rss_mb:.0f} MB; 429s {run.counts.throttled:,}; "
            f"{left:,} of the selected left"
        )
        print(f"    printed: {run.last_line('Applied') or run.last_line('') or '(nothing)'}")
        for line in run.counts.lines():
            print("  " + line)
        if not run.ok:
            print(run.failure())
        print(flush=True)

    def summary(self) -> None:
        print("side by side (ratio = floor / wall; 1.00 is the floor):")
        width = max([len(r.work) for r in self.rows] + [10])
        print(f"  {'work':<{width}} {'wall':>8} {'floor':>8} {'ratio':>6}  notes")
        for r in self.rows:
            wall = f"{r.wall:.1f}s" if r.wall else "-"
            floor = f"{r.floor:.1f}s" if r.floor else "-"
            print(f"  {r.work:<{width}} {wall:>8} {floor:>8} {r.ratio:>6}  {r.note}")
        if len(self.cpu_per_ns) > 1:
            values = self.cpu_per_ns.values()
            spread = max(values) / min(values)
            shown = ", ".join(f"{n:,}: {v:.2f}" for n, v in sorted(self.cpu_per_ns.items()))
            print(f"  plan CPU per namespace (ms) {shown}; spread {spread:.2f}x (target <= 1.3x)")


# -- the official SDK loop (its own process) --------------------------------------------------


def sdk_loop(hosts_json: str) -> int:
    """List the `doc#` IDs page by page and delete them in batches of 1,000, with the SDK."""
    from pinecone import Index

    deleted = gave_up = 0
    for host, namespace in json.loads(hosts_json):
        index = Index(host=host, api_key=KEY)
        batch: list[str] = []
        for page in index.list(prefix="doc#", namespace=namespace):
            batch.extend(v.id for v in page.vectors)
            while len(batch) >= 1000:
                gave_up += sdk_delete(index, namespace, batch[:1000])
                deleted += 1000
                del batch[:1000]
        if batch:
            gave_up += sdk_delete(index, namespace, batch)
            deleted += len(batch)
    print(f"SDK loop: {deleted:,} deleted; {gave_up} batches refused after the SDK's retries")
    return 0


def sdk_delete(index: Any, namespace: str, ids: list[str]) -> int:
    """Delete one batch; when the SDK's own retries are spent, wait a second and send it again.
    Returns how many times that happened."""
    from pinecone import RateLimitError

    refused = 0
    while True:
        try:
            index.delete(ids=ids, namespace=namespace)
            return refused
        except RateLimitError:
            refused += 1
            time.sleep(1)


# -- main -------------------------------------------------------------------------------------


def numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="plan,filtered,ids", help="plan,filtered,ids (all)")
    parser.add_argument("--namespaces", type=numbers, help="plan sizes (1000,3000,10000)")
    parser.add_argument("--ids", type=numbers, help="ID counts (30000,1000000)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before a command is killed (3600)"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sdk-loop", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.sdk_loop is not None:
        return sdk_loop(args.sdk_loop)
    only = {part.strip() for part in args.only.split(",")}
    unknown = only - {"plan", "filtered", "ids"}
    if unknown:
        parser.error(f"--only takes plan, filtered, ids; not {', '.join(sorted(unknown))}")
    sizes = args.namespaces or ([50, 150] if args.quick else [1000, 3000, 10_000])
    id_counts = args.ids or ([10_000] if args.quick else [30_000, 1_000_000])
    import retention

    print(f"measuring {Path(retention.__file__).parent} ({retention_argv()[0]})")
    print(
        f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"emulator at Pinecone's published limits",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        bench = Bench(args.timeout, Path(tmp))
        kept = None
        if "plan" in only:
            for n in sizes:
                last = n == max(sizes) and "filtered" in only
                kept = bench.plan(n, keep_for_apply=last) or kept
        if "filtered" in only:
            bench.filtered(max(sizes), kept, planned="plan" in only)
        if "ids" in only:
            for m in id_counts:
                bench.ids(m)
        print(f"load now: {os.getloadavg()[0]:.2f}\n")
        bench.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
