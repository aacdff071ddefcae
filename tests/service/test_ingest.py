"""`retention run` under steady ingest: firings apply, whatever arrives while they run.

A writer adds expired records (and fresh ones) every 100 ms to the namespace a TTL
policy (2 s schedule) reconciles, against an emulator with Pinecone's limits and a visibility lag. Each
firing's plan is its own count, so new matches arriving during the firing never fail it; the
verification reads past each delete's LSN, so records written after the delete never hold it
up; and verification never waits past half the time to the next firing.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.service.test_run import free_port, start_run

POLICY = """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: ttl}
spec:
  index: idx
  namespaces: {include: ["t-*"]}
  schedule: 2s
  limits: {maxPercent: 100}
  onInvalidTimestamps: fail
  rules:
    - {name: old, olderThan: 1d, field: created_at}
    - {name: drafts, where: {kind: {$eq: draft}}}
"""

SECONDS = 16.0


@pytest.mark.slow
def test_firings_under_steady_ingest_all_apply(tmp_path: Path) -> None:
    config = EmulatorConfig(indexes=(("idx", 4),), lag_ms=150)
    with Emulator.start(config) as emu:
        now = time.time()
        emu.upsert("idx", "t-a", [(f"seed-{i}", [0.1] * 4, {"created_at": now}) for i in range(50)])
        policies = tmp_path / "policies"
        policies.mkdir()
        (policies / "p.yaml").write_text(POLICY)
        log = tmp_path / "run.log"
        stop = threading.Event()
        written = Counter[str]()

        def writer() -> None:
            n = 0
            while not stop.is_set():
                t = time.time()
                batch = [
                    (f"old-{n}-{i}", [0.1] * 4, {"created_at": t - 2 * 86_400}) for i in range(1)
                ]
                batch.append((f"new-{n}", [0.1] * 4, {"created_at": t, "kind": "ticket"}))
                if n % 3 == 0:
                    batch.append((f"draft-{n}", [0.1] * 4, {"created_at": t, "kind": "draft"}))
                emu.upsert("idx", "t-a", batch)
                written["old"] += 1
                n += 1
                time.sleep(0.1)

        thread = threading.Thread(target=writer, daemon=True)
        proc = start_run(emu, policies, log, "--http-port", str(free_port()))
        try:
            thread.start()
            time.sleep(SECONDS)
            stop.set()
            thread.join()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        by_event = Counter(e["event"] for e in events)
        finished = [e for e in events if e["event"] == "apply_finished"]
        assert by_event["reconcile_failed"] == 0, [
            e for e in events if e["event"] == "reconcile_failed"
        ]
        assert by_event["reconcile_crashed"] == 0
        assert len(finished) >= SECONDS / 2 - 2, by_event
        assert all(e["failed"] == 0 for e in finished)
        # Verification by LSN: a firing never waited for records written after its deletes.
        assert all(e["seconds"] < 5 for e in finished), [e["seconds"] for e in finished]
        left = emu.records("idx", "t-a")
        expired_left = [i for i in left if i.startswith("old-")]
        assert len(expired_left) <= 30  # only the last couple of seconds' arrivals
