"""Policy files -> checked model, collecting every error with its FILE:LINE:COL.

The order of checks follows what an author needs to see first: a document this release cannot
read (apiVersion, kind) says so and is not checked further; then the JSON Schema; then what the
schema cannot express (filters, durations, ID files, one rule per name, opt-ins for destructive
rules); then what spans files (unique names).

Policy paths come from a repository or a ConfigMap mount that anybody with write access shapes,
so finding and reading files is bounded: the walk visits each real directory once (a `ln -s . x`
link cannot make it loop) and reads each real file once (ConfigMap mounts link every file),
only regular files are opened (a FIFO would block the reader forever), and a policy file is at
most MAX_POLICY_BYTES.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from retention.errors import Location, PolicyError, PolicyErrors
from retention.host import kind_of
from retention.policy.building import build_document
from retention.policy.examples import build_test
from retention.policy.idfile import NotReadable, open_regular, size_text
from retention.policy.model import LegalHold, Policy, PolicySet, PolicyTest
from retention.policy.schema import schema_errors
from retention.policy.yamlsource import Document, load_documents

API_VERSIONS = ("retention/v1",)
KINDS = ("RetentionPolicy", "LegalHold", "PolicyTest")
SUFFIXES = (".yaml", ".yml")
MAX_POLICY_BYTES = 256 << 10
"""A policy file is at most 256 KiB: real ones are a few KiB (long ID lists go in ID files), and
the largest loads and checks in about a second."""


@dataclass(frozen=True)
class _Loaded:
    doc: Document
    item: Policy | LegalHold | PolicyTest
    digest_part: str


def policy_files(paths: Sequence[str | Path]) -> tuple[list[str], list[PolicyError]]:
    """The policy files under `paths` (directories recursively, hidden entries skipped so
    that a Kubernetes ConfigMap mount's `..data` links are not read twice), each real file
    once, and an error for each path that is missing or not a regular file."""
    candidates: list[str] = []
    errors: list[PolicyError] = []
    for raw in paths:
        try:
            info = os.stat(raw)
        except FileNotFoundError:
            errors.append(PolicyError(Location(str(raw)), "no such file or directory"))
            continue
        except OSError as exc:
            errors.append(PolicyError(Location(str(raw)), f"cannot read: {exc.strerror}"))
            continue
        if stat.S_ISDIR(info.st_mode):
            found = sorted(visible_files(raw, SUFFIXES))
            if not found:
                errors.append(
                    PolicyError(Location(str(raw)), "no policy files (*.yaml, *.yml) found here")
                )
            candidates.extend(found)
        else:
            candidates.append(str(raw))
    return _once_each(candidates, errors), errors


def visible_files(root: str | Path, suffixes: tuple[str, ...] | None = None) -> Iterator[str]:
    """The paths of the non-directory entries below `root` whose names end in one of
    `suffixes` (any name when None), following links but entering each real directory once
    and skipping hidden names. Within a directory, real subdirectories are entered before
    linked ones, so a file is found under its real name where the walk reaches it."""
    seen: set[tuple[int, int]] = set()
    stack = [os.fspath(root)]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue  # vanished, or unreadable: its files cannot be policies we were given
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        real: list[str] = []
        linked: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                (linked if entry.is_symlink() else real).append(entry.path)
            elif suffixes is None or entry.name.endswith(suffixes):
                yield entry.path
        stack.extend(reversed(real + linked))


def _once_each(candidates: Sequence[str], errors: list[PolicyError]) -> list[str]:
    """`candidates` with each real file once (under its first name that is not a symlink, else
    its first name), and an error for each that is not a regular file (never opened)."""
    names: dict[tuple[int, int], list[str]] = {}
    for path in candidates:
        try:
            info = os.stat(path)
        except OSError as exc:
            errors.append(PolicyError(Location(path), f"cannot read: {exc.strerror}"))
            continue
        if not stat.S_ISREG(info.st_mode):
            errors.append(
                PolicyError(
                    Location(path),
                    f"this file is {kind_of(info.st_mode)}, not a regular file",
                )
            )
            continue
        names.setdefault((info.st_dev, info.st_ino), []).append(path)
    chosen = {
        next((n for n in group if not os.path.islink(n)), group[0]) for group in names.values()
    }
    return [path for path in dict.fromkeys(candidates) if path in chosen]


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
        tests=tuple(e.item for e in loaded if isinstance(e.item, PolicyTest)),
        files=tuple(files),
        digest=f"sha256:{digest.hexdigest()}",
    )


def _read(file: str) -> str:
    with open_regular(file, MAX_POLICY_BYTES, "policy files") as handle:
        data = handle.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise NotReadable(f"grew past {size_text(MAX_POLICY_BYTES)} while being read")
    return data.decode("utf-8")


def _load_file(file: str, errors: list[PolicyError]) -> list[_Loaded]:
    try:
        text = _read(file)
    except NotReadable as exc:
        errors.append(PolicyError(Location(file), f"this file {exc.reason}"))
        return []
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
        item: Policy | LegalHold | PolicyTest | None
        ids_digests: list[str] = []
        if doc.data["kind"] == "PolicyTest":
            item, extra = build_test(doc)
        else:
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
        kind = (
            "policy"
            if isinstance(entry.item, Policy)
            else "legal hold"
            if isinstance(entry.item, LegalHold)
            else "policy test"
        )
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
