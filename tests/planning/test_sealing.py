"""The sealed plan: every edit of what an action selects is refused, fingerprint or not."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.errors import PlanError
from retention.filters import SEMANTICS_VARIANTS
from retention.planning.plan import Plan, fingerprint_of, from_document, to_document
from retention.planning.planner import PlanOptions, make_plan
from retention.planning.sealing import check_sealed
from retention.policy import PolicySet, load_policies
from tests.planning.memory import MemoryInventory

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
DAY = 86400

POLICIES = {
    "tickets.yaml": """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: tickets}
spec:
  index: idx
  namespaces: {include: ["t-*"]}
  limits: {maxPercent: 100}
  protect:
    - {legal_hold: true}
    - {tags: {$ne: keep}}
  rules:
    - {name: ttl, olderThan: 30d, field: created_at, where: {source: zendesk}}
    - {name: chat, where: {source: chat}}
    - {name: listed, ids: [r-1, r-2, r-3]}
    - {name: file, idsFile: erase.txt}
    - {name: prefix, idPrefix: "r-1"}
""",
    "scratch.yaml": """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: scratch}
spec:
  index: idx
  namespaces: {include: ["s-*"]}
  rules:
    - {name: purge, deleteAll: true}
""",
    "drop.yaml": """\
apiVersion: retention/v1
kind: RetentionPolicy
metadata: {name: drop}
spec:
  index: idx
  namespaces: {include: ["d-*"]}
  limits: {maxRecords: 1000}
  rules:
    - {name: gone, deleteNamespace: true}
""",
    "hold.yaml": """\
apiVersion: retention/v1
kind: LegalHold
metadata: {name: case-7}
spec:
  index: idx
  namespaces: {include: ["t-b", "s-held"]}
  protect:
    - {case: {$in: [C-7]}}
