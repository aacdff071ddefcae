"""`retention explain`: why each record would be deleted, kept or left alone.

Offline (`--record FILE`, a JSON or YAML list of records) no credentials are needed; live
(`--index I --namespace N ID...`) the records are fetched from Pinecone, read-only. Either
way the verdict is the planner's own selection (`planning.explain`) at `--at` (default now).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from retention import host
from retention.commands.common import DEFAULT_POLICY_PATH
from retention.errors import PlanError
from retention.identifiers import MAX_ID_LENGTH, MAX_IDS_PER_REQUEST
from retention.planning.explain import (
    READINGS,
    Explanation,
    IdsOf,
    Record,
    explain,
    reading_name,
)
from retention.planning.plan import format_time, parse_time
from retention.policy import PolicySet, load_policies
from retention.policy.examples import metadata_problem
from retention.policy.idfile import NotReadable, id_batches, open_regular

MAX_RECORD_FILE_BYTES = 16 << 20
"""A record file is examples written by hand or exported for a few records, not an index."""
MAX_RECORDS = 10_000

Output = Literal["text", "json"]


@dataclass(frozen=True)
class ExplainRequest:
    paths: Sequence[str]
    record_file: str | None = None
    index: str | None = None
    namespace: str | None = None
    ids: Sequence[str] = ()
    at: str | None = None
    output: Output = "text"


def explain_records(request: ExplainRequest) -> int:
    """Print the explanation of every record the request names; 0, or an error raised."""
    now = parse_time(request.at) if request.at else host.utc_now()
    policies = load_policies(list(request.paths) or [DEFAULT_POLICY_PATH])
    if request.record_file is not None:
        if request.ids or request.namespace is not None:
            raise PlanError("give records either with --record FILE or as --namespace N ID...")
        records = read_records(Path(request.record_file), request.index, policies)
    else:
        records = asyncio.run(_fetched(request))
    ids_of = id_files({r.id for r in records})
    explained = [explain(policies, r, now=now, ids_of=ids_of) for r in records]
    if request.output == "json":
        document = {"at": format_time(now), "records": [_document(e) for e in explained]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render(e) for e in explained))
    return 0


def read_records(path: Path, index: str | None, policies: PolicySet) -> list[Record]:
    """The records of a JSON or YAML file: a list of {id, namespace, metadata, index?}."""
    try:
        with open_regular(str(path), MAX_RECORD_FILE_BYTES, "record files") as handle:
            data = handle.read(MAX_RECORD_FILE_BYTES + 1)
        if len(data) > MAX_RECORD_FILE_BYTES:
            raise PlanError(f"{path} grew past {MAX_RECORD_FILE_BYTES:,} bytes while being read")
        raw = yaml.safe_load(data.decode("utf-8"))
    except NotReadable as exc:
        raise PlanError(f"record file {path} {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read record file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not JSON or YAML"
        raise PlanError(f"{path}{at}: not a record file: {problem}") from None
    except RecursionError:
        raise PlanError(f"{path} nests too deeply to be a record file") from None
    if isinstance(raw, Mapping) and "records" in raw:
        raw = raw["records"]
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"{path}: a record file is a non-empty list of records")
    if len(raw) > MAX_RECORDS:
        raise PlanError(f"{path} holds {len(raw):,} records; explain takes at most {MAX_RECORDS:,}")
    default_index = index or _only_index(policies)
    return [_record(path, i, item, default_index) for i, item in enumerate(raw)]


def _only_index(policies: PolicySet) -> str | None:
    indexes = {p.index for p in policies.policies}
    return indexes.pop() if len(indexes) == 1 else None


def _record(path: Path, i: int, item: object, index: str | None) -> Record:
    where = f"{path}: record {i + 1}"
    if not isinstance(item, Mapping):
        raise PlanError(f"{where} is not a mapping with id, namespace and metadata")
    unknown = sorted(str(k) for k in item if k not in ("id", "namespace", "metadata", "index"))
    if unknown:
        raise PlanError(
            f"{where} has an unknown key '{unknown[0]}' (id, namespace, metadata, index)"
        )
    record_id, namespace = item.get("id"), item.get("namespace", "")
    metadata, own_index = item.get("metadata", {}), item.get("index", index)
    if not isinstance(record_id, str) or not 0 < len(record_id) <= MAX_ID_LENGTH:
        raise PlanError(f"{where}: id must be a string of 1 to {MAX_ID_LENGTH} characters")
    if not isinstance(namespace, str):
        raise PlanError(f"{where} ('{record_id}'): namespace must be a string")
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise PlanError(f"{where} ('{record_id}'): metadata must be a mapping of field names")
    bad = next((k for k, v in metadata.items() if metadata_problem(v)), None)
    if bad is not None:
        raise PlanError(
            f"{where} ('{record_id}'): metadata field '{bad}' is not a string, number, boolean "
            "or list of strings, so Pinecone would not store it"
        )
    if not isinstance(own_index, str):
        raise PlanError(
            f"{where} ('{record_id}') names no index, and the policies act on several: give "
            "the record an index, or --index"
        )
    return Record(own_index, namespace, record_id, dict(metadata))


async def _fetched(request: ExplainRequest) -> list[Record]:
    """The named records, fetched from the live index (read-only)."""
    from retention.commands.connecting import client_from_env
    from retention.logs import get_logger

    if request.index is None or request.namespace is None or not request.ids:
        raise PlanError(
            "give --index I --namespace N and the record IDs, or --record FILE for records "
            "written out"
        )
    if len(request.ids) > MAX_IDS_PER_REQUEST:
        raise PlanError(f"explain fetches at most {MAX_IDS_PER_REQUEST:,} IDs at a time")
    for record_id in request.ids:
        if not 0 < len(record_id) <= MAX_ID_LENGTH:
            raise PlanError(f"record ID {record_id[:40]!r} is not 1 to {MAX_ID_LENGTH} characters")
    async with client_from_env(log=get_logger(command="explain")) as client:
        index = await client.index(request.index)
        found = await index.fetch(list(dict.fromkeys(request.ids)), request.namespace)
    missing = [i for i in request.ids if i not in found.records]
    if missing:
        raise PlanError(
            f"no record '{missing[0]}' in {request.index}/{request.namespace or '(default)'}"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return [
        Record(request.index, request.namespace, i, dict(found.records[i].metadata))
        for i in dict.fromkeys(request.ids)
    ]


def id_files(wanted: set[str]) -> IdsOf:
    """The IDs of each ID file among `wanted`, read once per file when first asked."""
    seen: dict[str, frozenset[str]] = {}

    def ids_of(path: str) -> frozenset[str]:
        if path not in seen:
            seen[path] = frozenset(i for batch in id_batches(path) for i in batch if i in wanted)
        return seen[path]

    return ids_of


# -- rendering


def render(e: Explanation) -> str:
    r = e.record
    lines = [f"record {r.id} in {r.index}/{r.namespace or '(default namespace)'}"]
    if e.depends_on_reading:
        lines.append("  verdict: depends on how Pinecone reads its undocumented filter corners")
        for v in e.verdicts:
            lines.append(f"    {_verdict_words(v.outcome, v.by)} under:")
            lines.extend(f"      {reading_name(READINGS[i])}" for i in v.readings)
    else:
        lines.append(f"  verdict: {_verdict_words(e.verdicts[0].outcome, e.verdicts[0].by)}")
    if not e.rules:
        lines.append("  no policy acts on this namespace")
    for f in e.rules:
        mode = " (observe mode)" if f.observe else ""
        state = (
            "deletes it"
            if all(f.deletes)
            else "selects it"
            if any(f.selects)
            else "does not select it"
        )
        if any(f.deletes) and not all(f.deletes):
            state = "deletes it under some readings"
        lines.append(f"  rule {f.policy}/{f.rule}{mode}: {state}")
        lines.append(f"    when {f.condition}")
    for p in e.protections:
        state = (
            "matches"
            if all(p.matches)
            else "matches under some readings"
            if any(p.matches)
            else "does not match"
        )
        lines.append(f"  {p.name}: {state}: {p.condition}")
    return "\n".join(lines) + "\n"


def _verdict_words(outcome: str, by: str | None) -> str:
    if outcome == "deleted":
        return f"deleted by {by}"
    if outcome == "kept":
        return f"kept by {by}"
    return "untouched: no rule selects it"


def _document(e: Explanation) -> dict[str, Any]:
    r = e.record
    return {
        "index": r.index,
        "namespace": r.namespace,
        "id": r.id,
        "verdicts": [
            {
                "outcome": v.outcome,
                "by": v.by,
                "readings": [reading_name(READINGS[i]) for i in v.readings],
            }
            for v in e.verdicts
        ],
        "rules": [
            {
                "policy": f.policy,
                "rule": f.rule,
                "observe": f.observe,
                "condition": f.condition,
                "selects": _per_reading(f.selects),
                "deletes": _per_reading(f.deletes),
            }
            for f in e.rules
        ],
        "protections": [
            {"name": p.name, "condition": p.condition, "matches": _per_reading(p.matches)}
            for p in e.protections
        ],
    }


def _per_reading(values: Sequence[bool]) -> bool | str:
    return values[0] if len(set(values)) == 1 else "depends on the reading"
