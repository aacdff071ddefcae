"""Execute a plan: exactly its actions, paced by the client's limiter, verified afterwards.

    plan ─▶ fresh? ─▶ blocked? ─▶ namespace sizes ─▶ namespaces as a bounded stream, each:
        fresh counts ─▶ growth, guards, protections spared ─▶ actions in order ─▶ journal
    ─▶ verify: by LSN, one read per namespace or per ID action

- every check is made on the namespace it is about, just before that namespace's first delete:
  its actions' counts must not have grown beyond the tolerance, its policies' guards must hold
  on fresh counts, and Pinecone must count no protected record in a filtered delete's reach
  (`check_spared`, on the server's own reading of the filter language). A namespace that fails
  a check is not touched; others go on. A plan made moments before in the same process
  (`fresh`: `apply --auto-approve`, `run`) is its own count: it is not counted again;
- the growth guard is also a cap: no action sends more than planned x (1 + tolerance) IDs, no
  run more than --max-records, no policy more than its maxRecords, whatever arrived since;
- filtered deletes are one request each; ID actions stream: an enumerator fills a small queue
  with re-checked batches of at most 1,000 IDs and a few workers delete them, so the limiter,
  not the enumeration, sets the pace and memory stays bounded by the queue;
- each ID delete waits, if needed, until the request a second's worth of records before it has
  been answered for a second (`spacing`), so one slow answer cannot make the next on-time
  request share its one-second window and draw a 429;
- a record is counted once: where two filtered deletes of a namespace can select the same
  record, one count of their union says how many records they delete together, and the later
  action is credited only with what the earlier did not take; an ID sent by one action of a
  namespace is not sent again by another;
- verification waits for Pinecone to show the deletes: a read whose `x-pinecone-max-indexed-
  lsn` has reached the last delete's `x-pinecone-request-lsn` sees them (a filtered delete is
  then done, and any match the read still counts was written after it), else the read must
  find nothing left; `verify="recount"` enumerates each selection again instead;
- a stop request (SIGINT/SIGTERM) lets each batch in flight finish, then reports and returns;
- deletes are idempotent and selections fixed by the plan, so running the same apply after a
  crash finishes the work without deleting anything extra; a plan its journal shows finished
  is not checked or sent again, and is reported as applied earlier;
- the report says what happened, not what was planned: an action whose namespace no longer
  exists is "namespace gone" (no request sent), and a filtered delete, `deleteAll` or
  `deleteNamespace` counts what a count taken just before its request saw (or, for a fresh
  plan, the plan's own count of moments before).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from structlog.typing import FilteringBoundLogger

from retention.applying.backups import take_backups, wanted
from retention.applying.batches import (
    by_filter,
    changed_id_files,
    check_spared,
    count_selected,
    namespace_records,
    selected,
)
from retention.applying.checks import (
    check_age,
    check_blocked,
    check_hosts,
    check_sources,
    namespace_guard_problem,
    percent_guard,
)
from retention.applying.journal import Journal
from retention.applying.ledger import NOT_RECORDED, Record
from retention.applying.progress import Progress
from retention.applying.report import ActionResult, Report
from retention.applying.spacing import Spacing
from retention.errors import GuardError, NotFound, RetentionError
from retention.filters import disjoint, or_, to_json
from retention.host import utc_now
from retention.identifiers import MAX_IDS_PER_REQUEST
from retention.pinecone import IndexClient, PineconeClient
from retention.pinecone.models import DeleteResult
from retention.planning.plan import Action, ByFilter, Overlap, Plan, PolicyResult, format_time
from retention.planning.planner import namespaces_at_once
from retention.planning.sealing import check_sealed
from retention.planning.streams import bounded
from retention.policy import PolicySet

Verify = Literal["lsn", "recount"]

LIST_SIZES_ABOVE = 20
"""Namespaces of one index touched by a plan beyond which their sizes come from one listing
(100 namespaces a page) rather than a describe request each."""
MAX_VERIFY_SAMPLE = 1000
"""Deleted IDs an ID action's verification fetches back: the first of each batch, thinned
evenly beyond this, so that one fetch shows every part of the deletion done."""
JOURNAL_EVERY = 1.0
"""Seconds between journal writes while actions finish."""
RECOUNT_AFTER = 10.0
"""Seconds after its count beyond which a filtered delete is counted (and checked) again
before it is sent (a namespace's deletes are paced at 5 a second, so its last one may wait a
while); it is also counted again after an ID action of its namespace, which may have taken
minutes."""


@dataclass(frozen=True)
class ApplySettings:
    max_age: timedelta = timedelta(hours=24)
    """Refuse plans older than this."""
    tolerance: float = 0.10
    """Refuse when an action now selects more than this fraction above its planned count."""
    max_records: int | None = None
    """Refuse a run that would delete more records than this in total."""
    namespaces_at_once: int | None = None
    """Namespaces worked on concurrently; by default enough to keep each index at its limits
    while every namespace waits on its own."""
    delete_workers: int = 3
    """Delete requests in flight per ID action."""
    verify_timeout: float = 60.0
    """How long to wait for deletions to become visible before reporting them pending."""
    verify: Verify = "lsn"
    """lsn: one read per namespace or ID action shows the deletes applied; recount: enumerate
    every selection again until it is empty."""
    ignore_windows: bool = False
    """Apply policies outside their `spec.windows` too (`--ignore-windows`)."""
    backup_timeout: float = 7200.0
    """How long a backup taken first (`limits.backupAbove`) may take to become Ready."""


class Stop:
    """Set by a signal handler: finish the batches in flight, start nothing new."""

    def __init__(self) -> None:
        self._requested = False

    def request(self) -> None:
        self._requested = True

    @property
    def requested(self) -> bool:
        return self._requested


@dataclass
class _Namespace:
    """One namespace's share of the apply: its results in plan order and what it counted."""

    index: str
    name: str
    results: list[ActionResult]
    size: int | None
    counts: dict[str, int] = field(default_factory=dict)
    unions: dict[frozenset[str], int] = field(default_factory=dict)
    sent_ids: set[str] | None = None
    """IDs this run sent here, kept when several ID actions share the namespace."""
    counted_at: float = 0.0
    """When `counts` were taken (monotonic)."""
    shared: frozenset[str] | None = None
    """The filtered deletes whose union was counted for the accounting (a guard may count
    the union of a policy's share of them too; only this one credits)."""
    listed: bool = False
    """Whether an ID action ran here since: it may have taken any time, and records may
    have arrived meanwhile."""
    fresh: bool = False
    """Whether the plan was made moments before by this process: its counts are current."""
    recounted: set[str] = field(default_factory=set)
    """Filtered deletes counted again just before their request."""


