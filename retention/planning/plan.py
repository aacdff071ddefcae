"""The plan: a pure value that says exactly what an apply will delete, and why.

A plan is bound to the data it saw (`asOf`, counts, index hosts, policy digest), so an apply can
refuse it when the world has moved on. Its JSON form is the plan file and `--format json`; its
shape is `schemas/plan.v1.json` (a contract: scripts read it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Literal, TypeAlias

from retention.errors import PlanError
from retention.filters import Filter, FilterError, parse_filter, possibly, surely, to_json
from retention.policy.durations import parse_moment

PLAN_API_VERSION = "retention/v1"

ActionKind = Literal["deleteByFilter", "deleteByIds", "deleteAll", "deleteNamespace"]
CountMethod = Literal["dryRunCount", "filteredFetch", "enumeration", "namespaceStats"]
PolicyStatus = Literal["ready", "blocked", "observe", "suspended"]
IdSourceType = Literal["inline", "file", "prefix", "filter"]


@dataclass(frozen=True)
class InlineIds:
    """The IDs written in the policy."""

    ids: tuple[str, ...]
    type: ClassVar[IdSourceType] = "inline"


@dataclass(frozen=True)
class IdFile:
    """The IDs of a file, pinned by the digest of its content when the plan was made."""

    path: str
    sha256: str
    type: ClassVar[IdSourceType] = "file"


@dataclass(frozen=True)
class IdPrefix:
    """Every ID Pinecone lists with this prefix (all of the namespace's for "")."""

    prefix: str
    type: ClassVar[IdSourceType] = "prefix"


@dataclass(frozen=True)
class MatchingIds:
    """The records Pinecone's fetch-by-metadata returns for this filter."""

    filter: Filter
    type: ClassVar[IdSourceType] = "filter"


IdSource: TypeAlias = InlineIds | IdFile | IdPrefix | MatchingIds
"""Where a deleteByIds action gets its IDs."""


@dataclass(frozen=True)
class ByFilter:
    """One deleteByFilter request with `filter`, after Pinecone counts no record that matches
    both it and one of `protections` (the protections it must spare)."""

    filter: Filter
    protections: tuple[Filter, ...] = ()
    kind: ClassVar[ActionKind] = "deleteByFilter"


@dataclass(frozen=True)
class ByIds:
    """Deletes by ID, batch by batch, of the records of `source` whose freshly fetched metadata
    matches `where` (under every reading of Pinecone's filters) and no `protect` (under any)."""

    source: IdSource
    where: Filter | None = None
    protect: tuple[Filter, ...] = ()
    kind: ClassVar[ActionKind] = "deleteByIds"

    def allows(self) -> Callable[[Mapping[str, Any]], bool]:
        """True for a record's fresh metadata that this deletion may delete: `where` under
        every reading, no `protect` under any."""
        keep = surely(self.where) if self.where is not None else None
        protected = [possibly(p) for p in self.protect]

        def allowed(metadata: Mapping[str, Any]) -> bool:
            if keep is not None and not keep(metadata):
                return False
            return not any(p(metadata) for p in protected)

        return allowed


@dataclass(frozen=True)
class EveryRecord:
    """One deleteAll request: the namespace stays, empty."""

    kind: ClassVar[ActionKind] = "deleteAll"


@dataclass(frozen=True)
class WholeNamespace:
    """One delete-namespace request."""

    kind: ClassVar[ActionKind] = "deleteNamespace"


Deletion: TypeAlias = ByFilter | ByIds | EveryRecord | WholeNamespace
"""What an action asks of Pinecone; each kind carries exactly the parts it uses."""


@dataclass(frozen=True)
class Action:
    policy: str
    rule: str
    index: str
    namespace: str
    deletes: Deletion
    records: int
    count_method: CountMethod
    namespace_records: int
    condition: str
    # From a deleteAll/deleteNamespace rule: an explicit opt-in, which the default guard spares.
    explicit: bool = False
    samples: tuple[str, ...] = ()
    requests: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.policy}/{self.rule}/{self.index}/{self.namespace}"

    @property
    def kind(self) -> ActionKind:
        return self.deletes.kind

    @property
    def id_file(self) -> IdFile | None:
        """The ID file the action reads, if it reads one."""
        d = self.deletes
        return d.source if isinstance(d, ByIds) and isinstance(d.source, IdFile) else None


