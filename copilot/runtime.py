"""The Copilot as its clients (the console, the CLI) use it: ask, watch, decide, cancel, look back.

:class:`Copilot` wires the run store, the event stream, the approval book, the planner and the toolbox together
and keeps the runs this process drives as background tasks. Every method is safe to call from any process that
shares the database (and Redis, when configured): an approval given here wakes the run wherever it is driven, and
a run nobody drives any more is picked up by :meth:`Copilot.resume_orphans` (or by approving it here), or by the
periodic :meth:`Copilot.sweep` of the process that owns the Copilot, which also expires overdue approval requests.

One Copilot keeps what outlives a run: the circuit breakers (in Redis when configured, else in this process) and
OpsPilot's own MCP server, built once per user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from copilot.answer import Answer, Evidence, ProposedAction
from copilot.citations import validate_answer
from copilot.events import RunEvent, RunEvents, bus_for
from copilot.evidence import extract_evidence
from copilot.followups import ProposalState
from copilot.machine import TERMINAL, RunState
from copilot.planning import PageContext, Planner
from copilot.records import Lease, RunSummary, RunView
from copilot.resilience import CircuitBreakers
from copilot.runner import Runner
from copilot.store import RunStore
from copilot.toolbox import OwnServers, Toolbox
from copilot.writeups.document import Document
from copilot.writeups.drafts import DraftKind, DraftTarget
from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import Clock, SystemClock
from core_client.errors import Forbidden
from core_client.identity import Actor, Role
from core_client.notices import notify_approvers
from core_client.settings import Settings
from core_client.store import ApprovalRequest, Database, Grant

log = logging.getLogger(__name__)

# How often the sweep looks for runs nobody drives and approval requests past their expiry, at the least.
SWEEP_SECONDS = 30.0
# A sweep waiting for a lease to lapse looks this long after the lapse, so the lease reads as lapsed.
LAPSE_MARGIN = 0.05


def checked_answer(answer: Answer, evidence: list[Evidence]) -> tuple[Answer, list[str]]:
    """The answer with every claim that does not cite this run's evidence dropped, and a note per drop."""
    report = validate_answer(answer, evidence)
    return report.answer, report.notes


