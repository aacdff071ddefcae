"""Sharded scale-out, with the real tool: three `retention run --shard I/3` processes against one
emulator at Pinecone's limits, next to one unsharded `retention run` against an identical second
emulator. The shards cover every policy exactly once, no request is refused, and the two
emulators end with the same records."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.policy import load_policies
from retention.service.sharding import Shard, shard_of
from tests.builders import hold, policy, seed, ttl_rule, write_policies
from tests.service.test_run import served, wait_for

SHARDS = 3
DAY = 86_400


def index_names() -> list[str]:
    """Eight index names that put at least two in each of the three shards."""
    names: list[str] = []
    per: dict[int, int] = {}
    i = 0
    while len(names) < 8 or min(per.get(s, 0) for s in range(SHARDS)) < 2:
        name = f"tenant-index-{i:02d}"
        shard = shard_of(None, name, SHARDS)
        per[shard] = per.get(shard, 0) + 1
        names.append(name)
        i += 1
    return names


class Refusals:
    """Wraps the emulator's limiter and counts every request it refused (a 429)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refused: list[tuple[str, str]] = []

    def charge(self, index: str, namespace: str, costs: Sequence[Any], **when: Any) -> Any:
        denial = self.inner.charge(index, namespace, costs, **when)
        if denial is not None:
            self.refused.append((index, namespace))
        return denial


def seeded(indexes: list[str], now: float) -> Emulator:
    emulator = Emulator.start(EmulatorConfig(limits="pinecone"))
    for n, name in enumerate(indexes):
        emulator.create_index(name, 2)
        seed(
            emulator,
            name,
            {
                f"t-{t}": {
                    f"{name}-{t}-{r:04d}": {
                        "created_at": int(now - ((r * 7 + n) % 120) * DAY),
                        **({"legal_hold": True} if r % 13 == 0 else {}),
                    }
                    for r in range(400)
                }
                for t in range(3)
            },
        )
    return emulator


def write(folder: Path, indexes: list[str]) -> Path:
    docs = [
        policy(
            f"expire-{name}",
            name,
            ["t-*"],
            [ttl_rule("old", f"{30 + 10 * (n % 3)}d")],
            schedule="30s",  # first firing within 3 s of start-up (its default jitter)
            limits={"maxPercent": 100},
        )
        for n, name in enumerate(indexes)
    ]
    docs.append(hold("litigation", indexes[0], ["t-*"], [{"legal_hold": True}]))
    docs.append(hold("litigation-2", indexes[-1], ["t-*"], [{"legal_hold": True}]))
    return write_policies(folder, docs)


def records(emulator: Emulator, indexes: list[str]) -> dict[tuple[str, str], set[str]]:
    return {
        (name, f"t-{t}"): set(emulator.records(name, f"t-{t}"))
        for name in indexes
        for t in range(3)
    }


def events(log: Path, name: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def reconciled(state: Path) -> set[str]:
    return {p.name.removesuffix(".report.json") for p in state.glob("*.report.json")}


def metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[list[str], Emulator, Emulator, Path]]:
    indexes = index_names()
    now = time.time()
    with ExitStack() as stack:
        sharded = stack.enter_context(seeded(indexes, now))
        single = stack.enter_context(seeded(indexes, now))
        yield indexes, sharded, single, write(tmp_path / "policies", indexes)


@pytest.mark.slow
def test_three_shards_cover_every_policy_once_without_429s_and_delete_as_one(
    world: tuple[list[str], Emulator, Emulator, Path], tmp_path: Path
) -> None:
    indexes, sharded, single, policies = world
    refusals = Refusals(sharded.runtime.enforcer)
    sharded.runtime.enforcer = refusals
    names = {f"expire-{name}" for name in indexes}
    before = records(sharded, indexes)
    assert before == records(single, indexes)

    with ExitStack() as stack:
        runs = [
            stack.enter_context(
                served(sharded, policies, tmp_path / f"shard-{i}", "--shard", f"{i}/{SHARDS}")
            )
            for i in range(SHARDS)
        ]
        alone = stack.enter_context(served(single, policies, tmp_path / "single"))
        for run in [*runs, alone]:
            wait_for(lambda run=run: bool(reconciled(run.state)), timeout=60)
        wait_for(lambda: set().union(*(reconciled(r.state) for r in runs)) >= names, timeout=90)
        wait_for(lambda: reconciled(alone.state) >= names, timeout=90)

        # Coverage: complete and disjoint, each shard exactly what its hash gives it.
        whole = load_policies([str(policies)])
        scheduled = []
        for i, run in enumerate(runs):
            mine = {e["policy"] for e in events(run.log, "policy_scheduled")}
            expected = {p.name for p in Shard(i, SHARDS).restrict(whole).policies}
            assert mine == expected == reconciled(run.state), i
            assert mine, f"shard {i} got no index"
            ready = httpx.get(run.url + "/readyz", timeout=5).json()
            assert ready["shard"] == f"{i}/{SHARDS}" and ready["policies"] == len(mine)
            assert metric(run.url, f'retention_shard_info{{shard="{i}",shards="{SHARDS}"}}') == 1
            assert metric(run.url, "retention_policies_scheduled") == len(mine)
            assert metric(run.url, "retention_pinecone_rate_limited_total") == 0
            scheduled.append(mine)
        assert set().union(*scheduled) == names
        assert sum(len(s) for s in scheduled) == len(names)

    # No 429 from anyone, and the same deletions as one process made.
    assert refusals.refused == []
    after = records(sharded, indexes)
    assert after == records(single, indexes)
    assert after != before
    for (name, ns), ids in before.items():  # the two holds kept every held record
        held = {r for r in ids if int(r.rsplit("-", 1)[1]) % 13 == 0}
        if name in (indexes[0], indexes[-1]):
            assert held <= after[(name, ns)]
