"""Execute a plan: exactly its actions, paced by the client's limiter, verified afterwards.

    plan ─▶ fresh? ─▶ blocked? ─▶ recount ─▶ growth and guards ─▶ protections spared? ─▶
        per namespace, concurrently: actions in order ─▶ journal ─▶ verify

- a filtered delete with protections goes out only after Pinecone counts no record matching
  both its filter and a protection (`check_spared`), so no reading of the filter language
  that differs from ours can reach a protected record written since planning;
- filtered deletes are one request each; ID actions stream: an enumerator fills a small queue
  with re-checked batches of at most 1,000 IDs and a few workers delete them, so the limiter,
  not the enumeration, sets the pace and memory stays bounded by the queue;
- each ID delete waits, if needed, until the request a second's worth of records before it has
  been answered for a second (`spacing`), so one slow answer cannot make the next on-time
  request share its one-second window and draw a 429;
- a stop request (SIGINT/SIGTERM) lets each batch in flight finish, then reports and returns;
- deletes are idempotent and selections fixed by the plan, so running the same apply after a
  crash finishes the work without deleting anything extra; a plan its journal shows finished
  is not checked or sent again, and is reported as applied earlier;
- the report says what happened, not what was planned: an action whose namespace no longer
  exists is "namespace gone" (no request sent), and a filtered delete, `deleteAll` or
  `deleteNamespace` counts what a count taken just before its request saw.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from retention.applying.checks import (
    check_blocked,
    check_fresh,
    check_growth,
    check_guards,
    guard_groups,
)
from retention.applying.journal import Journal
from retention.applying.progress import Progress
from retention.applying.report import ActionResult, Report
from retention.applying.selection import (
    changed_id_files,
    check_spared,
    count_selected,
    namespace_records,
    selected,
)
from retention.applying.spacing import Spacing
from retention.errors import GuardError, NotFound, RetentionError
from retention.pinecone import IndexClient, PineconeClient
from retention.pinecone.models import DeleteResult
from retention.planning.plan import Action, Plan


@dataclass(frozen=True)
class ApplySettings:
    max_age: timedelta = timedelta(hours=24)
    """Refuse plans older than this."""
    tolerance: float = 0.10
    """Refuse when an action now selects more than this fraction above its planned count."""
    max_records: int | None = None
    """Refuse a run that would delete more records than this in total."""
    namespaces_at_once: int = 8
    """Namespaces worked on concurrently (the limiter keeps each within Pinecone's limits)."""
    delete_workers: int = 3
    """Delete requests in flight per ID action."""
    verify_timeout: float = 60.0
    """How long to wait for deletions to become visible before reporting them pending."""


class Stop:
    """Set by a signal handler: finish the batches in flight, start nothing new."""

    def __init__(self) -> None:
        self._requested = False

    def request(self) -> None:
        self._requested = True

    @property
    def requested(self) -> bool:
        return self._requested


class Executor:
    def __init__(
        self,
        client: PineconeClient,
        *,
        settings: ApplySettings,
        journal: Journal,
        log: Any,
        progress: Progress,
        stop: Stop,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC).replace(microsecond=0),
    ) -> None:
        self.client = client
        self.settings = settings
        self.journal = journal
        self.log = log
        self.progress = progress
        self.stop = stop
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock
        self._indexes: dict[str, IndexClient] = {}
        self._sent = 0  # records this run has sent for deletion, against --max-records
        self.spacing = Spacing(client.limiter.limit, monotonic=monotonic, sleep=sleep)

    async def index(self, name: str) -> IndexClient:
        if name not in self._indexes:
            self._indexes[name] = await self.client.index(name)
        return self._indexes[name]

    async def apply(
        self, plan: Plan, *, now: datetime, digest: str | None, only: Sequence[str] | None = None
    ) -> Report:
        """Check the plan against the world, then execute it; `only` limits it to policies."""
        report = Report(plan.fingerprint, started=now)
        status = {p.name: p.status for p in plan.policies}
        actions = [
            a
            for a in plan.actions
            if status.get(a.policy) == "ready"
            and (only is None or a.policy in only)
            and a.records > 0
        ]
        if actions and all(self.journal.is_done(a.id) for a in actions):
            # Finished by earlier runs: nothing to check or send, and nothing to claim as new.
            report.results = [self._earlier(a) for a in actions]
            self.log.info(
                "apply_already_done",
                plan=plan.fingerprint,
                actions=len(actions),
                deleted_earlier=report.deleted_earlier,
            )
            return report
        hosts = {name: (await self.index(name)).host for name in plan.index_hosts}
        check_fresh(
            plan,
            now=now,
            max_age=self.settings.max_age,
            digest=digest,
            hosts=hosts,
            changed_files=changed_id_files(
                a for a in plan.actions if only is None or a.policy in only
            ),
        )
        check_blocked(_subset(plan, [p for p in plan.policies if only is None or p.name in only]))
        todo = [a for a in actions if not self.journal.is_done(a.id)]
        keys = sorted({(a.index, a.namespace) for a in todo})
        sizes = dict(
            zip(keys, await asyncio.gather(*(self._size(*key) for key in keys)), strict=True)
        )
        gone = {key for key, size in sizes.items() if size is None}
        live = [a for a in todo if (a.index, a.namespace) not in gone]
        recounts = dict(
            zip(
                (a.id for a in live),
                await asyncio.gather(*(self._recount(a) for a in live)),
                strict=True,
            )
        )
        check_growth(live, recounts, self.settings.tolerance)
        totals = {key: size or 0 for key, size in sizes.items()}
        groups = sorted(guard_groups(plan, live), key=sorted)
        by_id = {a.id: a for a in live}
        weighed = await asyncio.gather(
            *(self._selected_now([by_id[i] for i in sorted(g)], recounts) for g in groups)
        )
        selected_now = dict(zip(groups, weighed, strict=True))
        check_guards(plan, live, selected_now, totals, self.settings.max_records)
        await asyncio.gather(
            *(self._check_spared(a) for a in live if a.protections and recounts[a.id])
        )
        self.log.info(
            "apply_started",
            plan=plan.fingerprint,
            actions=len(live),
            records=sum(recounts.values()),
            resumed=len(actions) - len(todo),
            namespaces_gone=[f"{index}/{ns}" for index, ns in sorted(gone)],
        )
        for a in actions:
            result = ActionResult(a)
            if self.journal.is_done(a.id):
                result = self._earlier(a)
            elif (a.index, a.namespace) in gone:
                self._finish_gone(result)
            report.results.append(result)
        self.progress.start(sum(recounts.values()))
        by_ns: dict[tuple[str, str], list[ActionResult]] = {}
        for r in report.results:
            if r.status == "skipped":
                by_ns.setdefault((r.action.index, r.action.namespace), []).append(r)
        gate = asyncio.Semaphore(self.settings.namespaces_at_once)
        await asyncio.gather(*(self._namespace(results, gate) for results in by_ns.values()))
        self.progress.finish()
        report.interrupted = self.stop.requested and not report.failed
        if not self.stop.requested:
            await self._verify_all(report.results)
        return report

    def _earlier(self, action: Action) -> ActionResult:
        entry = self.journal.entry(action.id)
        return ActionResult(
            action, status="applied-earlier", earlier=entry, finished=entry.finished
        )

    def _finish_gone(self, result: ActionResult) -> None:
        """The action's namespace no longer exists: say so, and journal it as finished."""
        a = result.action
        result.status, result.finished = "namespace-gone", self.clock()
        self.journal.mark_done(
            a.id, result.deleted, finished=result.finished, outcome="namespace-gone"
        )
        self.log.warning(
            "action_namespace_gone",
            action=a.id,
            kind=a.kind,
            index=a.index,
            namespace=a.namespace,
            planned=a.records,
            deleted=result.deleted,
        )

    async def _size(self, index: str, namespace: str) -> int | None:
        """The namespace's record count, or None when it does not exist."""
        try:
            return (await (await self.index(index)).describe_namespace(namespace)).record_count
        except NotFound:
            return None

    async def _selected_now(self, actions: Sequence[Action], recounts: Mapping[str, int]) -> int:
        """How many records these actions of one namespace select now, each once where
        Pinecone can say (filtered deletes: one count of their union), else their sum."""
        if len(actions) == 1:
            return recounts[actions[0].id]
        filters = [a.filter for a in actions if a.kind == "deleteByFilter" and a.filter]
        if len(filters) < len(actions):
            return sum(recounts[a.id] for a in actions)
        index = await self.index(actions[0].index)
        return (await index.count({"$or": filters}, actions[0].namespace)).matched

    async def _check_spared(self, action: Action) -> None:
        await check_spared(await self.index(action.index), action)

    async def _recount(self, action: Action) -> int:
        return await count_selected(await self.index(action.index), action)

    async def _namespace(self, results: list[ActionResult], gate: asyncio.Semaphore) -> None:
        async with gate:
            touched = False  # whether this run has deleted in the namespace yet
            for result in results:
                if self.stop.requested:
                    result.status = "interrupted"
                    continue
                started = self.monotonic()
                try:
                    await self._execute(result, touched=touched)
                except RetentionError as exc:
                    # Pinecone refused, or an input changed under the apply (an ID file): stop
                    # starting new work everywhere, let what is in flight finish, and report
                    # what was deleted before.
                    result.status, result.error = "failed", str(exc)
                    result.seconds = self.monotonic() - started
                    self.log.error("action_failed", action=result.action.id, error=str(exc))
                    self.stop.request()
                    continue
                result.seconds = self.monotonic() - started
                touched = touched or result.requests > 0
                if result.status == "interrupted":
                    continue
                if result.status == "namespace-gone":
                    self._finish_gone(result)
                    continue
                result.status, result.finished = "done", self.clock()
                try:
                    self.journal.mark_done(
                        result.action.id, result.deleted, finished=result.finished
                    )
                except RetentionError as exc:  # the deletes happened: report them, then stop
                    result.error = str(exc)
                    self.log.error("journal_failed", action=result.action.id, error=str(exc))
                    self.stop.request()
                self.log.info(
                    "action_applied",
                    action=result.action.id,
                    kind=result.action.kind,
                    planned=result.action.records,
                    deleted=result.deleted,
                    requests=result.requests,
                    seconds=round(result.seconds, 3),
                )

    async def _execute(self, result: ActionResult, *, touched: bool) -> None:
        """Delete what the action selects now; `deleted` says what that was, never the plan.

        A namespace found missing is "namespace gone" unless this run's own deletes in it
        emptied it (Pinecone may drop an emptied namespace); then the action simply found
        nothing left to delete.
        """
        a = result.action
        index = await self.index(a.index)

        async def vanished() -> bool:
            if await self._size(a.index, a.namespace) is not None:
                return False
            if not touched and result.requests == 0:
                result.status = "namespace-gone"
            return True

        try:
            if a.kind == "deleteByIds":
                await self._delete_ids(index, result)
                if result.deleted == 0 and result.status != "interrupted":
                    await vanished()
                return
            if a.kind == "deleteByFilter":
                assert a.filter is not None
                # What the filter matches right now is what this request deletes.
                n = (await index.count(a.filter, a.namespace)).matched
                if n == 0 and await vanished():
                    return
                await check_spared(index, a)  # again: records may have come since the apply began
                self._take(a, n, 0)
                done = await index.delete_by_filter(a.filter, a.namespace)
            else:
                size = await self._size(a.index, a.namespace)
                if size is None:
                    await vanished()
                    return
                n = size
                self._take(a, n, 0)
                if a.kind == "deleteAll":
                    done = await index.delete_all(a.namespace)
                else:
                    info = await index.delete_namespace(a.namespace, missing_ok=True)
                    done = DeleteResult(requests=1, ids_sent=0, infos=(info,))
        except NotFound:
            if await vanished():
                return
            raise
        result.deleted = n
        for info in done.infos:
            result.note_request(info.request_id)
        result.lsn = done.lsn
        self.progress.advance(n)
        self.log.info(
            "delete_request",
            action=a.id,
            kind=a.kind,
            records=n,
            planned=a.records,
            request_id=done.infos[0].request_id if done.infos else None,
        )

    async def _delete_ids(self, index: IndexClient, result: ActionResult) -> None:
        a = result.action
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue(
            maxsize=2 * self.settings.delete_workers
        )
        workers = self.settings.delete_workers

        async def enumerate_batches() -> None:
            try:
                async for batch in selected(index, a):
                    if self.stop.requested:
                        break
                    await queue.put(batch)
            finally:
                for _ in range(workers):
                    await queue.put(None)

        def stopping() -> bool:
            return self.stop.requested

        taken = 0  # IDs this action has been allowed to send, in flight or answered

        async def delete_batches() -> None:
            nonlocal taken
            while (batch := await queue.get()) is not None:
                if self.stop.requested:
                    continue  # drain without deleting: only batches already sent finish
                self._take(a, len(batch), taken)
                taken += len(batch)
                weights = Spacing.delete_weights(index.name, a.namespace, len(batch))
                async with self.spacing.turn(weights):
                    if stopping():  # came while this batch waited for its turn
                        continue
                    done = await index.delete_ids(batch, a.namespace)
                for info in done.infos:
                    result.note_request(info.request_id)
                if done.lsn is not None:
                    result.lsn = max(result.lsn or 0, done.lsn)
                result.deleted += len(batch)
                self.progress.advance(len(batch))
                self.log.info(
                    "delete_batch",
                    action=a.id,
                    index=a.index,
                    namespace=a.namespace,
                    ids=len(batch),
                    request_id=done.infos[0].request_id if done.infos else None,
                )

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(enumerate_batches())
                for _ in range(workers):
                    group.create_task(delete_batches())
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if self.stop.requested:
            result.status = "interrupted"

    def _take(self, action: Action, n: int, taken: int) -> None:
        """Allow `n` more records of `action` to be sent, on top of `taken`: never more than
        planned x (1 + tolerance) for one action, nor more than --max-records for the run,
        whatever arrived in the index since the checks before the first delete."""
        cap = math.ceil(action.records * (1 + self.settings.tolerance))
        if taken + n > cap:
            raise GuardError(
                f"{action.policy}/{action.rule} in {action.index}/{action.namespace} now selects "
                f"more than the {action.records:,} records planned allow (tolerance "
                f"{self.settings.tolerance:.0%}: at most {cap:,}); it stopped after {taken:,}; "
                "run `retention plan` again"
            )
        limit = self.settings.max_records
        if limit is not None and self._sent + n > limit:
            raise GuardError(
                f"this apply reached --max-records {limit:,} after {self._sent:,} records; "
                f"{action.policy}/{action.rule} in {action.index}/{action.namespace} stopped "
                "there; run `retention plan` again"
            )
        self._sent += n

    async def _verify_all(self, results: list[ActionResult]) -> None:
        await asyncio.gather(*(self._verify(r) for r in results if r.status == "done"))

    async def _verify(self, result: ActionResult) -> None:
        """Wait out eventual consistency: recount the selection until it is empty."""
        a = result.action
        index = await self.index(a.index)
        deadline = self.monotonic() + self.settings.verify_timeout
        delay = 0.1
        while True:
            try:
                remaining = await self._remaining(index, a, result.lsn)
            except RetentionError as exc:  # e.g. its ID file changed since: say so, still report
                result.verification, result.error = "not-checked", str(exc)
                self.log.warning("apply_unverified", action=a.id, error=str(exc))
                return
            if remaining == 0:
                result.verification, result.remaining = "verified", 0
                return
            if self.monotonic() >= deadline:
                result.verification, result.remaining = "pending", remaining
                self.log.warning("apply_unverified", action=a.id, remaining=remaining)
                return
            await self.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _remaining(self, index: IndexClient, a: Action, lsn: int | None) -> int:
        """What of the selection is still visible. For a filtered delete whose request LSN is
        known, a count that has indexed past it shows the delete done: any match it still finds
        was written after the delete, and is the next run's work, not this one's."""
        try:
            if a.kind == "deleteByFilter" and lsn is not None:
                assert a.filter is not None
                now = await index.count(a.filter, a.namespace)
                seen = now.info.max_indexed_lsn
                if now.matched and seen is not None and seen >= lsn:
                    self.log.info("verified_by_lsn", action=a.id, written_since=now.matched)
                    return 0
                return now.matched
            if a.kind == "deleteNamespace":
                await index.describe_namespace(a.namespace)
                return await namespace_records(index, a.namespace) or 1
            return await count_selected(index, a)
        except NotFound:
            return 0  # the namespace is gone, and every record of it


def _subset(plan: Plan, chosen: Sequence[Any]) -> Plan:
    from dataclasses import replace

    return replace(plan, policies=tuple(chosen))