class Copilot:
    """Runs questions as investigations and lets people follow, approve, reject and cancel them."""

    def __init__(
        self,
        runner: Runner,
        *,
        database: Database | None = None,
        breakers: CircuitBreakers | None = None,
        settle_stranded: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``database`` and ``breakers``, when given, are this Copilot's to close in :meth:`aclose`.
        ``settle_stranded`` (``CoreClient.settle_stranded_grants``) is part of every sweep when given."""
        self.runner = runner
        self._settle_stranded = settle_stranded
        self.store: RunStore = runner.store
        self.events: RunEvents = runner.events
        self.approvals: ApprovalBook = runner.approvals
        self._database = database
        self._breakers = breakers
        self._tasks: dict[str, asyncio.Task[RunView | None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        core: CoreClient,
        planner: Planner | None = None,
        clock: Clock | None = None,
        **runner_options: Any,
    ) -> Copilot:
        """A Copilot over the settings' database (migrated first), Redis when configured, and ``core``'s tools.

        ``planner`` defaults to the one settings choose. ``clock`` (the wall clock by default) times leases,
        budgets and approvals; the planner sees ``core``'s clock (a demo world's frozen now).
        ``runner_options`` go to :class:`Runner` (``lease_seconds``, default ``copilot.lease_seconds`` in settings;
        ``poll_seconds``, ``owner``).
        """
        runner_options.setdefault("lease_seconds", settings.copilot.lease_seconds)
        if planner is None:
            from copilot.planners import choose_planner

            planner = choose_planner(settings)
        database = Database.from_settings(settings, upgrade=True)
        clock = clock or SystemClock()
        store = RunStore(database, clock=clock)
        breakers = CircuitBreakers.from_settings(settings)
        own = OwnServers(core)
        runner = Runner(
            store=store,
            events=RunEvents(bus_for(settings.redis_url), store),
            approvals=ApprovalBook(database, clock=clock, settings=settings),
            planner=planner,
            open_tools=lambda actor, notes: Toolbox.open(
                settings, core, actor, notes, breakers=breakers, own=own
            ),
            extract_evidence=extract_evidence,
            validate_answer=checked_answer,
            budget=settings.copilot,
            clock=clock,
            world_clock=core.clock,
            clocks_apart=core.clocks_apart,
            console_url=settings.console_url,
            announce=lambda request: notify_approvers(core, request),
            **runner_options,
        )
        return cls(runner, database=database, breakers=breakers, settle_stranded=core.settle_stranded_grants)

    # --- asking -----------------------------------------------------------------------------------------------

    async def ask(
        self,
        question: str,
        *,
        user: Actor,
        page: PageContext | None = None,
        conversation_id: str | None = None,
    ) -> str:
        """Start investigating ``question`` for ``user`` in the background; returns the run's id at once.

        With ``conversation_id`` the run is a follow-up: its planner sees the earlier answers and their evidence.
        """
        view = await self.runner.create(question, user=user, page=page, conversation_id=conversation_id)
        self._start(view.id)
        return view.id

    async def investigate(
        self,
        question: str,
        *,
        user: Actor,
        page: PageContext | None = None,
        conversation_id: str | None = None,
    ) -> RunView:
        """Ask and wait until the run ends or waits for a person's approval."""
        run_id = await self.ask(question, user=user, page=page, conversation_id=conversation_id)
        return await self.settle(run_id)

    async def settle(self, run_id: str) -> RunView:
        """Wait until the run has ended, or waits in NEEDS_APPROVAL on a request still undecided; return it."""
        watch = asyncio.create_task(self._until_settled(run_id))
        local = self._tasks.get(run_id)
        try:
            if local is not None:
                await asyncio.wait({watch, local}, return_when=asyncio.FIRST_COMPLETED)
                if local.done() and not local.cancelled() and local.exception() is not None:
                    local.result()  # the worker failed outright: say why instead of waiting for nobody
            return await watch
        finally:
            watch.cancel()

    async def _until_settled(self, run_id: str) -> RunView:
        while True:
            view = await self.get_run(run_id)
            if await self._settled(view):
                return view
            after = view.steps[-1].seq if view.steps else 0
            async with aclosing(self.events.subscribe(run_id, after=after)) as events:
                async for event in events:
                    if event.kind == "transition" and (
                        event.state in TERMINAL or event.state == RunState.NEEDS_APPROVAL
                    ):
                        break  # read it back: it may have moved on already

    async def _settled(self, view: RunView) -> bool:
        """Ended, or waiting on a request nobody has decided yet (once decided, the run is about to move)."""
        if view.state in TERMINAL:
            return True
        if view.state != RunState.NEEDS_APPROVAL or view.pending_request_id is None:
            return False
        request = await asyncio.to_thread(self.approvals.get, view.pending_request_id)
        return request.status == "pending" and request.expires_at > self.approvals.clock.now()

    def subscribe(self, run_id: str, *, after: int = 0) -> AsyncGenerator[RunEvent, None]:
        """The run's steps numbered above ``after`` (its whole history by default), then each new one as it
        happens, until the run ends."""
        return self.events.subscribe(run_id, after=after)

    # --- deciding ---------------------------------------------------------------------------------------------

    async def approve(self, request_id: str, approver: Actor, *, reason: str | None = None) -> Grant:
        """Approve a request as ``approver`` (``Forbidden`` when policy does not let them) and wake its run."""
        grant = await asyncio.to_thread(self.approvals.approve, request_id, approver=approver, reason=reason)
        await self._wake(request_id, "approved")
        return grant

    async def reject(self, request_id: str, approver: Actor, reason: str) -> ApprovalRequest:
        """Reject a request with a reason; its run goes back to planning and its planner is told why."""
        rejected = await asyncio.to_thread(
            self.approvals.reject, request_id, approver=approver, reason=reason
        )
        await self._wake(request_id, "rejected")
        return rejected

    async def propose(self, run_id: str, index: int, *, by: Actor) -> RunView:
        """Offer proposed action ``index`` (from 0) of a finished run for approval; returns the follow-up run.

        The action becomes a follow-up run in the same conversation, driven here in the background: it files the
        approval request and waits in NEEDS_APPROVAL (see :meth:`Runner.propose`; :meth:`settle` waits for that).
        Nothing is changed in the world until a person approves that request.
        """
        follow_up = await self.runner.propose(run_id, index, by=by)
        self._start(follow_up.id)
        return follow_up

    async def offer(
        self, run_id: str, key: str, action: ProposedAction, *, by: Actor, question: str
    ) -> RunView:
        """Offer a change written from a finished run (a draft to post) for approval, as a follow-up run driven
        here; refused when ``key`` was offered already and waits or was done (see :meth:`Runner.offer`)."""
        follow_up = await self.runner.offer(run_id, key, action, by=by, question=question)
        self._start(follow_up.id)
        return follow_up

    async def draft(self, run_id: str, kind: DraftKind, *, by: Actor) -> Document:
        """A postmortem draft or a stakeholder status update from finished run ``run_id``'s cited evidence."""
        return await self.runner.draft(run_id, kind, by=by)

    async def post_draft(
        self, run_id: str, kind: DraftKind, target: DraftTarget, *, by: Actor, channel: str | None = None
    ) -> RunView:
        """Offer a run's draft for posting (ticket, timeline note or message); returns the follow-up run, which
        waits for a person's approval like any change (see :meth:`Runner.post_draft`)."""
        follow_up = await self.runner.post_draft(run_id, kind, target, by=by, channel=channel)
        self._start(follow_up.id)
        return follow_up

    async def proposals(self, run_id: str) -> list[ProposalState]:
        """How each offer made from run ``run_id`` stands (waiting, approved, done with its result...)."""
        return await self.runner.proposals(run_id)

    async def cancel(self, run_id: str, by: Actor) -> RunView:
        """Cancel a live run: it ends FAILED, "cancelled by <user>". Its own user, an approver or an admin may."""
        view = await self.get_run(run_id)
        if by.user != view.user and by.role not in (Role.APPROVER, Role.ADMIN):
            raise Forbidden(
                f"{by.user} ({by.role.value}) may not cancel {view.user}'s run; an approver or an admin may",
                source="copilot",
            )
        cancelled = await self.runner.cancel(run_id, by=by)
        local = self._tasks.get(run_id)
        if local is not None:
            local.cancel()
        return cancelled

    # --- looking back -----------------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> RunView:
        """One run with all its steps, calls and answer; ``NotFound`` when there is none."""
        return await asyncio.to_thread(self.store.get, run_id)

    async def list_runs(
        self,
        *,
        user: str | None = None,
        conversation_id: str | None = None,
        state: RunState | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunSummary]:
        """Runs, newest first; ``before`` (the last run of a page) pages on, as ``RunStore.list_runs``."""
        return await asyncio.to_thread(
            self.store.list_runs,
            user=user,
            conversation_id=conversation_id,
            state=state,
            limit=limit,
            before=before,
        )

    # --- workers ----------------------------------------------------------------------------------------------

    async def resume_orphans(self) -> list[str]:
        """Drive every live run nobody holds (its worker died, or never started it); returns their ids."""
        orphans = await asyncio.to_thread(self.store.orphans)
        for run_id in orphans:
            self._start(run_id)
        return orphans

    def resume(self, run_id: str, *, waiting: Callable[[Lease], None] | None = None) -> None:
        """Drive one run here, in the background (follow it with :meth:`subscribe`): now if no worker holds it,
        else the moment its holder's lease lapses or is released, unless the holder ends the run first.
        ``waiting`` is told which worker holds it, and until when, whenever the wait starts on a new holder."""
        self._start(run_id, take_over=True, waiting=waiting)

    def sweep(self, every: float = SWEEP_SECONDS) -> None:
        """Every ``every`` seconds, in the background until :meth:`aclose`: expire overdue approval requests
        (waking their runs), settle the grants of changes cut off mid-call, and drive the runs nobody holds. A pass also comes the moment another worker's lease
        lapses, sooner than ``every``: a run whose worker died is resumed as soon as any worker may take it.
        Call it from a running event loop, once per process that owns this Copilot; calling it again restarts it
        at the new interval."""
        if every <= 0:
            raise ValueError("a sweep needs an interval above 0 seconds")
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._sweeper = asyncio.create_task(self._sweep_every(every), name="copilot sweep")

    async def _sweep_every(self, every: float) -> None:
        while True:
            try:
                await self._sweep_once()
            except Exception:  # a database or Redis hiccup: the next sweep tries again
                log.warning("copilot sweep failed; trying again in %g s", every, exc_info=True)
                await asyncio.sleep(every)
                continue
            await asyncio.sleep(await self._until_next_sweep(every))

    async def _until_next_sweep(self, every: float) -> float:
        """``every`` seconds, or less: until the first lease another worker holds lapses (unless renewed)."""
        try:
            lapse = await asyncio.to_thread(self.store.next_lapse, besides=self.runner.owner)
        except Exception:  # the sweep goes on at its own pace; the failure shows in the next pass
            log.warning("copilot sweep: could not read the next lease lapse", exc_info=True)
            return every
        if lapse is None:
            return every
        left = (lapse - self.store.clock.now()).total_seconds() + LAPSE_MARGIN
        return min(max(left, LAPSE_MARGIN), every)

    async def _sweep_once(self) -> None:
        expired = await asyncio.to_thread(self.approvals.expire_due)
        for request in expired:
            if request.run_id is not None:
                await self.events.nudge(request.run_id, "expired")
        # Before resuming runs: one cut off mid-change finds its grant settled (spent, given back, or unknown).
        if self._settle_stranded is not None:
            await self._settle_stranded()
        await self.resume_orphans()

    async def aclose(self) -> None:
        """Stop sweeping and driving: every run held here is handed back (its lease released) for another
        worker."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.events.bus.aclose()
        if self._breakers is not None:
            await self._breakers.aclose()
        if self._database is not None:
            self._database.dispose()

    def _start(
        self, run_id: str, *, take_over: bool = False, waiting: Callable[[Lease], None] | None = None
    ) -> None:
        running = self._tasks.get(run_id)
        if running is not None and not running.done():
            return
        work = self.runner.take_over(run_id, waiting=waiting) if take_over else self.runner.drive(run_id)
        task: asyncio.Task[RunView | None] = asyncio.create_task(work, name=f"copilot run {run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda done: self._forget(run_id, done))

    def _forget(self, run_id: str, task: asyncio.Task[RunView | None]) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("run %s: worker failed", run_id, exc_info=task.exception())

    async def _wake(self, request_id: str, reason: str) -> None:
        """Tell the run that filed this request; drive it here if no worker holds it any more."""
        request = await asyncio.to_thread(self.approvals.get, request_id)
        if request.run_id is None:
            return
        await self.events.nudge(request.run_id, reason)
        self._start(request.run_id)
