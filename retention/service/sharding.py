"""Sharded scale-out: which (project, index) pairs one `retention run` replica reconciles.

Pinecone's data-plane limits are per index and per namespace, so replicas that never share an
index never compete for a budget: each keeps the whole per-index rate budget to itself. A pair
belongs to exactly one of N shards, chosen by a jump consistent hash (Lamping and Veach, 2014)
of the SHA-256 of the pair, the same in every process, on every machine and Python version.
Going from N to N+1 shards moves only about 1/(N+1) of the indexes.

Every replica still loads and validates the whole policy directory (one bad file is refused by
all of them alike); it schedules only the policies of its own shard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from retention.errors import RetentionError
from retention.policy import PolicySet

MAX_SHARDS = 1024

_ORDINAL = re.compile(r"-([0-9]{1,6})$")
_SPLIT = re.compile(r"^([0-9]{1,6})/([0-9]{1,6})$")
_COUNT = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based, like a StatefulSet pod's ordinal)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise RetentionError(f"a shard count must be between 1 and {MAX_SHARDS}: {self.count}")
        if not 0 <= self.index < self.count:
            raise RetentionError(
                f"shard {self.index} does not exist among {self.count} "
                f"(shards are numbered 0 to {self.count - 1})"
            )

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, project: str | None, index: str) -> bool:
        return shard_of(project, index, self.count) == self.index

    def restrict(self, policies: PolicySet) -> PolicySet:
        """The set this shard reconciles: the policies of its indexes, and the legal holds that
        reach them. A hold is kept when its own index is in the shard, when it names the index of
        a kept policy (a hold matches policies by index name, and sharding must never take a
        protection away), or when no policy at all uses its index: such a hold is most likely
        mistyped, and every shard then reports it (`retention_hold_unmatched`), so a shard
        without policies cannot hide it."""
        if self.count == 1:
            return policies
        owned = tuple(p for p in policies.policies if self.owns(p.project, p.index))
        names = {p.index for p in owned}
        used = {p.index for p in policies.policies}
        holds = tuple(
            h
            for h in policies.holds
            if self.owns(h.project, h.index) or h.index in names or h.index not in used
        )
        return dataclasses.replace(policies, policies=owned, holds=holds)


def shard_of(project: str | None, index: str, count: int) -> int:
    """The shard (0 to count-1) of an index of a project (None: the default project)."""
    digest = hashlib.sha256(f"{project or ''}\0{index}".encode()).digest()
    return jump_hash(int.from_bytes(digest[:8], "big"), count)


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash of a 64-bit key into `buckets` buckets."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def parse_shard(value: str | None, env: Mapping[str, str]) -> Shard:
    """`--shard`: None (every index), `I/N`, or `auto`: I from the pod name's ordinal (POD_NAME,
    else HOSTNAME: a StatefulSet names its pods NAME-0, NAME-1, ...) and N from RETENTION_SHARDS.
    Anything else is one line naming what is wrong."""
    if value is None:
        return Shard()
    text = value.strip()
    split = _SPLIT.match(text)
    if split:
        return Shard(int(split.group(1)), int(split.group(2)))
    if text != "auto":
        raise RetentionError(f"--shard must be I/N (for example 0/3) or auto, got: {value!r}")
    return _auto(env)


def _auto(env: Mapping[str, str]) -> Shard:
    count_text = env.get("RETENTION_SHARDS", "").strip()
    if not _COUNT.match(count_text):
        raise RetentionError(
            "--shard auto needs RETENTION_SHARDS, the number of shards (the StatefulSet's "
            f"replicas), as a whole number; got: {count_text[:40] or 'nothing'!r}"
        )
    count = int(count_text)
    name = env.get("POD_NAME") or env.get("HOSTNAME") or ""
    ordinal = _ORDINAL.search(name)
    if not ordinal:
        raise RetentionError(
            f"--shard auto takes the shard from the pod name's ordinal (NAME-0, NAME-1, ...), "
            f"but POD_NAME/HOSTNAME is {name[:80] or 'not set'!r}"
        )
    index = int(ordinal.group(1))
    if 1 <= count <= MAX_SHARDS and index >= count:
        raise RetentionError(
            f"pod {name} is shard {index}, but RETENTION_SHARDS is {count}: set RETENTION_SHARDS "
            "to the StatefulSet's replicas (this pod starts nothing until then)"
        )
    return Shard(index, count)
