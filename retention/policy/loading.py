"""Policy files -> checked model, collecting every error with its FILE:LINE:COL.

The order of checks follows what an author needs to see first: a document this release cannot
read (apiVersion, kind) says so and is not checked further; then the JSON Schema; then what the
schema cannot express (filters, durations, ID files, one rule per name, opt-ins for destructive
rules); then what spans files (unique names).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retention.errors import Location, PolicyError, PolicyErrors
from retention.policy.building import build_document
from retention.policy.model import LegalHold, Policy, PolicySet
from retention.policy.schema import schema_errors
from retention.policy.yamlsource import Document, load_documents

API_VERSIONS = ("retention/v1",)
KINDS = ("RetentionPolicy", "LegalHold")
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class _Loaded:
    doc: Document
    item: Policy | LegalHold
    digest_part: str


def policy_files(paths: Sequence[str | Path]) -> tuple[list[str], list[PolicyError]]:
    """The policy files under `paths` (directories recursively, hidden entries skipped so
    that a Kubernetes ConfigMap mount's `..data` links are not read twice)."""
    files: list[str] = []
    errors: list[PolicyError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(_walk(path))
            if not found:
                errors.append(
                    PolicyError(Location(str(raw)), "no policy files (*.yaml, *.yml) found here")
                )
            files.extend(found)
        elif path.is_file():
            files.append(str(raw))
        else:
            errors.append(PolicyError(Location(str(raw)), "no such file or directory"))
    return files, errors


def _walk(root: Path) -> Iterable[str]:
    for directory, subdirs, names in os.walk(root, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and name.endswith(SUFFIXES):
                yield os.path.join(directory, name)


def load_policies(paths: Sequence[str | Path]) -> PolicySet:
    """Load and check every policy under `paths`; raise PolicyErrors listing all problems."""
    files, errors = policy_files(paths)
    loaded: list[_Loaded] = []
    for file in files:
        loaded.extend(_load_file(file, errors))
    errors.extend(_duplicate_names(loaded))
    if errors:
        raise PolicyErrors(errors)
    digest = hashlib.sha256()
    for part in sorted(entry.digest_part for entry in loaded):
        digest.update(part.encode())
    return PolicySet(
        policies=tuple(e.item for e in loaded if isinstance(e.item, Policy)),
        holds=tuple(e.item for e in loaded if isinstance(e.item, LegalHold)),
        files=tuple(files),
        digest=f"sha256:{digest.hexdigest()}",
    )


def _load_file(file: str, errors: list[PolicyError]) -> list[_Loaded]:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        errors.append(PolicyError(Location(file), f"not UTF-8 text: {exc.reason}"))
        return []
    except OSError as exc:
        errors.append(PolicyError(Location(file), f"cannot read: {exc.strerror}"))
        return []
    loaded = []
    try:
        docs = list(load_documents(text, file))
    except PolicyError as exc:
        errors.append(exc)
        return []
    for doc in docs:
        problems = _check_header(doc) or schema_errors(doc)
        if problems:
            errors.extend(problems)
            continue
        item, extra, ids_digests = build_document(doc)
        if extra:
            errors.extend(extra)
            continue
        assert item is not None
        content = json.dumps(doc.data, sort_keys=True, separators=(",", ":"))
        loaded.append(_Loaded(doc, item, content + "".join(ids_digests)))
    return loaded


def _check_header(doc: Document) -> list[PolicyError]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            PolicyError(
                doc.start,
                "a policy document must be a mapping with apiVersion, kind, metadata and spec",
            )
        ]
    version = data.get("apiVersion")
    if version is None:
        return [
            PolicyError(
                doc.start, f"missing apiVersion; this release reads {', '.join(API_VERSIONS)}"
            )
        ]
    if version not in API_VERSIONS:
        return [
            PolicyError(
                doc.at(("apiVersion",)),
                f"apiVersion {version!r} is not supported; this release of retention reads "
                f"{', '.join(API_VERSIONS)}",
            )
        ]
    kind = data.get("kind")
    if kind is None:
        return [PolicyError(doc.start, f"missing kind; expected one of: {', '.join(KINDS)}")]
    if kind not in KINDS:
        return [
            PolicyError(
                doc.at(("kind",)),
                f"kind {kind!r} is not known to {version}; expected one of: {', '.join(KINDS)}",
            )
        ]
    return []


def _duplicate_names(loaded: Sequence[_Loaded]) -> list[PolicyError]:
    errors = []
    seen: dict[tuple[str, str], Location] = {}
    for entry in loaded:
        kind = "policy" if isinstance(entry.item, Policy) else "legal hold"
        key = (kind, entry.item.name)
        where = entry.doc.at(("metadata", "name"))
        if key in seen:
            errors.append(
                PolicyError(
                    where,
                    f"metadata.name: {kind} name '{entry.item.name}' is already used at "
                    f"{seen[key]}; names must be unique across all policy files",
                )
            )
        else:
            seen[key] = where
    return errors
