"""What an action selects right now, streamed in batches of at most 1,000 IDs.

The same generator serves the recount before the first delete, the deletion itself and the
verification after it, so the three can never disagree about what "selected" means. For ID
actions each batch's metadata is fetched just before it is handed out and re-checked against
the plan's `where` (must match under every reading) and protections (must not match under
any), so a record that changed since planning is spared.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from retention.errors import GuardError, NotFound, PlanError
from retention.filters import Predicate, parse_filter, possibly, surely
from retention.identifiers import LIST_PAGE, MAX_IDS_PER_REQUEST
from retention.pinecone import IndexClient
from retention.planning.plan import Action
from retention.policy.idfile import MAX_BYTES, NotReadable, id_batches_of, open_regular


def checker(action: Action) -> Callable[[Mapping[str, Any]], bool]:
    """True for a record's metadata that the action may delete now."""
    keep: Predicate | None = None
    if action.client_where is not None:
        keep = surely(parse_filter(action.client_where))
    protected = [possibly(parse_filter(p)) for p in action.client_protect]

    def allowed(metadata: Mapping[str, Any]) -> bool:
        if keep is not None and not keep(metadata):
            return False
        return not any(p(metadata) for p in protected)

    return allowed


async def selected(index: IndexClient, action: Action) -> AsyncIterator[list[str]]:
    """Batches of IDs the deleteByIds `action` selects now."""
    source = action.id_source
    if source is None:
        raise PlanError(f"action {action.id} has no ID source")
    allowed = checker(action)
    ns = action.namespace
    if source.type == "filter":
        assert source.filter is not None
        async for page in index.fetch_by_metadata(source.filter, ns, limit=MAX_IDS_PER_REQUEST):
            ids = [r.id for r in page.records if allowed(r.metadata)]
            if ids:
                yield ids
        return
    async for candidates in _candidates(index, action):
        found = await index.fetch(candidates, ns)
        ids = [i for i in candidates if i in found.records and allowed(found.records[i].metadata)]
        if ids:
            yield ids


async def _candidates(index: IndexClient, action: Action) -> AsyncIterator[list[str]]:
    source = action.id_source
    assert source is not None
    if source.type == "inline":
        for start in range(0, len(source.ids), MAX_IDS_PER_REQUEST):
            yield list(source.ids[start : start + MAX_IDS_PER_REQUEST])
    elif source.type == "file":
        assert source.path is not None
        async for chunk in _read_file(source.path, source.sha256):
            yield chunk
    else:
        batch: list[str] = []
        async for page in index.list_ids(
            action.namespace, prefix=source.prefix or None, limit=LIST_PAGE
        ):
            batch.extend(page.ids)
            while len(batch) >= MAX_IDS_PER_REQUEST:
                yield batch[:MAX_IDS_PER_REQUEST]
                batch = batch[MAX_IDS_PER_REQUEST:]
        if batch:
            yield batch


def file_digest(path: str) -> str:
    """The SHA-256 of an ID file, as the plan pins it (never blocking on a FIFO swapped in)."""
    digest = hashlib.sha256()
    try:
        with open_regular(path, MAX_BYTES, "ID files") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except NotReadable as exc:
        raise PlanError(f"ID file {path} {exc.reason}") from None
    except OSError as exc:
        raise PlanError(f"cannot read ID file {path}: {exc.strerror}") from None
    return digest.hexdigest()


def changed_id_files(actions: Iterable[Action]) -> list[str]:
    """The ID files of `actions` whose content is not what the plan pinned."""
    changed: list[str] = []
    for action in actions:
        source = action.id_source
        if source is None or source.type != "file" or source.path is None:
            continue
        if source.path not in changed and file_digest(source.path) != source.sha256:
            changed.append(source.path)
    return changed


async def _read_file(path: str, sha256: str | None) -> AsyncIterator[list[str]]:
    """The IDs of a policy's ID file as the plan pinned them, refusing a file that changed.

    The file is read once, into a private copy, while it is hashed, and the IDs come from the
    copy: lines appended or rewritten during a long apply are never read, let alone deleted.
    """
    with tempfile.TemporaryFile(prefix="retention-ids-") as copy:
        digest = hashlib.sha256()
        try:
            with open_regular(path, MAX_BYTES, "ID files") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
                    copy.write(chunk)
        except NotReadable as exc:
            raise PlanError(f"ID file {path} {exc.reason}") from None
        except OSError as exc:
            raise PlanError(f"cannot read ID file {path}: {exc.strerror}") from None
        if sha256 is not None and digest.hexdigest() != sha256:
            raise PlanError(
                f"ID file {path} changed since the plan was made; run retention plan again"
            )
        copy.seek(0)
        for batch in id_batches_of(copy, path, MAX_IDS_PER_REQUEST):
            yield batch


async def count_selected(index: IndexClient, action: Action) -> int:
    """How many records the action selects now."""
    if action.kind == "deleteByFilter":
        assert action.filter is not None
        return (await index.count(action.filter, action.namespace)).matched
    if action.kind == "deleteByIds":
        n = 0
        async for batch in selected(index, action):
            n += len(batch)
        return n
    return await namespace_records(index, action.namespace)


async def check_spared(index: IndexClient, actions: Sequence[Action]) -> None:
    """Refuse filtered deletes that Pinecone now says would reach a protected record.

    The planner folded the protections into each filter only after Pinecone counted no record
    matching both; records written since may be shaped otherwise, so the count is asked again
    just before the namespace's deletes, on the server's own reading of the filters: one count
    for all the namespace's protected filtered deletes (their filters, or-ed, and-ed with their
    protections, or-ed).
    """
    mine = [a for a in actions if a.kind == "deleteByFilter" and a.protections]
    if not mine:
        return
    filters = [a.filter for a in mine if a.filter is not None]
    # Each protection once, however many of the actions carry it.
    unique = {json.dumps(p, sort_keys=True): p for a in mine for p in a.protections}
    protections = list(unique.values())
    protected = protections[0] if len(protections) == 1 else {"$or": protections}
    reach = filters[0] if len(filters) == 1 else {"$or": filters}
    overlap = (await index.count({"$and": [reach, protected]}, mine[0].namespace)).matched
    if overlap:
        first = mine[0]
        which = (
            f"{first.policy}/{first.rule}"
            if len(mine) == 1
            else f"{len(mine)} filtered deletes (first {first.policy}/{first.rule})"
        )
        raise GuardError(
            f"{which} in {first.index}/{first.namespace}: Pinecone now counts {overlap:,} "
            f"record{'s' if overlap != 1 else ''} matching both the delete filter and a "
            "protection, so the filter is not sent; nothing was deleted there; run "
            "`retention plan` again (it checks such records one by one)"
        )


async def namespace_records(index: IndexClient, namespace: str) -> int:
    try:
        return (await index.describe_namespace(namespace)).record_count
    except NotFound:
        return 0
