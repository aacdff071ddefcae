"""Execute a plan: exactly its actions, paced by the client's limiter, verified afterwards.

    plan ─▶ fresh? ─▶ blocked? ─▶ recount ─▶ growth and guards ─▶ per namespace, concurrently:
                                                  actions in order ─▶ journal ─▶ verify

- filtered deletes are one request each; ID actions stream: an enumerator fills a small queue
  with re-checked batches of at most 1,000 IDs and a few workers delete them, so the limiter,
  not the enumeration, sets the pace and memory stays bounded by the queue;
- each ID delete waits, if needed, until the request a second's worth of records before it has
  been answered for a second (`spacing`), so one slow answer cannot make the next on-time
  request share its one-second window and draw a 429;
- a stop request (SIGINT/SIGTERM) lets each batch in flight finish, then reports and returns;
- deletes are idempotent and selections fixed by the plan, so running the same apply after a
  crash finishes the work without deleting anything extra.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retention.applying.checks import check_blocked, check_fresh, check_growth, check_guards
from retention.applying.journal import Journal
from retention.applying.progress import Progress
from retention.applying.report import ActionResult, Report
from retention.applying.selection import (
    changed_id_files,
    count_selected,
    namespace_records,
    selected,
)
from retention.applying.spacing import Spacing
from retention.errors import NotFound, PineconeError
from retention.pinecone import IndexClient, PineconeClient
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
    ) -> None:
        self.client = client
        self.settings = settings
        self.journal = journal
        self.log = log
        self.progress = progress
        self.stop = stop
        self.sleep = sleep
        self.monotonic = monotonic
        self._indexes: dict[str, IndexClient] = {}
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
        status = {p.name: p.status for p in plan.policies}
        chosen = [p for p in plan.policies if only is None or p.name in only]
        check_blocked(_subset(plan, chosen))
        actions = [
            a
            for a in plan.actions
            if status.get(a.policy) == "ready"
            and (only is None or a.policy in only)
            and a.records > 0
        ]
        todo = [a for a in actions if not self.journal.is_done(a.id)]
        recounts = dict(
            zip(
                (a.id for a in todo),
                await asyncio.gather(*(self._recount(a) for a in todo)),
                strict=True,
            )
        )
        check_growth(todo, recounts, self.settings.tolerance)
        totals = {
            key: await namespace_records(await self.index(key[0]), key[1])
            for key in {(a.index, a.namespace) for a in todo}
        }
        check_guards(plan, todo, recounts, totals, self.settings.max_records)
        self.log.info(
            "apply_started",
            plan=plan.fingerprint,
            actions=len(todo),
            records=sum(recounts.values()),
            resumed=len(actions) - len(todo),
        )
        for a in actions:
            result = ActionResult(a)
            if self.journal.is_done(a.id):
                result.status, result.deleted = "done", self.journal.done[a.id]
            report.results.append(result)
        self.progress.start(sum(recounts.values()))
        by_ns: dict[tuple[str, str], list[ActionResult]] = {}
        for r in report.results:
            if r.status != "done":
                by_ns.setdefault((r.action.index, r.action.namespace), []).append(r)
        gate = asyncio.Semaphore(self.settings.namespaces_at_once)
        await asyncio.gather(*(self._namespace(results, gate) for results in by_ns.values()))
        self.progress.finish()
        report.interrupted = self.stop.requested and not report.failed
        if not self.stop.requested:
            await self._verify_all(report.results)
        return report

    async def _recount(self, action: Action) -> int:
        return await count_selected(await self.index(action.index), action)

    async def _namespace(self, results: list[ActionResult], gate: asyncio.Semaphore) -> None:
        async with gate:
            for result in results:
                if self.stop.requested:
                    result.status = "interrupted"
                    continue
                started = self.monotonic()
                try:
                    await self._execute(result)
                except PineconeError as exc:
                    # Stop starting new work everywhere; what is in flight finishes.
                    result.status, result.error = "failed", str(exc)
                    result.seconds = self.monotonic() - started
                    self.log.error("action_failed", action=result.action.id, error=str(exc))
                    self.stop.request()
                    continue
                result.seconds = self.monotonic() - started
                if result.status == "interrupted":
                    continue
                result.status = "done"
                self.journal.mark_done(result.action.id, result.deleted)
                self.log.info(
                    "action_applied",
                    action=result.action.id,
                    kind=result.action.kind,
                    deleted=result.deleted,
                    requests=result.requests,
                    seconds=round(result.seconds, 3),
                )

    async def _execute(self, result: ActionResult) -> None:
        a = result.action
        index = await self.index(a.index)
        if a.kind == "deleteByIds":
            await self._delete_ids(index, result)
            return
        if a.kind == "deleteByFilter":
            assert a.filter is not None
            done = await index.delete_by_filter(a.filter, a.namespace)
            result.deleted = a.records
        elif a.kind == "deleteAll":
            done = await index.delete_all(a.namespace)
            result.deleted = a.records
        else:
            info = await index.delete_namespace(a.namespace, missing_ok=True)
            result.note_request(info.request_id)
            result.deleted = a.records
            self.progress.advance(a.records)
            return
        for info in done.infos:
            result.note_request(info.request_id)
        result.lsn = done.lsn
        self.progress.advance(a.records)
        self.log.info(
            "delete_request",
            action=a.id,
            kind=a.kind,
            records=a.records,
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

        async def delete_batches() -> None:
            while (batch := await queue.get()) is not None:
                if self.stop.requested:
                    continue  # drain without deleting: only batches already sent finish
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

    async def _verify_all(self, results: list[ActionResult]) -> None:
        await asyncio.gather(*(self._verify(r) for r in results if r.status == "done"))

    async def _verify(self, result: ActionResult) -> None:
        """Wait out eventual consistency: recount the selection until it is empty."""
        a = result.action
        index = await self.index(a.index)
        deadline = self.monotonic() + self.settings.verify_timeout
        delay = 0.1
        while True:
            remaining = await self._remaining(index, a)
            if remaining == 0:
                result.verification, result.remaining = "verified", 0
                return
            if self.monotonic() >= deadline:
                result.verification, result.remaining = "pending", remaining
                self.log.warning("apply_unverified", action=a.id, remaining=remaining)
                return
            await self.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _remaining(self, index: IndexClient, a: Action) -> int:
        if a.kind == "deleteNamespace":
            try:
                await index.describe_namespace(a.namespace)
            except NotFound:
                return 0
            return await namespace_records(index, a.namespace) or 1
        return await count_selected(index, a)


def _subset(plan: Plan, chosen: Sequence[Any]) -> Plan:
    from dataclasses import replace

    return replace(plan, policies=tuple(chosen))
