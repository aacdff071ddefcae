"""Shards: every (project, index) pair in exactly one, the same everywhere, few moves on resize,
holds never lost, and every bad `--shard` one line."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from retention.errors import RetentionError
from retention.policy import load_policies
from retention.service.sharding import Shard, jump_hash, parse_shard, shard_of
from tests.builders import hold, policy, ttl_rule, write_policies

INDEXES = [f"index-{i:03d}" for i in range(600)]


def test_every_index_falls_in_exactly_one_shard() -> None:
    for count in (1, 2, 3, 7):
        shards = [Shard(i, count) for i in range(count)]
        for index in INDEXES:
            assert sum(s.owns(None, index) for s in shards) == 1


def test_the_hash_is_stable_across_processes_and_versions() -> None:
    """Known values: a change here would move indexes between running replicas."""
    # The published reference implementation's values (Lamping and Veach; ports in Rust and Python).
    assert [jump_hash(256, 1024), jump_hash(0, 60), jump_hash(1, 60), jump_hash(2, 60)] == [
        520,
        0,
        55,
        46,
    ]
    # The key is SHA-256 of PROJECT NUL INDEX: pinned, so a change that moves indexes fails here.
    assert [shard_of(None, "support-prod", n) for n in (2, 3, 4, 8)] == [1, 2, 2, 2]
    assert [shard_of("analytics", "events", n) for n in (2, 3, 4, 8)] == [1, 1, 1, 1]
    script = "from retention.service.sharding import shard_of; print(shard_of('p', 'idx', 5))"
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert int(other.stdout) == shard_of("p", "idx", 5)


def test_shards_are_balanced_and_a_resize_moves_few_indexes() -> None:
    counts = Counter(shard_of(None, index, 4) for index in INDEXES)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > len(INDEXES) / 4 * 0.75
    moved = sum(shard_of(None, i, 4) != shard_of(None, i, 5) for i in INDEXES)
    assert moved < len(INDEXES) / 5 * 1.4  # about 1/5 move, never a reshuffle
    assert all(
        shard_of(None, i, 5) == 4 for i in INDEXES if shard_of(None, i, 4) != shard_of(None, i, 5)
    )


def test_the_project_is_part_of_the_key() -> None:
    differ = [i for i in INDEXES if shard_of(None, i, 8) != shard_of("analytics", i, 8)]
    assert differ


def test_restrict_keeps_the_shards_policies_and_every_hold_that_reaches_them(
    tmp_path: Path,
) -> None:
    docs = [
        policy(f"p{i}", f"idx{i}", ["*"], [ttl_rule("old", "1d")], limits={"maxPercent": 100})
        for i in range(12)
    ]
    docs += [hold(f"h{i}", f"idx{i}", ["*"], [{"keep": True}]) for i in range(12)]
    docs += [hold("h-lonely", "idx-without-policy", ["*"], [{"keep": True}])]
    policies = load_policies([str(write_policies(tmp_path, docs))])
    shards = [Shard(i, 3) for i in range(3)]
    restricted = [s.restrict(policies) for s in shards]
    names = [{p.name for p in r.policies} for r in restricted]
    assert set().union(*names) == {p.name for p in policies.policies}
    assert sum(len(n) for n in names) == len(policies.policies)
    for r in restricted:
        assert r.digest == policies.digest
        for p in r.policies:
            assert {h.name for h in policies.holds_for(p.index, "ns")} <= {h.name for h in r.holds}
    lonely = [r for r in restricted if "h-lonely" in {h.name for h in r.holds}]
    assert len(lonely) == 3  # no policy uses its index: every shard reports it
    assert Shard().restrict(policies) is policies


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        (None, {}, Shard(0, 1)),
        ("1/3", {}, Shard(1, 3)),
        (" 0/1 ", {}, Shard(0, 1)),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "retention-2"}, Shard(2, 3)),
        (
            "auto",
            {"RETENTION_SHARDS": "3", "POD_NAME": "retention-0", "HOSTNAME": "x-2"},
            Shard(0, 3),
        ),
    ],
)
def test_parse_shard(value: str | None, env: dict[str, str], expected: Shard) -> None:
    assert parse_shard(value, env) == expected


@pytest.mark.parametrize(
    ("value", "env", "says"),
    [
        ("3/3", {}, "numbered 0 to 2"),
        ("0/0", {}, "between 1 and 1024"),
        ("-1/3", {}, "I/N"),
        ("1/3/4", {}, "I/N"),
        ("one", {}, "I/N"),
        ("auto", {}, "RETENTION_SHARDS"),
        ("auto", {"RETENTION_SHARDS": "three", "HOSTNAME": "r-0"}, "whole number"),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "laptop"}, "ordinal"),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "retention-3"}, "StatefulSet's replicas"),
        ("auto", {"RETENTION_SHARDS": "0", "HOSTNAME": "retention-0"}, "between 1 and 1024"),
        ("9" * 5000 + "/3", {}, "I/N"),
        ("0/" + "1" * 5000, {}, "I/N"),
        ("\u0663/5", {}, "I/N"),
        ("auto", {"RETENTION_SHARDS": "9" * 5000, "HOSTNAME": "r-0"}, "whole number"),
        ("auto", {"RETENTION_SHARDS": "\u00b2", "HOSTNAME": "r-1"}, "whole number"),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "r-" + "1" * 5000}, "ordinal"),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "retention-\u0663"}, "ordinal"),
        ("auto", {"RETENTION_SHARDS": "3", "HOSTNAME": "retention-"}, "ordinal"),
    ],
)
def test_a_bad_shard_is_one_line(value: str, env: dict[str, str], says: str) -> None:
    with pytest.raises(RetentionError) as caught:
        parse_shard(value, env)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)
