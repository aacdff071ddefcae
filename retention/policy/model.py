"""The policy model: frozen values built once from checked YAML, and pure questions about them.

Nothing here reads files or clocks: a TTL becomes an absolute cutoff only when the caller
passes `now`, so a plan made "as of" a moment can be recomputed exactly.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, TypeAlias

from retention.errors import Location
from retention.filters import Compare, Filter, and_
from retention.identifiers import canonical_namespace
from retention.policy.durations import format_duration
from retention.policy.windows import Windows

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
class Matching:
    """The records whose metadata match: the TTL cutoff, `where`, or both."""

    ttl: Ttl | None = None
    where: Filter | None = None
    kind: ClassVar[RuleKind] = "filter"

    def __post_init__(self) -> None:
        if self.ttl is None and self.where is None:
            raise ValueError("a Matching selector needs olderThan or where")


@dataclass(frozen=True, kw_only=True)
class _AlsoMatching:
    """The conditions an ID selector may add: each named record must also match them."""

    ttl: Ttl | None = None
    where: Filter | None = None


@dataclass(frozen=True)
class IdList(_AlsoMatching):
    """The IDs written in the rule."""

    ids: tuple[str, ...]
    kind: ClassVar[RuleKind] = "ids"


@dataclass(frozen=True)
class IdsFromFile(_AlsoMatching):
    """The IDs of an ID file."""

    file: IdsFile
    kind: ClassVar[RuleKind] = "idsFile"


@dataclass(frozen=True)
class IdsWithPrefix(_AlsoMatching):
    """The IDs Pinecone lists with a prefix."""

    prefix: str
    kind: ClassVar[RuleKind] = "idPrefix"


@dataclass(frozen=True)
class EmptyNamespaces:
    """`deleteAll: true`: every record; the namespaces stay."""

    kind: ClassVar[RuleKind] = "deleteAll"


@dataclass(frozen=True)
class DropNamespaces:
    """`deleteNamespace: true`: the namespaces themselves."""

    kind: ClassVar[RuleKind] = "deleteNamespace"


Selector: TypeAlias = (
    Matching | IdList | IdsFromFile | IdsWithPrefix | EmptyNamespaces | DropNamespaces
)
"""What a rule selects: one of the schema's mutually exclusive forms."""
IdSelector: TypeAlias = IdList | IdsFromFile | IdsWithPrefix


@dataclass(frozen=True)
class Rule:
    name: str
    location: Location
    selects: Selector
    description: str | None = None

    @property
    def kind(self) -> RuleKind:
        return self.selects.kind

    @property
    def destructive(self) -> bool:
        """Empties namespaces regardless of their records' metadata."""
        return isinstance(self.selects, EmptyNamespaces | DropNamespaces)

    @property
    def ttl(self) -> Ttl | None:
        s = self.selects
        return None if isinstance(s, EmptyNamespaces | DropNamespaces) else s.ttl

    @property
    def where(self) -> Filter | None:
        s = self.selects
        return None if isinstance(s, EmptyNamespaces | DropNamespaces) else s.where

    @property
    def ids_file(self) -> IdsFile | None:
        return self.selects.file if isinstance(self.selects, IdsFromFile) else None

    def condition(self, now: datetime) -> Filter | None:
        """The metadata condition (TTL cutoff AND `where`); None when the rule has none."""
        return and_(self.ttl.condition(now) if self.ttl else None, self.where)

    @property
    def time_fields(self) -> dict[str, str]:
        return {self.ttl.field: self.ttl.unit} if self.ttl else {}


@dataclass(frozen=True)
class Guards:
    """Blast-radius guards; None: not set (`trend_factor` None means the default, 10)."""

    max_records: int | None = None
    max_percent: float | None = None
    backup_above: int | None = None
    trend_factor: float | None = None


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
    windows: Windows = field(default_factory=Windows)
    """When deletions may run; empty: at any time."""
    suspend: bool = False
    """Plan and observe, but delete nothing."""
    canary: int | None = None
    """Delete at most this many records first and verify them before the rest."""
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    project: str | None = None
    """The Pinecone project of `index` (then written PROJECT:INDEX), None for the default."""


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
    project: str | None = None
    """The Pinecone project of `index` (then written PROJECT:INDEX), None for the default."""


@dataclass(frozen=True)
class ExampleRecord:
    """A record of a PolicyTest, as Pinecone would store it."""

    index: str
    namespace: str
    id: str
    metadata: Mapping[str, Any]
    location: Location


@dataclass(frozen=True)
class Expectation:
    """What the policies must do to one example record: delete it (`by` a policy or
    POLICY/RULE, if given) or not (`kept_by` protect[/POLICY], hold[/NAME] or observe)."""

    record: ExampleRecord
    deleted: bool
    by: str | None
    kept_by: str | None
    location: Location


@dataclass(frozen=True)
class PolicyTest:
    """`kind: PolicyTest`: example records and expectations, judged offline at `at`."""

    name: str
    at: datetime
    expectations: tuple[Expectation, ...]
    location: Location


@dataclass(frozen=True)
class PolicySet:
    """Everything loaded from the policy paths, and a digest of its content."""

    policies: tuple[Policy, ...]
    holds: tuple[LegalHold, ...]
    files: tuple[str, ...]
    digest: str
    tests: tuple[PolicyTest, ...] = ()

    def holds_for(self, index: str, namespace: str) -> tuple[LegalHold, ...]:
        return tuple(h for h in self.holds if h.index == index and h.namespaces.matches(namespace))

    def protections_for(self, policy: Policy, namespace: str) -> tuple[Filter, ...]:
        """The policy's own protections and every legal hold on this index and namespace."""
        held = (p for h in self.holds_for(policy.index, namespace) for p in h.protect)
        return (*policy.protect, *held)
