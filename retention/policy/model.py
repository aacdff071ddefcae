"""The policy model: frozen values built once from checked YAML, and pure questions about them.

Nothing here reads files or clocks: a TTL becomes an absolute cutoff only when the caller
passes `now`, so a plan made "as of" a moment can be recomputed exactly.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from retention.errors import Location
from retention.filters import Compare, Filter, and_
from retention.identifiers import canonical_namespace
from retention.policy.durations import format_duration

RuleKind = Literal["filter", "ids", "idsFile", "idPrefix", "deleteAll", "deleteNamespace"]


@dataclass(frozen=True)
class NamespaceSelector:
    """Glob patterns over namespace names; exclude wins over include."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def matches(self, namespace: str) -> bool:
        name = canonical_namespace(namespace)
        return any(_glob(p).match(name) for p in self.include) and not any(
            _glob(p).match(name) for p in self.exclude
        )


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


@dataclass(frozen=True)
class Ttl:
    """Records whose `field` (epoch seconds or milliseconds) is older than `older_than`."""

    older_than: timedelta
    field: str
    unit: Literal["s", "ms"] = "s"

    def cutoff(self, now: datetime) -> float:
        """The epoch value in this TTL's unit below which a record has expired at `now`."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        seconds = (now - self.older_than).timestamp()
        return round(seconds * 1000) if self.unit == "ms" else seconds

    def condition(self, now: datetime) -> Filter:
        value = self.cutoff(now)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return Compare(self.field, "$lt", value)

    def __str__(self) -> str:
        return f"{self.field} older than {format_duration(self.older_than)}"


@dataclass(frozen=True)
class IdsFile:
    """A file of record IDs, one per line; `sha256` pins its content into the plan."""

    path: str
    count: int
    sha256: str


@dataclass(frozen=True)
class Rule:
    name: str
    location: Location
    ttl: Ttl | None = None
    where: Filter | None = None
    ids: tuple[str, ...] | None = None
    ids_file: IdsFile | None = None
    id_prefix: str | None = None
    delete_all: bool = False
    delete_namespace: bool = False
    description: str | None = None

    @property
    def kind(self) -> RuleKind:
        if self.delete_namespace:
            return "deleteNamespace"
        if self.delete_all:
            return "deleteAll"
        if self.ids is not None:
            return "ids"
        if self.ids_file is not None:
            return "idsFile"
        if self.id_prefix is not None:
            return "idPrefix"
        return "filter"

    @property
    def destructive(self) -> bool:
        """Empties namespaces regardless of their records' metadata."""
        return self.delete_all or self.delete_namespace

    def condition(self, now: datetime) -> Filter | None:
        """The metadata condition (TTL cutoff AND `where`); None when the rule has none."""
        return and_(self.ttl.condition(now) if self.ttl else None, self.where)

    @property
    def time_fields(self) -> dict[str, str]:
        return {self.ttl.field: self.ttl.unit} if self.ttl else {}


@dataclass(frozen=True)
class Guards:
    max_records: int | None = None
    max_percent: float | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    index: str
    namespaces: NamespaceSelector
    rules: tuple[Rule, ...]
    location: Location
    protect: tuple[Filter, ...] = ()
    guards: Guards = Guards()
    schedule: str | None = None
    jitter: timedelta | None = None
    mode: Literal["enforce", "observe"] = "enforce"
    on_invalid_timestamps: Literal["warn", "fail"] = "warn"
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class LegalHold:
    """Protections for an index that apply to every policy, so that removing or editing a
    policy can never release held records."""

    name: str
    index: str
    namespaces: NamespaceSelector
    protect: tuple[Filter, ...]
    location: Location
    description: str | None = None


@dataclass(frozen=True)
class PolicySet:
    """Everything loaded from the policy paths, and a digest of its content."""

    policies: tuple[Policy, ...]
    holds: tuple[LegalHold, ...]
    files: tuple[str, ...]
    digest: str

    def holds_for(self, index: str, namespace: str) -> tuple[LegalHold, ...]:
        return tuple(h for h in self.holds if h.index == index and h.namespaces.matches(namespace))

    def protections_for(self, policy: Policy, namespace: str) -> tuple[Filter, ...]:
        """The policy's own protections and every legal hold on this index and namespace."""
        held = (p for h in self.holds_for(policy.index, namespace) for p in h.protect)
        return (*policy.protect, *held)