""",
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    root = tmp_path_factory.mktemp("sealed")
    for name, text in POLICIES.items():
        (root / name).write_text(text)
    (root / "erase.txt").write_text("r-4\nr-5\nabsent\n")
    return load_policies([root])


values = {
    "source": st.sampled_from(["zendesk", "chat", "email"]),
    "created_at": st.one_of(st.integers(0, 60).map(lambda d: NOW.timestamp() - d * DAY)),
    "legal_hold": st.booleans(),
    "tags": st.one_of(st.sampled_from(["keep", "x"]), st.lists(st.sampled_from(["keep", "x"]))),
    "case": st.sampled_from(["C-1", "C-7"]),
}
records = st.fixed_dictionaries({}, optional=values)
namespace = st.dictionaries(
    st.sampled_from([f"r-{i}" for i in range(12)]), records, min_size=1, max_size=12
)
datasets = st.fixed_dictionaries(
    {
        "t-a": namespace,
        "t-b": namespace,
        "s-one": namespace,
        "s-held": namespace,
        "d-old": namespace,
    }
)


def make(loaded: PolicySet, data: dict[str, Any], semantics_index: int) -> Plan:
    ids_files = {
        r.ids_file.path: ["r-4", "r-5", "absent"]
        for p in loaded.policies
        for r in p.rules
        if r.ids_file
    }
    inv = MemoryInventory(
        {"idx": data}, semantics=SEMANTICS_VARIANTS[semantics_index], ids_files=ids_files
    )
    options = PlanOptions(tool_version="test")
    return asyncio.run(make_plan(loaded, inv, now=NOW, options=options))


def resealed(doc: dict[str, Any]) -> dict[str, Any]:
    """The edited document with a fingerprint recomputed as an editor would."""
    body = {k: v for k, v in doc.items() if k != "fingerprint"}
    return {**doc, "fingerprint": fingerprint_of(body)}


def refused(loaded: PolicySet, doc: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as caught:
        check_sealed(from_document(json.loads(json.dumps(doc))), loaded)
    return str(caught.value)


Edit = Callable[[dict[str, Any], dict[str, Any]], None]
FILTER = {"legal_hold": {"$exists": True}}


def _other_kind(doc: dict[str, Any], a: dict[str, Any]) -> None:
    kinds = ["deleteByFilter", "deleteByIds", "deleteAll", "deleteNamespace"]
    a["kind"] = kinds[(kinds.index(a["kind"]) + 1) % 4]


def _filter(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["filter"] = (
        FILTER
        if a["filter"] is None
        else a["filter"]["$and"][0]
        if "$and" in a["filter"]
        else FILTER
    )


def _id_source(doc: dict[str, Any], a: dict[str, Any]) -> None:
    s = a["idSource"]
    if s is None:
        a["idSource"] = {"type": "prefix", "prefix": ""}
    elif s["type"] == "inline":
        s["ids"] = [*s["ids"], "r-9"]
    elif s["type"] == "file":
        s["sha256"] = "0" * 64
    elif s["type"] == "prefix":
        s["prefix"] = ""
    else:
        s["filter"] = FILTER


def _client_where(doc: dict[str, Any], a: dict[str, Any]) -> None:
    check = a["clientCheck"]
    if check is None:
        a["clientCheck"] = {"where": FILTER, "protect": []}
    else:
        check["where"] = None if check["where"] is not None else FILTER


def _client_protect(doc: dict[str, Any], a: dict[str, Any]) -> None:
    check = a["clientCheck"]
    if check is None or not check["protect"]:
        a["clientCheck"] = {"where": (check or {}).get("where"), "protect": [FILTER]}
    else:
        check["protect"] = check["protect"][1:]


def _protections(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["protections"] = a["protections"][1:] if a["protections"] else [FILTER]


def _namespace(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["namespace"] = {"t-a": "t-b", "t-b": "t-a"}.get(a["namespace"], "t-a")
    a["id"] = "/".join((a["policy"], a["rule"], a["index"], a["namespace"]))


def _rule(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["rule"] = "chat" if a["rule"] != "chat" else "ttl"
    a["id"] = "/".join((a["policy"], a["rule"], a["index"], a["namespace"]))


def _policy(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["policy"] = "scratch" if a["policy"] != "scratch" else "tickets"
    a["id"] = "/".join((a["policy"], a["rule"], a["index"], a["namespace"]))


def _index(doc: dict[str, Any], a: dict[str, Any]) -> None:
    a["index"] = "other"
    a["id"] = "/".join((a["policy"], a["rule"], a["index"], a["namespace"]))


EDITS: dict[str, Edit] = {
    "kind": _other_kind,
    "filter": _filter,
    "idSource": _id_source,
    "clientCheck.where": _client_where,
    "clientCheck.protect": _client_protect,
    "protections": _protections,
    "condition": lambda doc, a: a.update(condition=a["condition"] + " or anything"),
    "notes": lambda doc, a: a.update(notes=[*a["notes"], "reviewed"]),
    "namespace": _namespace,
    "rule": _rule,
    "policy": _policy,
    "index": _index,
    "id": lambda doc, a: a.update(id=a["id"] + "x"),
}

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(
    datasets,
    st.integers(0, len(SEMANTICS_VARIANTS) - 1),
    st.integers(0, 1_000),
    st.sampled_from(sorted(EDITS)),
)
def test_every_single_field_edit_is_refused(
    loaded: PolicySet, data: dict[str, Any], semantics: int, pick: int, field: str
) -> None:
    """A random plan passes unedited; any one edit of an action, resealed, is refused."""
    plan = make(loaded, data, semantics)
    doc = to_document(plan)
    check_sealed(from_document(json.loads(json.dumps(doc))), loaded)
    edited = copy.deepcopy(doc)
    action = edited["actions"][pick % len(edited["actions"])]
    EDITS[field](edited, action)
    refused(loaded, resealed(edited))


def test_dropping_a_protection_from_a_filter_names_the_action_and_field(
    loaded: PolicySet,
) -> None:
    """The edit the issue saw: the legal_hold clause removed from a filtered delete."""
    data = {"t-a": {"r-1": {"source": "chat", "tags": "keep"}}, "t-b": {}, "s-one": {}}
    data |= {"s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    action = next(a for a in doc["actions"] if a["rule"] == "chat" and a["namespace"] == "t-a")
    assert action["kind"] == "deleteByFilter"
    action["filter"] = {"source": {"$eq": "chat"}}
    message = refused(loaded, resealed(doc))
    assert message == (
        "the plan file does not match the policies: action tickets/chat/idx/t-a: its filter is "
        "not what policy 'tickets' rule 'chat' says as of 2026-11-24T03:00:00Z; nothing was "
        "deleted; run `retention plan` again and review the new plan"
    )


def test_unblocking_a_policy_is_refused(loaded: PolicySet) -> None:
    """A blocked policy edited to ready (guard marked ok) is refused."""
    data = {"t-a": {}, "t-b": {}, "s-one": {}, "s-held": {}}
    data["d-old"] = {f"r-{i}": {} for i in range(12)}
    doc = to_document(make(loaded, data, 0))
    result = next(p for p in doc["policies"] if p["name"] == "drop")
    result["guards"][0]["limit"] = 5
    result["guards"][0]["ok"] = False
    result["status"] = "blocked"
    assert "maxRecords guard is not the policy's limit" in refused(loaded, resealed(doc))


def test_an_action_for_a_namespace_the_policy_excludes_is_refused(loaded: PolicySet) -> None:
    """Copying an action to a namespace its policy does not select is refused."""
    data = {"t-a": {"r-1": {"source": "chat"}}, "t-b": {}, "s-one": {}, "s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    extra = copy.deepcopy(next(a for a in doc["actions"] if a["rule"] == "chat"))
    extra["namespace"] = "private"
    extra["id"] = "tickets/chat/idx/private"
    doc["actions"].append(extra)
    assert "namespace 'private' is not one that policy 'tickets' selects" in refused(
        loaded, resealed(doc)
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d.update(asOf=12345),
            "the plan file is not a valid plan: asOf: 12345 is not of type 'string'",
        ),
        (
            lambda d: d["actions"][0]["records"].update(count="many"),
            "the plan file is not a valid plan: actions[0].records.count: 'many' is not of type "
            "'integer'",
        ),
        (
            lambda d: d.update(actions={"a": 1}),
            "the plan file is not a valid plan: actions: {'a': 1} is not of type 'array'",
        ),
        (
            lambda d: d["actions"][0].update(filter=_deep(200)),
            "the plan file nests deeper than 100 levels; it is not a plan",
        ),
    ],
)
def test_a_plan_file_of_the_wrong_shape_is_one_line(
    loaded: PolicySet, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    """Shapes the schema refuses, and hostile depth, never reach the code that reads a plan."""
    data = {"t-a": {"r-1": {"source": "chat"}}, "t-b": {}, "s-one": {}, "s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    edit(doc)
    with pytest.raises(PlanError) as caught:
        from_document(resealed(doc))
    assert str(caught.value) == message


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": {"$eq": 1}}
    for _ in range(levels):
        value = {"$and": [value]}
    return value


def test_an_action_whose_index_lost_its_host_entry_is_refused(loaded: PolicySet) -> None:
    """Dropping an index from `indexes` would skip the check that it was not recreated."""
    data = {"t-a": {"r-1": {"source": "chat"}}, "t-b": {}, "s-one": {}, "s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    doc["indexes"] = []
    assert "index 'idx' has no host in the plan's indexes" in refused(loaded, resealed(doc))


def _swap_true_for_one(value: Any) -> tuple[Any, bool]:
    """`value` with its first boolean `true` compared with (not `$exists: true`, which the
    plan reader refuses as 1) written as the number 1, and whether it had one."""
    if value is True:
        return 1, True
    if isinstance(value, list):
        for i, item in enumerate(value):
            new, done = _swap_true_for_one(item)
            if done:
                return [*value[:i], new, *value[i + 1 :]], True
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$exists":
                continue
            new, done = _swap_true_for_one(item)
            if done:
                return {**value, key: new}, True
    return value, False


@pytest.mark.parametrize("part", ["filter", "protections", "clientCheck"])
def test_a_boolean_turned_into_a_number_is_refused(loaded: PolicySet, part: str) -> None:
    """`legal_hold: true` edited to `legal_hold: 1` is another filter to Pinecone (a number
    never equals a boolean), though Python's `True == 1` would call the two documents equal."""
    data = {"t-a": {"r-1": {"source": "chat", "created_at": 0}}, "t-b": {}, "s-one": {}}
    data |= {"s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    edited = 0
    for i, action in enumerate(doc["actions"]):
        swapped, done = _swap_true_for_one(action[part])
        if not done:
            continue
        one = copy.deepcopy(doc)
        one["actions"][i][part] = swapped
        assert "does not match the policies" in refused(loaded, resealed(one))
        edited += 1
    assert edited


def test_a_part_the_kind_does_not_use_is_refused(loaded: PolicySet) -> None:
    """A deleteByFilter that also carries an ID source would have it silently dropped; the
    plan file is refused instead, naming the part."""
    data = {"t-a": {"r-1": {"source": "chat"}}, "t-b": {}, "s-one": {}, "s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    action = next(a for a in doc["actions"] if a["kind"] == "deleteByFilter")
    action["idSource"] = {"type": "prefix", "prefix": ""}
    with pytest.raises(PlanError) as caught:
        from_document(resealed(doc))
    assert str(caught.value) == (
        f"the plan file is not a valid plan: action '{action['id']}' is deleteByFilter, yet has "
        "idSource"
    )


def test_a_filter_no_policy_could_hold_is_refused_as_it_is_read(loaded: PolicySet) -> None:
    data = {"t-a": {"r-1": {"source": "chat"}}, "t-b": {}, "s-one": {}, "s-held": {}, "d-old": {}}
    doc = to_document(make(loaded, data, 0))
    action = next(a for a in doc["actions"] if a["kind"] == "deleteByFilter")
    action["filter"] = {"source": {"$regex": "."}}
    with pytest.raises(PlanError) as caught:
        from_document(resealed(doc))
    assert str(caught.value).startswith(
        f"the plan file is not a valid plan: action '{action['id']}': its filter: unknown "
        "operator $regex"
    )


@SETTINGS
@given(datasets, st.integers(0, len(SEMANTICS_VARIANTS) - 1))
def test_a_plan_reads_back_to_the_same_document(
    loaded: PolicySet, data: dict[str, Any], semantics: int
) -> None:
    """The plan holds filter trees and writes them as JSON: reading its own file back gives
    the same trees, so the same document and fingerprint."""
    doc = to_document(make(loaded, data, semantics))
    assert to_document(from_document(json.loads(json.dumps(doc)))) == doc