@dataclass(frozen=True)
class Guard:
    name: Literal["maxRecords", "maxPercent"]
    limit: float
    value: float
    ok: bool
    namespace: str | None = None
    default: bool = False
    """The documented default guard of a policy that sets no maxPercent of its own."""


@dataclass(frozen=True)
class Window:
    """Whether a policy's `spec.windows` were open at the plan's `asOf`, and until or from
    when (None: not within the week ahead)."""

    open: bool
    opens: datetime | None
    closes: datetime | None
    text: str


@dataclass(frozen=True)
class PolicyResult:
    name: str
    status: PolicyStatus
    records: int
    guards: tuple[Guard, ...] = ()
    reason: str | None = None
    overdue: int = 0
    """Records past the cutoff of one of its TTL rules (what those rules select)."""
    window: Window | None = None
    """At `asOf`, for a policy with windows."""


@dataclass(frozen=True)
class Overlap:
    index: str
    namespace: str
    actions: tuple[str, ...]
    records: int


@dataclass(frozen=True)
class InvalidTimestamps:
    """Records a TTL rule would select but whose time field holds no epoch number: they never
    expire under the rule, so the plan says how many there are (`records` is None when the
    namespace changed too fast while they were counted to give a number)."""

    policy: str
    rule: str
    index: str
    namespace: str
    field: str
    records: int | None


@dataclass(frozen=True)
class Totals:
    records: int
    namespaces: int
    indexes: int
    actions: int
    requests: int
    seconds: float


@dataclass(frozen=True)
class Sources:
    files: tuple[str, ...]
    digest: str
    git_revision: str | None = None


