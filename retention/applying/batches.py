"""What an action selects right now, streamed in batches of at most 1,000 IDs.

The same generator serves the recount before the first delete, the deletion itself and the
verification after it, so the three can never disagree about what "selected" means. For ID
actions each batch's metadata is fetched just before it is handed out and re-checked against
the plan's `where` (must match under every reading) and protections (must not match under
any), so a record that changed since planning is spared.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence

from retention.errors import GuardError, NotFound, PlanError
from retention.filters import and_, identity, or_, to_json
from retention.identifiers import LIST_PAGE, MAX_IDS_PER_REQUEST
from retention.pinecone import IndexClient
from retention.planning.plan import (
    Action,
    ByFilter,
    ByIds,
    IdFile,
    IdPrefix,
    InlineIds,
    MatchingIds,
)
from retention.policy.idfile import MAX_BYTES, NotReadable, id_batches_of, open_regular


def by_ids(action: Action) -> ByIds:
    """The deletion of a deleteByIds action."""
    if not isinstance(action.deletes, ByIds):
        raise PlanError(f"action {action.id} is {action.kind}, not deleteByIds")
    return action.deletes


def by_filter(action: Action) -> ByFilter:
    """The deletion of a deleteByFilter action."""
    if not isinstance(action.deletes, ByFilter):
        raise PlanError(f"action {action.id} is {action.kind}, not deleteByFilter")
    return action.deletes


async def selected(index: IndexClient, action: Action) -> AsyncIterator[list[str]]:
    """Batches of IDs the deleteByIds `action` selects now."""
    deletes = by_ids(action)
    allowed = deletes.allows()
    source, ns = deletes.source, action.namespace
    if isinstance(source, MatchingIds):
        wanted = to_json(source.filter)
        async for page in index.fetch_by_metadata(wanted, ns, limit=MAX_IDS_PER_REQUEST):
            ids = [r.id for r in page.records if allowed(r.metadata)]
            if ids:
                yield ids
        return
    async for candidates in _candidates(index, ns, source):
        found = await index.fetch(candidates, ns)
        ids = [i for i in candidates if i in found.records and allowed(found.records[i].metadata)]
        if ids:
            yield ids


async def _candidates(
    index: IndexClient, namespace: str, source: InlineIds | IdFile | IdPrefix
) -> AsyncIterator[list[str]]:
    if isinstance(source, InlineIds):
        for start in range(0, len(source.ids), MAX_IDS_PER_REQUEST):
            yield list(source.ids[start : start + MAX_IDS_PER_REQUEST])
    elif isinstance(source, IdFile):
        async for chunk in _read_file(source.path, source.sha256):
            yield chunk
    else:
        batch: list[str] = []
        async for page in index.list_ids(namespace, prefix=source.prefix or None, limit=LIST_PAGE):
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
        source = action.id_file
        if source is None:
            continue
        if source.path not in changed and file_digest(source.path) != source.sha256:
            changed.append(source.path)
    return changed


async def _read_file(path: str, sha256: str) -> AsyncIterator[list[str]]:
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
        if digest.hexdigest() != sha256:
            raise PlanError(
                f"ID file {path} changed since the plan was made; run retention plan again"
            )
        copy.seek(0)
        for batch in id_batches_of(copy, path, MAX_IDS_PER_REQUEST):
            yield batch


async def count_selected(index: IndexClient, action: Action) -> int:
    """How many records the action selects now."""
    if isinstance(action.deletes, ByFilter):
        return (await index.count(to_json(action.deletes.filter), action.namespace)).matched
    if isinstance(action.deletes, ByIds):
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
    mine = [a for a in actions if isinstance(a.deletes, ByFilter) and a.deletes.protections]
    if not mine:
        return
    filters = [by_filter(a).filter for a in mine]
    # Each protection once, however many of the actions carry it.
    unique = {identity(p): p for a in mine for p in by_filter(a).protections}
    reach = and_(or_(*filters), or_(*unique.values()))
    assert reach is not None
    overlap = (await index.count(to_json(reach), mine[0].namespace)).matched
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
