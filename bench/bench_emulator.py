"""Is the emulator ever the bottleneck? Prints throughput figures; not a test, never fails.

1. Deletes by ID over HTTP with limits off: 1,000-ID requests from a few client threads.
2. A filtered delete and an update dry-run count over 1,000,000 records in one namespace.

Run: .venv/bin/python bench/bench_emulator.py [--records 1000000] [--delete-records 200000]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from retention.emulator import Emulator, EmulatorConfig

DIM = 4


def _seed(emulator: Emulator, namespace: str, n: int) -> float:
    began = time.perf_counter()
    emulator.upsert(
        "bench",
        namespace,
        (
            (f"doc-{i:07}", [1.0, 0.0, 0.0, float(i % 10)], {"age": i % 100, "team": f"t{i % 7}"})
            for i in range(n)
        ),
        validate=False,
    )
    return time.perf_counter() - began


def bench_delete_by_id(emulator: Emulator, total: int, threads: int) -> float:
    _seed(emulator, "ids", total)
    batches = [
        [f"doc-{i:07}" for i in range(s, min(s + 1000, total))] for s in range(0, total, 1000)
    ]
    clients = [
        httpx.Client(base_url=emulator.index_host("bench"), headers={"Api-Key": "k"})
        for _ in range(threads)
    ]

    def send(k: int) -> None:
        r = clients[k % threads].post(
            "/vectors/delete", json={"ids": batches[k], "namespace": "ids"}
        )
        r.raise_for_status()

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(len(batches))))
    elapsed = time.perf_counter() - began
    for client in clients:
        client.close()
    assert emulator.records("bench", "ids") == {}
    return total / elapsed


def bench_filtered(emulator: Emulator, n: int) -> tuple[float, float, float, int]:
    seed_s = _seed(emulator, "big", n)
    with httpx.Client(base_url=emulator.index_host("bench"), timeout=120) as client:
        flt = {"$and": [{"age": {"$lt": 30}}, {"team": {"$ne": "t3"}}]}
        began = time.perf_counter()
        r = client.post("/vectors/update", json={"namespace": "big", "filter": flt, "dryRun": True})
        dry_s = time.perf_counter() - began
        matched = int(r.json()["matchedRecords"])
        began = time.perf_counter()
        client.post("/vectors/delete", json={"namespace": "big", "filter": flt}).raise_for_status()
        delete_s = time.perf_counter() - began
    assert len(emulator.records("bench", "big")) == n - matched
    return seed_s, dry_s, delete_s, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--delete-records", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("bench", DIM),))) as emulator:
        rate = bench_delete_by_id(emulator, args.delete_records, args.threads)
        print(
            f"delete by ID over HTTP, limits off: {rate:,.0f} records/s "
            f"({args.delete_records:,} records in 1,000-ID requests, {args.threads} client threads)"
        )
        seed_s, dry_s, delete_s, matched = bench_filtered(emulator, args.records)
        print(f"seeded {args.records:,} records in-process in {seed_s:.1f} s")
        print(
            f"update dry-run count over {args.records:,} records: {dry_s:.2f} s ({matched:,} matched)"
        )
        print(
            f"filtered delete over {args.records:,} records: {delete_s:.2f} s ({matched:,} deleted)"
        )
        print(
            f"Pinecone's published ceiling for comparison: 5,000 deleted records/s per namespace "
            f"and index; the emulator is {rate / 5000:.0f}x that"
        )


if __name__ == "__main__":
    main()