class Executor:
    def __init__(
        self,
        client: PineconeClient,
        *,
        settings: ApplySettings,
        journal: Journal,
        log: FilteringBoundLogger,
        progress: Progress,
        stop: Stop,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = utc_now,
        record: Record = NOT_RECORDED,
    ) -> None:
        self.client = client
        self.record = record
        """The ledger's entries of this apply, written as it goes."""
        self.ledger_error: str | None = None
        self._closes: dict[str, datetime | None] = {}
        """When the window of each policy with windows closes (None: not within a week)."""
        self._canary_limit: dict[str, int] = {}
        """ID actions running their canary batch: at most this many IDs."""
        self.settings = settings
        self.journal = journal
        self.log = log
        self.progress = progress
        self.stop = stop
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock
        self._indexes = client.indexes()
        self._sent = 0  # records this run has sent for deletion, against --max-records
        self._policy_sent: dict[str, int] = {}  # per policy, against its maxRecords
        self._journal_saved = -math.inf
        self._overlaps: dict[tuple[str, str], list[Overlap]] = {}
        self.spacing = Spacing(client.quota, monotonic=monotonic, sleep=sleep)

    def _stopping(self) -> bool:
        """Whether a stop was asked for (a call, so that checks after an await see it anew)."""
        return self.stop.requested

    async def index(self, name: str) -> IndexClient:
        return await self._indexes.get(name)

    def _width(self) -> int:
        """Namespaces at once: as the planner works them, from the limits the client paces by."""
        if self.settings.namespaces_at_once is not None:
            return self.settings.namespaces_at_once
        return namespaces_at_once(self.client.quotas, fallback=64)

    async def apply(
        self,
        plan: Plan,
        policies: PolicySet,
        *,
        now: datetime,
        only: Sequence[str] | None = None,
        fresh: bool = False,
    ) -> Report:
        """Check the plan against the world, then execute it; `only` limits it to policies.

        `policies` are the policies the apply answers to: the plan must have been made from
        them (their digest) and they must yield each of its actions (`sealing`), whoever made
        the plan and however it got here.

        `fresh`: the plan was made by this process moments ago, so its counts are current and
        are not taken again (its guards were weighed on them).
        """
        report = Report(plan.fingerprint, started=now)
        actions = _selected(plan, only)
        if actions and all(self.journal.is_done(a.id) for a in actions):
            # Finished by earlier runs: nothing to check or send, and nothing to claim as new.
            report.results = [self._earlier(a) for a in actions]
            self.log.info(
                "apply_already_done",
                plan=plan.fingerprint,
                actions=len(actions),
                deleted_earlier=report.deleted_earlier,
            )
            report.finished = self.clock()
            return report
        await self._check(plan, policies, now=now, only=only)
        groups = await self._prepare(plan, policies, actions, report, now=now, fresh=fresh)
        try:
            groups = await self._canaries(plan, policies, groups, report)
            await bounded(groups, lambda ns: self._namespace(plan, ns), self._width())
        finally:
            self.progress.finish()
            self._save_journal(force=True)
        report.interrupted = self._stopping() and not report.failed
        if not self._stopping():
            await self._verify_all(groups)
            for r in report.results:
                self._recorded(self.record.verified, r, self.clock())
        report.finished = self.clock()
        return report

    async def _prepare(
        self,
        plan: Plan,
        policies: PolicySet,
        actions: Sequence[Action],
        report: Report,
        *,
        now: datetime,
        fresh: bool,
    ) -> list[_Namespace]:
        """The namespaces' work, once the policies outside their windows are refused and the
        backups that large deletions ask for are Ready."""
        todo = [a for a in actions if not self.journal.is_done(a.id)]
        closed = self._windows(policies, now)
        backups = await take_backups(
            self.client,
            plan,
            wanted(policies, [a for a in todo if a.policy not in closed], self.settings.tolerance),
            timeout=self.settings.backup_timeout,
            record=self.record,
            log=self.log,
            clock=self.clock,
            sleep=self.sleep,
            monotonic=self.monotonic,
        )
        report.backups = backups.taken
        for overlap in plan.overlaps:
            self._overlaps.setdefault((overlap.index, overlap.namespace), []).append(overlap)
        sizes = await self._sizes(sorted({(a.index, a.namespace) for a in todo}))
        self.log.info(
            "apply_started",
            plan=plan.fingerprint,
            actions=len(todo),
            planned=sum(a.records for a in todo),
            resumed=len(actions) - len(todo),
            namespaces_gone=[
                f"{i}/{ns}" for (i, ns), size in sorted(sizes.items()) if size is None
            ],
        )
        groups = self._groups(actions, report, sizes, fresh=fresh)
        self._refuse(groups, backups.refused)
        self._refuse(groups, closed, status="outside-window")
        self.progress.start(sum(r.action.records for ns in groups for r in ns.results))
        return groups

    def _windows(self, policies: PolicySet, now: datetime) -> dict[str, str]:
        """The policies whose `spec.windows` are closed at `now` (-> why), unless windows are
        ignored; for the others, when their window closes (the apply stops them there)."""
        closed: dict[str, str] = {}
        if self.settings.ignore_windows:
            return closed
        for p in policies.policies:
            if not p.windows:
                continue
            if p.windows.is_open(now):
                self._closes[p.name] = p.windows.closes_at(now)
                continue
            opens = p.windows.opens_at(now)
            closed[p.name] = (
                f"policy {p.name} is outside its windows ({p.windows.describe()}) at "
                f"{format_time(now)}; "
                + (f"they open {format_time(opens)}; " if opens else "")
                + "nothing of it was deleted; apply it then, or pass --ignore-windows"
            )
        return closed

    def _window_closed(self, policy: str) -> bool:
        """Whether the window the policy's apply began in has closed since."""
        closes = self._closes.get(policy)
        return closes is not None and self.clock() >= closes

    def _halted(self, action: Action) -> bool:
        """Whether no more of `action` may start: a stop, or its policy's window closed."""
        return self._stopping() or self._window_closed(action.policy)

    def _close_window(self, result: ActionResult) -> None:
        a = result.action
        closes = self._closes.get(a.policy)
        result.status = "window-closed"
        result.error = (
            f"the window of policy {a.policy} closed at "
            f"{format_time(closes) if closes else 'its end'}; the batches in flight finished "
            "and the rest waits for its next window (run the same apply then)"
        )
        self.log.warning("window_closed", action=a.id, deleted=result.deleted)

    async def _check(
        self, plan: Plan, policies: PolicySet, *, now: datetime, only: Sequence[str] | None
    ) -> None:
        """Refuse the whole plan before anything is sent: stale, other policies, moved hosts,
        changed ID files, actions the policies do not yield, blocked policies."""
        check_age(plan, now=now, max_age=self.settings.max_age)
        changed = changed_id_files(a for a in plan.actions if only is None or a.policy in only)
        check_sources(plan, digest=policies.digest, changed_files=changed)
        check_sealed(plan, policies)  # before any request: an edited plan learns nothing
        check_hosts(plan, {name: (await self.index(name)).host for name in plan.index_hosts})
        check_blocked(replace(plan, policies=tuple(
            p for p in plan.policies if only is None or p.name in only
        )))  # fmt: skip

    def _groups(
        self,
        actions: Sequence[Action],
        report: Report,
        sizes: Mapping[tuple[str, str], int | None],
        *,
        fresh: bool,
    ) -> list[_Namespace]:
        """Each action's result in the report, and the namespaces with work left, in order."""
        groups: dict[tuple[str, str], _Namespace] = {}
        for a in actions:
            result = self._earlier(a) if self.journal.is_done(a.id) else ActionResult(a)
            report.results.append(result)
            if result.status != "skipped":
                continue
            key = (a.index, a.namespace)
            if key not in groups:
                groups[key] = _Namespace(a.index, a.namespace, [], sizes.get(key), fresh=fresh)
            groups[key].results.append(result)
        return list(groups.values())

    def _refuse(
        self,
        groups: list[_Namespace],
        refused: Mapping[str, str],
        *,
        status: Literal["failed", "outside-window"] = "failed",
    ) -> None:
        """End the results of the policies in `refused` (policy -> why) with `status` and take
        them out of the namespaces' work; nothing of theirs is sent."""
        if not refused:
            return
        for ns in groups:
            out = [r for r in ns.results if r.action.policy in refused]
            for r in out:
                if status == "failed":
                    self._fail([r], refused[r.action.policy], stop_all=False)
                    continue
                r.status, r.error = status, refused[r.action.policy]
                self.log.warning("action_outside_window", action=r.action.id, error=r.error)
                self._recorded(self.record.action_ended, r, self.clock())
            ns.results = [r for r in ns.results if r.action.policy not in refused]
        groups[:] = [ns for ns in groups if ns.results]

    # -- canaries

    async def _canaries(
        self, plan: Plan, policies: PolicySet, groups: list[_Namespace], report: Report
    ) -> list[_Namespace]:
        """Run the canary of each policy that asks for one (`rollout.canary`) before anything
        else of it; a canary that fails or is not verified stops its policy there. The
        namespaces' work left afterwards."""
        failed: dict[str, str] = {}
        for policy in policies.policies:
            mine = [(ns, r) for ns in groups for r in ns.results if r.action.policy == policy.name]
            if policy.canary is None or not mine or self._stopping():
                continue
            self.log.info("canary_started", policy=policy.name, records=policy.canary)
            problem = await self._canary(plan, policy.name, policy.canary, mine)
            report.canaries[policy.name] = problem or "passed"
            if problem is None:
                self.log.info("canary_passed", policy=policy.name)
                continue
            self.log.error("canary_failed", policy=policy.name, error=problem)
            failed[policy.name] = problem
        self._refuse(groups, failed)
        return [ns for ns in groups if ns.results]

    async def _canary(
        self, plan: Plan, name: str, limit: int, mine: Sequence[tuple[_Namespace, ActionResult]]
    ) -> str | None:
        """Delete at most `limit` records of the policy and verify them: one batch of its
        first ID action, else its smallest namespace whole. Why it failed, or None."""
        for ns, r in mine:
            if r.action.kind == "deleteByIds":
                return await self._canary_ids(plan, ns, r, limit)
        sizes: dict[int, int] = {}
        for ns, r in mine:
            sizes[id(ns)] = sizes.get(id(ns), 0) + r.action.records
        ns = min((ns for ns, _ in mine), key=lambda n: (sizes[id(n)], n.index, n.name))
        if sizes[id(ns)] > limit:
            return (
                f"canary of {name}: its smallest namespace {ns.index}/{ns.name} selects "
                f"{sizes[id(ns)]:,} records, more than rollout.canary {limit:,}; nothing of "
                "the policy was deleted"
            )
        mine_here = [r for r in ns.results if r.action.policy == name]
        sub = _Namespace(ns.index, ns.name, mine_here, ns.size, fresh=ns.fresh)
        ns.results = [r for r in ns.results if r.action.policy != name]
        ns.listed = True  # the canary deleted there since the namespace was counted
        await self._namespace(plan, sub)
        trouble = [r for r in sub.results if r.status not in ("done", "namespace-gone")]
        if trouble:
            return (
                f"canary of {name} in {ns.index}/{ns.name}: {trouble[0].error or trouble[0].status}"
            )
        await self._verify_namespace(sub, [r for r in sub.results if r.status == "done"])
        return self._unverified(name, sub.results)

    async def _canary_ids(
        self, plan: Plan, ns: _Namespace, result: ActionResult, limit: int
    ) -> str | None:
        """The first IDs (at most `limit`, at most one batch's worth) of an ID action, after
        the checks of its namespace, verified; the action goes on from there with the rest of
        the apply, whose own checks weigh it again."""
        name = result.action.policy
        mine = [r for r in ns.results if r.action.policy == name]
        booked = self._policy_sent.get(name, 0)
        allowed = await self._checked(plan, _Namespace(ns.index, ns.name, mine, ns.size))
        self._policy_sent[name] = booked  # weighed again, whole, when the namespace runs
        if result.action.id not in allowed:
            return f"canary of {name}: {result.error}"
        self._canary_limit[result.action.id] = min(limit, MAX_IDS_PER_REQUEST)
        try:
            await self._execute(ns, result, touched=False)
        except RetentionError as exc:
            self._fail([result], str(exc), stop_all=False)
            return f"canary of {name}: {exc}"
        finally:
            del self._canary_limit[result.action.id]
        if result.status == "interrupted" or self._stopping():
            result.status = "interrupted"
            return None
        result.status = "skipped"  # not finished: the rest of the apply goes on with it
        await self._verify_ids(await self.index(ns.index), result)
        problem = self._unverified(name, [result])
        result.verification, result.remaining = "not-checked", None
        return problem

    def _unverified(self, name: str, results: Sequence[ActionResult]) -> str | None:
        pending = [
            r for r in results if r.status != "namespace-gone" and r.verification != "verified"
        ]
        if not pending:
            return None
        r = pending[0]
        return (
            f"canary of {name} not verified: {r.remaining or 0:,} of the records it deleted in "
            f"{r.action.index}/{r.action.namespace} still visible after "
            f"{self.settings.verify_timeout:g}s; nothing else of the policy was deleted"
        )

    def _earlier(self, action: Action) -> ActionResult:
        entry = self.journal.entry(action.id)
        return ActionResult(
            action, status="applied-earlier", earlier=entry, finished=entry.finished
        )

    async def _sizes(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """Each namespace's record count now, None for one that does not exist: one listing
        per index where the plan touches many of its namespaces, else one describe each."""
        sizes: dict[tuple[str, str], int | None] = {}
        for name in sorted({index for index, _ in keys}):
            mine = [ns for index, ns in keys if index == name]
            index = await self.index(name)
            if len(mine) > LIST_SIZES_ABOVE:
                listed: dict[str, int] = {}
                async for page in index.list_namespaces(limit=100):
                    listed.update((n.name, n.record_count) for n in page.namespaces)
                sizes.update(((name, ns), listed.get(ns)) for ns in mine)
                continue

            async def describe(ns: str, index_name: str = name) -> None:
                sizes[(index_name, ns)] = await self._size(index_name, ns)

            await bounded(mine, describe, 16)
        return sizes

    async def _size(self, index: str, namespace: str) -> int | None:
        """The namespace's record count, or None when it does not exist."""
        try:
            return (await (await self.index(index)).describe_namespace(namespace)).record_count
        except NotFound:
            return None

    def _finish_gone(self, result: ActionResult) -> None:
        """The action's namespace no longer exists: say so, and journal it as finished."""
        a = result.action
        result.status, result.finished = "namespace-gone", self.clock()
        self._recorded(self.record.action_ended, result, result.finished)
        self.journal.mark_done(
            a.id, result.deleted, finished=result.finished, outcome="namespace-gone", save=False
        )
        self._save_journal()
        self.log.warning(
            "action_namespace_gone",
            action=a.id,
            kind=a.kind,
            index=a.index,
            namespace=a.namespace,
            planned=a.records,
            deleted=result.deleted,
        )

    def _save_journal(self, *, force: bool = False) -> None:
        now = self.monotonic()
        if not force and now - self._journal_saved < JOURNAL_EVERY:
            return
        self._journal_saved = now
        try:
            self.journal.save()
        except RetentionError as exc:  # the deletes happened: report them, then stop
            self.log.error("journal_failed", error=str(exc))
            self.stop.request()
            raise

    def _recorded(self, write: Callable[..., None], *args: object) -> None:
        """Write what happened to the ledger. It happened either way: a ledger that cannot take
        it stops the apply before its next delete (every delete is written down before it is
        sent), and the report still says what was deleted."""
        try:
            write(*args)
        except RetentionError as exc:
            if not self.stop.requested:
                self.log.error("ledger_failed", error=str(exc))
            self.ledger_error = str(exc)
            self.stop.request()

    # -- one namespace

    async def _namespace(self, plan: Plan, ns: _Namespace) -> None:
        if self._stopping():
            for r in ns.results:
                r.status = "interrupted"
            return
        if ns.size is None:
            for r in ns.results:
                self._finish_gone(r)
            return
        try:
            allowed = await self._checked(plan, ns)
        except NotFound:
            for r in ns.results:
                self._finish_gone(r)
            return
        except RetentionError as exc:
            self._fail(ns.results, str(exc), stop_all=True)
            return
        if sum(1 for r in ns.results if r.action.kind == "deleteByIds") > 1:
            ns.sent_ids = set()
        credited = 0  # of the namespace's filtered union, what earlier actions took
        touched = False  # whether this run has deleted in the namespace yet
        for result in ns.results:
            if result.status == "failed":
                continue  # refused by a check above
            if self._stopping():
                result.status = "interrupted"
                continue
            if result.action.id not in allowed:
                continue
            if self._window_closed(result.action.policy):
                self._close_window(result)
                continue
            started = self.monotonic()
            try:
                await self._execute(ns, result, touched=touched)
            except GuardError as exc:
                # A cap was reached: this action stops here, with what it deleted reported;
                # the other namespaces are not concerned.
                self._fail([result], str(exc), stop_all=False)
                result.seconds = self.monotonic() - started
                continue
            except RetentionError as exc:
                # Pinecone refused, or an input changed under the apply (an ID file): stop
                # starting new work everywhere, let what is in flight finish, and report
                # what was deleted before.
                result.seconds = self.monotonic() - started
                self._fail([result], str(exc), stop_all=True)
                continue
            result.seconds = self.monotonic() - started
            touched = touched or result.requests > 0
            if result.status in ("interrupted", "window-closed"):
                continue
            if result.status == "namespace-gone":
                self._finish_gone(result)
                continue
            if result.action.kind == "deleteByFilter":
                credited = self._credit(ns, result, credited)
            self._done(result)

    def _fail(self, results: Sequence[ActionResult], error: str, *, stop_all: bool) -> None:
        for r in results:
            if r.status in ("skipped", "interrupted", "done"):
                r.status, r.error = "failed", error
                self.log.error("action_failed", action=r.action.id, error=error)
                self._recorded(self.record.action_ended, r, self.clock())
        if stop_all:
            self.stop.request()

    def _done(self, result: ActionResult) -> None:
        result.status, result.finished = "done", self.clock()
        self._recorded(self.record.action_ended, result, result.finished)
        self.journal.mark_done(
            result.action.id, result.deleted, finished=result.finished, save=False
        )
        try:
            self._save_journal()
        except RetentionError as exc:
            result.error = str(exc)
        self.log.info(
            "action_applied",
            action=result.action.id,
            kind=result.action.kind,
            planned=result.action.records,
            deleted=result.deleted,
            requests=result.requests,
            seconds=round(result.seconds, 3),
        )

    async def _checked(self, plan: Plan, ns: _Namespace) -> set[str]:
        """Count what the namespace's actions select now and check it: growth, guards and
        protections. Returns the actions that may go; those refused are marked failed."""
        index = await self.index(ns.index)
        filtered = [r.action for r in ns.results if r.action.kind == "deleteByFilter"]
        await self._count_now(index, ns)
        refused = self._grown(ns)
        live = [a for a in filtered if ns.counts[a.id] and a.id not in refused]
        if len(live) > 1 and _may_overlap(live):
            key = frozenset(a.id for a in live)
            ns.shared = key
            ns.unions[key] = (
                _planned_union(self._overlaps.get((ns.index, ns.name), ()), live)
                if ns.fresh
                else (await index.count(_any_of(live), ns.name)).matched
            )
        for policy in plan.policies:
            await self._guard(policy, index, ns, refused)
        protected = [
            a
            for a in filtered
            if by_filter(a).protections and ns.counts[a.id] and a.id not in refused
        ]
        if protected:
            try:
                await check_spared(index, protected)
            except GuardError as exc:
                for a in protected:
                    refused[a.id] = str(exc)
        for r in ns.results:
            if r.action.id in refused:
                r.status, r.error = "failed", refused[r.action.id]
                self.log.error("action_refused", action=r.action.id, error=r.error)
        return {r.action.id for r in ns.results if r.action.id not in refused}

    async def _count_now(self, index: IndexClient, ns: _Namespace) -> None:
        """Each action's selection now: filtered ones counted again (unless the plan is this
        process's own, moments old), whole namespaces by their size, ID lists as planned
        (they are enumerated while deleting, under a cap)."""
        for r in ns.results:
            a = r.action
            if isinstance(a.deletes, ByFilter):
                ns.counts[a.id] = (
                    a.records
                    if ns.fresh
                    else (await index.count(_any_of([a]), a.namespace)).matched
                )
            elif a.kind in ("deleteAll", "deleteNamespace"):
                ns.counts[a.id] = ns.size or 0
            else:
                ns.counts[a.id] = a.records
        ns.counted_at = self.monotonic()

    def _grown(self, ns: _Namespace) -> dict[str, str]:
        """The actions whose selection grew beyond --tolerance since planning, and why."""
        refused: dict[str, str] = {}
        for r in ns.results:
            a = r.action
            now = ns.counts[a.id]
            if a.kind != "deleteByIds" and not ns.fresh and now > self._cap(a):
                refused[a.id] = (
                    f"{a.policy}/{a.rule} in {a.index}/{a.namespace} now selects {now:,} records, "
                    f"{now - a.records:,} more than the {a.records:,} planned (tolerance "
                    f"{self.settings.tolerance:.0%}); nothing was deleted there; run "
                    "`retention plan` again and review the new plan"
                )
        return refused

    async def _guard(
        self, policy: PolicyResult, index: IndexClient, ns: _Namespace, refused: dict[str, str]
    ) -> None:
        """Weigh the policy's actions here against its guards, and book what they delete."""
        mine = [
            r.action
            for r in ns.results
            if r.action.policy == policy.name and r.action.id not in refused
        ]
        if not mine:
            return
        limit_pct, default = percent_guard(policy)
        plain = [a for a in mine if not (default and a.explicit)]
        selected_now = await self._weigh(index, ns, mine)
        weighed = await self._weigh(index, ns, plain) if limit_pct is not None and plain else 0
        # Checked and booked in one step, with no await between: namespaces running
        # concurrently must not both pass on the same remaining maxRecords.
        sent = self._policy_sent.get(policy.name, 0)
        problem = namespace_guard_problem(policy, mine, selected_now, weighed, ns.size or 0, sent)
        if problem is not None:
            for a in mine:
                refused[a.id] = problem
        else:
            self._policy_sent[policy.name] = sent + selected_now

    async def _weigh(self, index: IndexClient, ns: _Namespace, acts: Sequence[Action]) -> int:
        """What `acts` select now, each record once where Pinecone can say."""
        if not acts:
            return 0
        total = sum(ns.counts[a.id] for a in acts)
        wanted = [a for a in acts if a.kind == "deleteByFilter" and ns.counts[a.id]]
        if len(wanted) < 2 or len(wanted) < len([a for a in acts if ns.counts[a.id]]):
            return total
        key = frozenset(a.id for a in wanted)
        if key not in ns.unions:
            ns.unions[key] = (await index.count(_any_of(wanted), ns.name)).matched
        return ns.unions[key]

    def _credit(self, ns: _Namespace, result: ActionResult, credited: int) -> int:
        """Credit a filtered delete with the records of the namespace's union that earlier
        actions did not take, so that a record two filters select counts once."""
        key = ns.shared
        if key is not None and result.action.id in key and key in ns.unions:
            result.deleted = max(0, min(result.deleted, ns.unions[key] - credited))
            return credited + result.deleted
        return credited

    async def _execute(self, ns: _Namespace, result: ActionResult, *, touched: bool) -> None:
        """Delete what the action selects now; `deleted` says what that was, never the plan.

        A namespace found missing is "namespace gone" unless this run's own deletes in it
        emptied it (Pinecone may drop an emptied namespace); then the action simply found
        nothing left to delete.
        """
        a = result.action
        index = await self.index(a.index)
        self.record.action_started(a, self.clock())  # before its first request
        try:
            if a.kind == "deleteByIds":
                ns.listed = True
                result.counted_by = "ids-sent"
                await self._delete_ids(index, ns, result)
                if result.deleted == 0 and result.status != "interrupted":
                    await self._vanished(result, touched=touched)
                return
            sent = await self._delete_selection(index, ns, a)
        except NotFound:
            if await self._vanished(result, touched=touched):
                return
            raise
        if sent is not None:
            self._booked(ns, result, *sent)

    async def _vanished(self, result: ActionResult, *, touched: bool) -> bool:
        """Whether the action's namespace is gone; "namespace gone" when not by our hand."""
        a = result.action
        if await self._size(a.index, a.namespace) is not None:
            return False
        if not touched and result.requests == 0:
            result.status = "namespace-gone"
        return True

    async def _delete_selection(
        self, index: IndexClient, ns: _Namespace, a: Action
    ) -> tuple[DeleteResult, int] | None:
        """One request for a filter, the namespace's records or the namespace itself, with
        the records it deletes; None when it selects nothing now (no request)."""
        if a.kind == "deleteByFilter" and (
            ns.listed or self.monotonic() - ns.counted_at > RECOUNT_AFTER
        ):
            await self._recount(index, ns, a)
        n = ns.counts[a.id]
        if n == 0:
            return None
        self._take(a, n, 0)
        if isinstance(a.deletes, ByFilter):
            return await index.delete_by_filter(to_json(a.deletes.filter), a.namespace), n
        if a.kind == "deleteAll":
            return await index.delete_all(a.namespace), n
        info = await index.delete_namespace(a.namespace, missing_ok=True)
        return DeleteResult(requests=1, ids_sent=0, infos=(info,)), n

    def _booked(self, ns: _Namespace, result: ActionResult, done: DeleteResult, n: int) -> None:
        a = result.action
        if done.matched is not None:  # Pinecone's own count, as the delete ran
            result.deleted, result.counted_by = done.matched, "matched-records"
        else:
            result.deleted = n
            result.counted_by = (
                "namespace-size"
                if a.kind != "deleteByFilter"
                else "plan-moments-before"
                if ns.fresh and a.id not in ns.recounted
                else "count-before-delete"
            )
        n = result.deleted
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

    async def _recount(self, index: IndexClient, ns: _Namespace, a: Action) -> None:
        """Count a filtered delete again just before it is sent, long after the namespace's
        checks: what it selects now must still be within its cap, and spare every protection."""
        n = (await index.count(_any_of([a]), a.namespace)).matched
        if n > self._cap(a):
            raise self._capped(a, 0)
        if n and by_filter(a).protections:
            await check_spared(index, [a])
        ns.counts[a.id] = n
        ns.recounted.add(a.id)
        for key in [k for k in ns.unions if a.id in k]:
            del ns.unions[key]  # the union was counted before; credit this count as it is

    async def _delete_ids(self, index: IndexClient, ns: _Namespace, result: ActionResult) -> None:
        a = result.action
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue(
            maxsize=2 * self.settings.delete_workers
        )
        workers = self.settings.delete_workers
        seen = ns.sent_ids
        limit = self._canary_limit.get(a.id)
        cut: list[bool] = []  # whether a batch was left unsent because the policy halted

        async def enumerate_batches() -> None:
            left = limit
            try:
                async for batch in selected(index, a):
                    if self._halted(a):
                        cut.append(True)
                        break
                    if seen is not None:
                        batch = [i for i in batch if i not in seen]
                        seen.update(batch)
                        if not batch:
                            continue
                    if left is not None:
                        batch = batch[:left]
                        left -= len(batch)
                    await queue.put(batch)
                    if left == 0:
                        break
            finally:
                for _ in range(workers):
                    await queue.put(None)

        taken = result.deleted  # IDs this action was allowed to send (a canary's batch too)

        async def delete_batches() -> None:
            nonlocal taken
            while (batch := await queue.get()) is not None:
                if self._halted(a):
                    cut.append(True)
                    continue  # drain without deleting: only batches already sent finish
                self._take(a, len(batch), taken)
                taken += len(batch)
                if not await self._send_batch(index, result, batch):
                    cut.append(True)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(enumerate_batches())
                for _ in range(workers):
                    group.create_task(delete_batches())
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if self._stopping():
            result.status = "interrupted"
        elif cut:
            self._close_window(result)

    async def _send_batch(self, index: IndexClient, result: ActionResult, batch: list[str]) -> bool:
        """One delete of up to 1,000 IDs, clear of the windows earlier answers leave open
        (`spacing`), booked in the result."""
        a = result.action
        async with self.spacing.turn(index.delete_weights(a.namespace, len(batch))):
            if self._halted(a):  # came while this batch waited for its turn
                return False
            # In the ledger before it is sent: no ID is ever deleted that it does not hold.
            key = self.record.batch_sending(a, batch, self.clock())
            done = await index.delete_batch(batch, a.namespace)
        request_id = done.infos[0].request_id if done.infos else None
        self._recorded(self.record.batch_answered, key, request_id, done.lsn, self.clock())
        for info in done.infos:
            result.note_request(info.request_id)
        if done.lsn is not None:
            result.lsn = max(result.lsn or 0, done.lsn)
        result.note_deleted_batch(batch[0], MAX_VERIFY_SAMPLE)
        result.deleted += len(batch)
        self.progress.advance(len(batch))
        self.log.info(
            "delete_batch",
            action=a.id,
            index=a.index,
            namespace=a.namespace,
            ids=len(batch),
            request_id=request_id,
        )
        return True

    def _cap(self, action: Action) -> int:
        """The most records `action` may select now or send: planned x (1 + tolerance)."""
        return math.ceil(action.records * (1 + self.settings.tolerance))

    def _capped(self, action: Action, taken: int) -> GuardError:
        return GuardError(
            f"{action.policy}/{action.rule} in {action.index}/{action.namespace} now selects "
            f"more than the {action.records:,} records planned allow (tolerance "
            f"{self.settings.tolerance:.0%}: at most {self._cap(action):,}); it stopped after "
            f"{taken:,}; run `retention plan` again"
        )

    def _take(self, action: Action, n: int, taken: int) -> None:
        """Allow `n` more records of `action` to be sent, on top of `taken`: never more than
        planned x (1 + tolerance) for one action, nor more than --max-records for the run,
        whatever arrived in the index since the checks before the first delete."""
        if action.kind == "deleteByIds" and taken + n > self._cap(action):
            raise self._capped(action, taken)
        limit = self.settings.max_records
        if limit is not None and self._sent + n > limit:
            raise GuardError(
                f"this apply reached --max-records {limit:,} after {self._sent:,} records; "
                f"{action.policy}/{action.rule} in {action.index}/{action.namespace} stopped "
                "there; run `retention plan` again"
            )
        self._sent += n

    # -- verification

    async def _verify_all(self, groups: Sequence[_Namespace]) -> None:
        async def verify(ns: _Namespace) -> None:
            done = [r for r in ns.results if r.status == "done"]
            if not done:
                return
            if self.settings.verify == "recount":
                for r in done:
                    await self._recount_until_empty(r)
                return
            await self._verify_namespace(ns, done)

        await bounded(groups, verify, self._width())

    async def _verify_namespace(self, ns: _Namespace, done: Sequence[ActionResult]) -> None:
        """One read shows every filtered delete of the namespace applied, by LSN; each ID
        action fetches back a sample of what it deleted."""
        index = await self.index(ns.index)
        filtered = [r for r in done if r.action.kind in ("deleteByFilter", "deleteAll")]
        if filtered:
            await self._verify_filtered(index, ns, filtered)
        for r in done:
            a = r.action
            if a.kind == "deleteByIds":
                await self._verify_ids(index, r)
            elif a.kind == "deleteNamespace":
                await self._recount_until_empty(r)

    async def _until(
        self, results: Sequence[ActionResult], read: Callable[[], Awaitable[tuple[int, bool]]]
    ) -> None:
        """Read until the deletes show (read -> (still visible, seen by LSN)), or time out."""
        deadline = self.monotonic() + self.settings.verify_timeout
        delay = 0.1
        while True:
            try:
                remaining, by_lsn = await read()
            except NotFound:
                remaining, by_lsn = 0, False  # the namespace is gone, and every record of it
            except RetentionError as exc:  # e.g. its ID file changed since: say so, still report
                for r in results:
                    r.verification, r.error = "not-checked", str(exc)
                    self.log.warning("apply_unverified", action=r.action.id, error=str(exc))
                return
            if remaining == 0 or by_lsn:
                for r in results:
                    r.verification, r.remaining = "verified", 0
                if remaining and by_lsn:
                    self.log.info(
                        "verified_by_lsn",
                        actions=[r.action.id for r in results],
                        written_since=remaining,
                    )
                return
            if self.monotonic() >= deadline:
                for r in results:
                    r.verification, r.remaining = "pending", remaining
                    self.log.warning("apply_unverified", action=r.action.id, remaining=remaining)
                return
            await self.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _verify_filtered(
        self, index: IndexClient, ns: _Namespace, results: Sequence[ActionResult]
    ) -> None:
        filtered = [r.action for r in results if isinstance(r.action.deletes, ByFilter)]
        whole = len(filtered) < len(results)  # a deleteAll: anything left in the namespace
        lsn = max((r.lsn for r in results if r.lsn is not None), default=None)

        async def read() -> tuple[int, bool]:
            if whole:
                description = await index.describe_namespace(ns.name)
                info = description.info
                seen = info.max_indexed_lsn if info is not None else None
                left = description.record_count
            else:
                counted = await index.count(_any_of(filtered), ns.name)
                seen, left = counted.info.max_indexed_lsn, counted.matched
            return left, lsn is not None and seen is not None and seen >= lsn

        await self._until(results, read)

    async def _verify_ids(self, index: IndexClient, result: ActionResult) -> None:
        sample = result.deleted_sample
        if not sample:
            result.verification, result.remaining = "verified", 0
            return
        lsn = result.lsn

        async def read() -> tuple[int, bool]:
            found = await index.fetch(sample, result.action.namespace)
            seen = max((i.max_indexed_lsn or 0 for i in found.infos), default=0)
            by_lsn = lsn is not None and bool(found.infos) and seen >= lsn
            if by_lsn and found.records:
                # Seen after the deletes, and present: written again since.
                self.log.info(
                    "ids_written_since_delete", action=result.action.id, ids=len(found.records)
                )
            return len(found.records), by_lsn

        await self._until([result], read)

    async def _recount_until_empty(self, result: ActionResult) -> None:
        a = result.action
        index = await self.index(a.index)

        async def read() -> tuple[int, bool]:
            if a.kind == "deleteNamespace":
                await index.describe_namespace(a.namespace)
                return await namespace_records(index, a.namespace) or 1, False
            return await count_selected(index, a), False

        await self._until([result], read)


def _selected(plan: Plan, only: Sequence[str] | None) -> list[Action]:
    """The actions of ready policies (those of `only`, when given) that delete anything."""
    status = {p.name: p.status for p in plan.policies}
    return [
        a
        for a in plan.actions
        if status.get(a.policy) == "ready" and (only is None or a.policy in only) and a.records > 0
    ]


def _may_overlap(actions: Sequence[Action]) -> bool:
    """Whether two of these filtered deletes can select the same record."""
    filters = [by_filter(a).filter for a in actions]
    return any(not disjoint(x, y) for i, x in enumerate(filters) for y in filters[i + 1 :])


def _any_of(actions: Sequence[Action]) -> dict[str, object]:
    """The request filter of what any of these filtered deletes selects."""
    return to_json(or_(*(by_filter(a).filter for a in actions)))


def _planned_union(overlaps: Sequence[Overlap], actions: Sequence[Action]) -> int:
    """The plan's own count of these actions' records, each once (from its overlaps)."""
    ids = {a.id for a in actions}
    shared = sum(o.records for o in overlaps if set(o.actions) <= ids)
    return max(max(a.records for a in actions), sum(a.records for a in actions) - shared)
