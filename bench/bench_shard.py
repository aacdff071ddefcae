"""Benchmark sharded `retention run`: one process against three `--shard I/3` processes, each
setup on its own emulator seeded alike, timed from the processes' start until every one has
applied its policies and exited on SIGTERM.

Run:  .venv/bin/python bench/bench_shard.py [--indexes 12] [--records 20000] [--shards 3]

The emulator serves from this process (in memory, Pinecone's limits on); the reconcilers are
separate processes, as pods would be. On a machine with fewer cores than processes, they and
the emulator share the CPU, and the ratios to the floor measure that too.

Each index has one namespace of N records, all selected by an idPrefix rule: listed (100 IDs
a page, 200 list requests/s per index), then deleted by ID (5,000 records/s per index). The
limits are per index, so the floor is the same for one process and for N shards:
  start delay (1 s) + N/100/200 s + N/5,000 s,
whatever the number of indexes, when every index runs at its limits in parallel. The figures:
each setup against that floor, sharded against single, and the 429s the processes were answered.
This prints figures; it does not pass or fail.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retention.emulator import Emulator, EmulatorConfig  # noqa: E402

KEY = "bench-key"


def seeded(names: list[str], records: int) -> Emulator:
    """An emulator at Pinecone's limits (in this process, in memory) holding the indexes."""
    emulator = Emulator.start(EmulatorConfig(limits="pinecone"))
    for name in names:
        emulator.create_index(name, 2)
        rows = [(f"gone#{r:06d}", [0.1, 0.2], {"n": r}) for r in range(records)]
        emulator.upsert(name, "t-a", rows, validate=False)
    return emulator


def policies(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    docs = [
        {
            "apiVersion": "retention/v1",
            "kind": "RetentionPolicy",
            "metadata": {"name": f"erase-{name}"},
            "spec": {
                "index": name,
                "namespaces": {"include": ["t-*"]},
                "schedule": "1h",
                "jitter": "1s",
                "limits": {"maxPercent": 100},
                "rules": [{"name": "erase", "idPrefix": "gone#"}],
            },
        }
        for name in names
    ]
    (folder / "p.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return folder


def reconcile(url: str, folder: Path, work: Path, names: list[str], shards: int) -> float:
    """Seconds from starting the `retention run` processes until all applied and exited."""
    env = {**os.environ, "PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": url}
    started = time.monotonic()
    procs = []
    for i in range(shards):
        home = work / f"run-{i}"
        home.mkdir()
        argv = [sys.executable, "-m", "retention", "run", str(folder), "--http-port", "0"]
        argv += ["--http-host", "127.0.0.1", "--state-dir", str(home / "state")]
        argv += ["--shard", f"{i}/{shards}"] if shards > 1 else []
        procs.append(
            subprocess.Popen(
                argv,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(home / "run.log").open("wb"),
            )
        )
    wanted = {f"erase-{n}.report.json" for n in names}
    while True:
        done = {
            p.name
            for i in range(shards)
            for p in (work / f"run-{i}" / "state").glob("*.report.json")
        }
        if done >= wanted:
            break
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a retention run exited early; see {work}/run-*/run.log")
        time.sleep(0.05)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    return time.monotonic() - started


def refused(work: Path) -> int:
    """429s the `retention run` processes were answered (each logged as a pinecone_retry)."""
    count = 0
    for log in work.glob("run-*/run.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                count += event.get("event") == "pinecone_retry" and event.get("status") == 429
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexes", type=int, default=12)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=3)
    args = parser.parse_args()
    floor = 1.0 + args.records / 100 / 200 + args.records / 5_000
    names = [f"tenant-index-{i:02d}" for i in range(args.indexes)]
    with tempfile.TemporaryDirectory(prefix="bench-shard-") as tmp:
        work = Path(tmp)
        folder = policies(work / "policies", names)
        results = {}
        for label, shards in (("single", 1), ("sharded", args.shards)):
            with seeded(names, args.records) as emulator:
                here = work / label
                here.mkdir()
                seconds = reconcile(emulator.controller_url, folder, here, names, shards)
                left = sum(len(emulator.records(n, "t-a")) for n in names)
                assert left == 0, f"{label}: {left} records left"
                results[label] = (seconds, refused(here))
        total = args.indexes * args.records
        print(
            f"{args.indexes} indexes x {args.records:,} records deleted by ID ({total:,}); "
            f"floor at Pinecone's per-index limits: {floor:.1f} s"
        )
        for label, (seconds, answered_429) in results.items():
            print(
                f"  {label:8} {seconds:6.1f} s   {seconds / floor:4.2f}x the floor   "
                f"{total / seconds:9,.0f} records/s   {answered_429} 429s"
            )
        print(f"  sharded / single: {results['sharded'][0] / results['single'][0]:.2f}")


if __name__ == "__main__":
    main()