@dataclass(frozen=True)
class Plan:
    as_of: datetime
    tool_version: str
    sources: Sources
    index_hosts: Mapping[str, str]
    actions: tuple[Action, ...]
    policies: tuple[PolicyResult, ...]
    overlaps: tuple[Overlap, ...] = ()
    unmatched_namespaces: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    unmatched_holds: tuple[str, ...] = ()
    """Legal holds that protect nothing: their index is missing or no namespace matches."""
    invalid_timestamps: tuple[InvalidTimestamps, ...] = ()
    totals: Totals = field(default_factory=lambda: Totals(0, 0, 0, 0, 0, 0.0))

    def policy(self, name: str) -> PolicyResult:
        for result in self.policies:
            if result.name == name:
                return result
        raise KeyError(name)

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the whole plan document (everything but the fingerprint itself)."""
        return fingerprint_of(_body(self))


def fingerprint_of(body: Mapping[str, Any]) -> str:
    """The fingerprint of a plan document without its `fingerprint` key."""
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def format_time(moment: datetime) -> str:
    text = moment.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise PlanError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# JSON


def to_document(plan: Plan) -> dict[str, Any]:
    """The plan file / `--format json` document (schemas/plan.v1.json)."""
    body = _body(plan)
    head = {k: body.pop(k) for k in ("apiVersion", "kind", "asOf")}
    return {**head, "fingerprint": plan.fingerprint, **body}


def _body(plan: Plan) -> dict[str, Any]:
    return {
        "apiVersion": PLAN_API_VERSION,
        "kind": "Plan",
        "asOf": format_time(plan.as_of),
        "tool": {"name": "retention", "version": plan.tool_version},
        "sources": {
            "files": list(plan.sources.files),
            "digest": plan.sources.digest,
            "gitRevision": plan.sources.git_revision,
        },
        "indexes": [{"name": n, "host": h} for n, h in sorted(plan.index_hosts.items())],
        "policies": [_policy_doc(p) for p in plan.policies],
        "actions": [_action_doc(a) for a in plan.actions],
        "overlaps": [
            {
                "index": o.index,
                "namespace": o.namespace,
                "actions": list(o.actions),
                "records": o.records,
            }
            for o in plan.overlaps
        ],
        "unmatchedNamespaces": [{"index": i, "namespace": n} for i, n in plan.unmatched_namespaces],
        "unmatchedHolds": list(plan.unmatched_holds),
        "invalidTimestamps": [
            {
                "policy": t.policy,
                "rule": t.rule,
                "index": t.index,
                "namespace": t.namespace,
                "field": t.field,
                "records": t.records,
            }
            for t in plan.invalid_timestamps
        ],
        "warnings": list(plan.warnings),
        "totals": {
            "records": plan.totals.records,
            "namespaces": plan.totals.namespaces,
            "indexes": plan.totals.indexes,
            "actions": plan.totals.actions,
            "requests": plan.totals.requests,
            "seconds": round(plan.totals.seconds, 3),
        },
    }


def _policy_doc(p: PolicyResult) -> dict[str, Any]:
    return {
        "name": p.name,
        "status": p.status,
        "records": p.records,
        "reason": p.reason,
        "overdue": p.overdue,
        "window": _window_doc(p.window),
        "guards": [
            {
                "name": g.name,
                "limit": g.limit,
                "value": g.value,
                "ok": g.ok,
                "namespace": g.namespace,
                "default": g.default,
            }
            for g in p.guards
        ],
    }


def _window_doc(w: Window | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {
        "open": w.open,
        "opens": format_time(w.opens) if w.opens else None,
        "closes": format_time(w.closes) if w.closes else None,
        "windows": w.text,
    }


def _window_from(raw: Any) -> Window | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("open"), bool):
        raise PlanError(f"a policy's window is not an object with open: true|false: {_shown(raw)}")
    opens, closes = raw.get("opens"), raw.get("closes")
    return Window(
        raw["open"],
        parse_time(opens) if isinstance(opens, str) else None,
        parse_time(closes) if isinstance(closes, str) else None,
        str(raw.get("windows", "")),
    )


def _action_doc(a: Action) -> dict[str, Any]:
    parts = deletion_document(a.deletes)
    return {
        "id": a.id,
        "policy": a.policy,
        "rule": a.rule,
        "index": a.index,
        "namespace": a.namespace,
        "kind": parts["kind"],
        "condition": a.condition,
        "filter": parts["filter"],
        "idSource": parts["idSource"],
        "clientCheck": parts["clientCheck"],
        "protections": parts["protections"],
        "explicit": a.explicit,
        "records": {
            "count": a.records,
            "method": a.count_method,
            "ofNamespace": a.namespace_records,
        },
        "samples": list(a.samples),
        "cost": {"requests": a.requests, "seconds": round(a.seconds, 3)},
        "notes": list(a.notes),
    }


def deletion_document(d: Deletion) -> dict[str, Any]:
    """A deletion's parts as the plan file spells them: `kind`, `filter`, `idSource`,
    `clientCheck` and `protections`, each present (null or empty where the kind has none)."""
    parts: dict[str, Any] = {
        "kind": d.kind,
        "filter": None,
        "idSource": None,
        "clientCheck": None,
        "protections": [],
    }
    if isinstance(d, ByFilter):
        parts["filter"] = to_json(d.filter)
        parts["protections"] = [to_json(p) for p in d.protections]
    elif isinstance(d, ByIds):
        parts["idSource"] = _source_doc(d.source)
        if d.where is not None or d.protect:
            parts["clientCheck"] = {
                "where": None if d.where is None else to_json(d.where),
                "protect": [to_json(p) for p in d.protect],
            }
    return parts


def _source_doc(s: IdSource) -> dict[str, Any]:
    if isinstance(s, InlineIds):
        return {"type": s.type, "ids": list(s.ids)}
    if isinstance(s, IdFile):
        return {"type": s.type, "path": s.path, "sha256": s.sha256}
    if isinstance(s, IdPrefix):
        return {"type": s.type, "prefix": s.prefix}
    return {"type": s.type, "filter": to_json(s.filter)}


MAX_DEPTH = 100
"""How deeply a plan file may nest: policy filters are at most 64 deep, the plan adds a few."""


def from_document(doc: Mapping[str, Any]) -> Plan:
    """Read a plan file back; raises PlanError when it is not one this release wrote.

    The document is checked against `schemas/plan.v1.json` first, so a file of the wrong shape
    is one clear line, never a crash; then its fingerprint, over the whole document, must match.
    Whether its actions are what the policies say is `sealing.check_sealed`'s question.
    """
    if not isinstance(doc, Mapping):
        raise PlanError("not a plan file: a plan is a JSON object")
    if doc.get("apiVersion") != PLAN_API_VERSION or doc.get("kind") != "Plan":
        raise PlanError(
            f"not a plan file of this release (apiVersion {_shown(doc.get('apiVersion'))}, kind "
            f"{_shown(doc.get('kind'))}; expected {PLAN_API_VERSION} Plan)"
        )
    if _depth(doc) > MAX_DEPTH:
        raise PlanError(f"the plan file nests deeper than {MAX_DEPTH} levels; it is not a plan")
    problem = _shape_problem(doc)
    if problem:
        raise PlanError(f"the plan file is not a valid plan: {problem}")
    try:
        plan = _plan_from(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(
            f"the plan file is incomplete or corrupt ({type(exc).__name__}: {exc})"
        ) from None
    for raw, action in zip(doc["actions"], plan.actions, strict=True):
        if raw["id"] != action.id:
            raise PlanError(
                f"the plan file was modified: action {_shown(raw['id'])} is "
                f"{action.policy}/{action.rule} in {action.index}/{action.namespace}"
            )
    if plan.fingerprint != doc.get("fingerprint"):
        raise PlanError(
            "the plan file was modified after it was made, or made by another release (its "
            "fingerprint does not match its content); run `retention plan` again"
        )
    return plan


def _plan_from(doc: Mapping[str, Any]) -> Plan:
    """The plan a document of the right shape describes (KeyError and the like otherwise)."""
    return Plan(
        as_of=parse_time(doc["asOf"]),
        tool_version=doc["tool"]["version"],
        sources=Sources(
            tuple(doc["sources"]["files"]), doc["sources"]["digest"], doc["sources"]["gitRevision"]
        ),
        index_hosts={i["name"]: i["host"] for i in doc["indexes"]},
        actions=tuple(_action_from(a) for a in doc["actions"]),
        policies=tuple(_policy_from(p) for p in doc["policies"]),
        overlaps=tuple(
            Overlap(o["index"], o["namespace"], tuple(o["actions"]), o["records"])
            for o in doc["overlaps"]
        ),
        unmatched_namespaces=tuple(
            (u["index"], u["namespace"]) for u in doc["unmatchedNamespaces"]
        ),
        warnings=tuple(doc["warnings"]),
        unmatched_holds=tuple(doc.get("unmatchedHolds", ())),
        invalid_timestamps=tuple(
            InvalidTimestamps(
                t["policy"], t["rule"], t["index"], t["namespace"], t["field"], t["records"]
            )
            for t in doc.get("invalidTimestamps", ())
        ),
        totals=Totals(**doc["totals"]),
    )


def _policy_from(p: Mapping[str, Any]) -> PolicyResult:
    guards = tuple(
        Guard(
            g["name"], g["limit"], g["value"], g["ok"], g.get("namespace"), g.get("default", False)
        )
        for g in p["guards"]
    )
    overdue = p.get("overdue", 0)
    if isinstance(overdue, bool) or not isinstance(overdue, int) or overdue < 0:
        raise PlanError(f"policy {p['name']!r}: overdue is not a record count: {_shown(overdue)}")
    return PolicyResult(
        p["name"],
        p["status"],
        p["records"],
        guards,
        p.get("reason"),
        overdue=overdue,
        window=_window_from(p.get("window")),
    )


def _shape_problem(doc: Mapping[str, Any]) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from retention.policy.schema import PLAN_SCHEMA, load_schema

    error = best_match(Draft202012Validator(load_schema(PLAN_SCHEMA)).iter_errors(doc))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{where.lstrip('.') or 'the document'}: {message}"


def _depth(value: object) -> int:
    """How deeply `value` nests, without recursion (a hostile file may nest very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _action_from(a: Mapping[str, Any]) -> Action:
    return Action(
        policy=a["policy"],
        rule=a["rule"],
        index=a["index"],
        namespace=a["namespace"],
        deletes=_deletion_from(a),
        records=a["records"]["count"],
        count_method=a["records"]["method"],
        namespace_records=a["records"]["ofNamespace"],
        condition=a["condition"],
        explicit=a.get("explicit", False),
        samples=tuple(a["samples"]),
        requests=a["cost"]["requests"],
        seconds=a["cost"]["seconds"],
        notes=tuple(a["notes"]),
    )


def _deletion_from(a: Mapping[str, Any]) -> Deletion:
    """The deletion an action document describes; a part its kind does not use is refused, so
    what is executed is all that was written."""
    kind, where = a["kind"], f"action {_shown(a['id'])}"
    check, source, protections = a.get("clientCheck"), a["idSource"], a.get("protections", [])
    used = {
        "filter": a["filter"] is not None,
        "idSource": source is not None,
        "clientCheck": check is not None,
        "protections": bool(protections),
    }
    allowed = {
        "deleteByFilter": ("filter", "protections"),
        "deleteByIds": ("idSource", "clientCheck"),
    }.get(kind, ())
    stray = [name for name, present in used.items() if present and name not in allowed]
    if stray:
        raise PlanError(f"the plan file is not a valid plan: {where} is {kind}, yet has {stray[0]}")
    if kind == "deleteAll":
        return EveryRecord()
    if kind == "deleteNamespace":
        return WholeNamespace()
    if kind == "deleteByFilter":
        if a["filter"] is None:
            raise PlanError(f"the plan file is not a valid plan: {where} is {kind} without filter")
        return ByFilter(
            _tree(a["filter"], where, "filter"),
            tuple(_tree(p, where, "protections") for p in protections),
        )
    if source is None:
        raise PlanError(f"the plan file is not a valid plan: {where} is {kind} without idSource")
    check = check or {}
    return ByIds(
        _source_from(source, where),
        None if check.get("where") is None else _tree(check["where"], where, "clientCheck"),
        tuple(_tree(p, where, "clientCheck") for p in check.get("protect", ())),
    )


def _source_from(s: Mapping[str, Any], where: str) -> IdSource:
    needs = {"inline": "ids", "file": "sha256", "prefix": "prefix", "filter": "filter"}[s["type"]]
    extra = sorted(set(s) - {"type", needs} - ({"path"} if s["type"] == "file" else set()))
    if needs not in s or (s["type"] == "file" and "path" not in s) or extra:
        raise PlanError(
            f"the plan file is not a valid plan: {where} has an idSource of type {s['type']} "
            f"that is not one this release writes"
        )
    if s["type"] == "inline":
        return InlineIds(tuple(s["ids"]))
    if s["type"] == "file":
        return IdFile(s["path"], s["sha256"])
    if s["type"] == "prefix":
        return IdPrefix(s["prefix"])
    return MatchingIds(_tree(s["filter"], where, "idSource"))


def _tree(raw: object, where: str, part: str) -> Filter:
    """A filter of the plan file as a tree; one the policy parser refuses was not written by
    this release."""
    try:
        return parse_filter(raw)
    except FilterError as exc:
        raise PlanError(f"the plan file is not a valid plan: {where}: its {part}: {exc}") from None
