"""The runner: drives one run through the state machine, persisting and publishing every step as it happens.

PLAN asks the planner for the next step. EXECUTE_TOOL makes the planned reads concurrently through the toolbox,
recording each call as it starts and as it ends. A planned tool that is destructive or unannotated never runs on
the planner's say-so: the runner files an approval request (the Copilot asking on behalf of the run's user, with
the evidence the call rests on) and the run waits in NEEDS_APPROVAL until a person decides, in any process. Approved,
the call runs once with the grant and the run goes on to EVALUATE; rejected or expired, the run goes back to PLAN
and the planner is told why. Cancelling a run withdraws its pending request, so nobody is asked to approve a change
that nothing waits for any more. EVALUATE lets the planner judge the new outcomes; a final answer has its citations
checked before anyone sees it.

A run belongs to the worker holding its lease; the lease is renewed while the worker works or waits, and lapses when
the worker dies, so another worker resumes the run from what is persisted. The planner's memory is persisted after
every call, so a resumed planner goes on where it stopped. A read cut off mid-call is made again; a change cut off
mid-call is not (its grant may have been used): the run ends FAILED and a person checks it in the console.

Budgets: planning steps, and seconds of active work (time waiting for a person is not counted).

Proposed actions in a final answer are offered, never run. :meth:`Runner.propose` turns one into a follow-up run in
the same conversation, driven by ``copilot.followups.CarryOut``: it plans that change (OpsPilot's own tickets and
notes written from the answer, after a look for what already records the finding), so the call takes the same road
as any other change (approval request, NEEDS_APPROVAL, grant) and the follow-up run records how it went. An offer
is made once: while its follow-up waits, or once it made its change, offering it again is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, suppress
from datetime import datetime
from typing import Any, Protocol

from copilot.answer import Answer, Evidence, ProposedAction
from copilot.events import RunEvents, Subscription
from copilot.followups import (
    CARRY_OUT,
    CarryOut,
    FollowUp,
    ProposalState,
    composes,
    incident_read,
    not_run_note,
    proposal_state,
    refusal,
    same_tool,
)
from copilot.machine import TERMINAL, RunState
from copilot.planning import (
    CallTools,
    Finish,
    GiveUp,
    PageContext,
    PlanContext,
    Planner,
    ToolOutcome,
    ToolRequest,
    ToolSpec,
)
from copilot.records import Lease, PendingCall, RunRecord, RunView, StepView
from copilot.store import Entry, RunLost, RunStore, transition_entry
from copilot.writeups.document import Document
from copilot.writeups.drafts import DraftKind, DraftTarget, draft, posting
from copilot.writeups.facts import Basis, Facts
from copilot.writeups.tickets import ticket_fields
from core_client.approvals import ApprovalBook
from core_client.clock import Clock, SourceClock
from core_client.errors import BadQuery, Forbidden, OpsPilotError
from core_client.identity import Actor, Role
from core_client.mutations import risk_of
from core_client.schemas import FAULT_KIND_FIELD, INCIDENT_FIELD, SERVICE_FIELD
from core_client.settings import CopilotSettings
from core_client.store import ApprovalRequest

log = logging.getLogger(__name__)

FOREIGN_RISK = "unknown (foreign tool)"
# How long a lease lasts unless renewed, and how often a waiting run re-reads its approval request.
LEASE_SECONDS = 30.0
APPROVAL_POLL_SECONDS = 5.0
# A worker waiting to take a run over reads the lease again this long after it should have lapsed, at the least.
TAKE_OVER_MARGIN = 0.01
# The nudge a worker sends when it lets a run go: a worker waiting to take the run over tries at once.
RELEASED = "released"


class Tools(Protocol):
    """What the runner needs of a toolbox (``copilot.toolbox.Toolbox`` in production)."""

    specs: list[ToolSpec]

    def approval_name(self, name: str) -> str:
        """The tool name an approval request and its grant must carry for the tool called ``name``."""
        ...

    async def call(self, request: ToolRequest, *, call_id: str, grant: str | None = None) -> ToolOutcome:
        """Make one call; failures come back as ``ok=False``, never raised."""
        ...


OpenTools = Callable[[Actor, list[str]], AbstractAsyncContextManager[Tools]]
ExtractEvidence = Callable[[ToolSpec, ToolOutcome], list[Evidence]]
ValidateAnswer = Callable[[Answer, list[Evidence]], tuple[Answer, list[str]]]


def worker_id() -> str:
    """A name for this worker that no other process shares: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class _Drive:
    """One worker's hold on one run: the rebuilt context and what changes as the run moves."""

    def __init__(
        self, record: RunRecord, context: PlanContext, tools: Tools, planner: Planner, now: datetime
    ) -> None:
        self.record = record
        self.context = context
        self.tools = tools
        self.planner = planner
        self.state = record.view.state
        self.step_count = record.step_count
        self.pending = list(record.pending_calls)
        self.request_id = record.view.pending_request_id
        self.active = record.view.active_seconds
        self.resumed_at: datetime | None = None if self.state == RunState.NEEDS_APPROVAL else now
        self.tool_notes: list[str] = []
        self.woken = asyncio.Event()

    @property
    def run_id(self) -> str:
        return self.record.view.id

    @property
    def actor(self) -> Actor:
        view = self.record.view
        return Actor.copilot_for(view.user, Role(view.role))

    def spec(self, name: str) -> ToolSpec | None:
        """The tool a request names: by its namespaced name, or by its bare name when only one server has it."""
        exact = [spec for spec in self.context.tools if spec.name == name]
        bare = [spec for spec in self.context.tools if spec.tool == name]
        found = exact or (bare if len(bare) == 1 else [])
        return found[0] if found else None


# Tells the approvers of a newly filed request (never raises: the request stands whatever its notice does).
Announce = Callable[[ApprovalRequest], Awaitable[object]]


class Runner:
    """Drives runs: one :meth:`drive` call per run this worker holds."""

    def __init__(
        self,
        *,
        store: RunStore,
        events: RunEvents,
        approvals: ApprovalBook,
        planner: Planner,
        open_tools: OpenTools,
        extract_evidence: ExtractEvidence,
        validate_answer: ValidateAnswer,
        budget: CopilotSettings,
        clock: Clock,
        world_clock: Clock,
        clocks_apart: Callable[[], list[SourceClock]] = list,
        owner: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = APPROVAL_POLL_SECONDS,
        console_url: str = "http://localhost:3000",
        announce: Announce | None = None,
    ) -> None:
        """``announce`` tells the approvers of each request a run newly files (``core_client.notices``)."""
        self.store = store
        self.events = events
        self.approvals = approvals
        self.planner = planner
        self.owner = owner or worker_id()
        self._open_tools = open_tools
        self._extract_evidence = extract_evidence
        self._validate_answer = validate_answer
        self._budget = budget
        self._clock = clock
        self._world_clock = world_clock
        self._clocks_apart = clocks_apart
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        # Where the console is, for the absolute links in what the Copilot writes (tickets, notes).
        self._console_url = console_url
        self._announce = announce

    # --- the public face ---------------------------------------------------------------------------------------

    async def create(
        self,
        question: str,
        *,
        user: Actor,
        page: PageContext | None = None,
        conversation_id: str | None = None,
        planner: str | None = None,
        memory: dict[str, Any] | None = None,
    ) -> RunView:
        """A new run in PLAN, already leased to this worker so that no other one starts it first.

        ``BadQuery`` for a blank question: there is nothing to investigate.
        """
        if not question.strip():
            raise BadQuery("ask a question: it is empty", source="copilot")
        return await asyncio.to_thread(
            self.store.create_run,
            question.strip(),
            user=user,
            planner=planner or self.planner.name,
            page=page,
            conversation_id=conversation_id,
            owner=self.owner,
            lease_seconds=self._lease_seconds,
            memory=memory,
        )

    async def drive(self, run_id: str) -> RunView | None:
        """Hold the run and move it until it ends, or until it is cancelled or taken over elsewhere.

        Returns the run as it stands when this worker lets go, or None when another worker holds it.
        """
        if not await asyncio.to_thread(self.store.acquire, run_id, self.owner, seconds=self._lease_seconds):
            return None
        try:
            record = await asyncio.to_thread(self.store.load, run_id)
            async with self.events.nudges(run_id) as nudges:
                await self._hold(record, nudges)
        finally:
            # Shielded: a worker shutting down hands its runs on at once instead of letting the lease lapse,
            # and wakes whoever waits to take them over.
            await asyncio.shield(self._hand_back(run_id))
        return await asyncio.to_thread(self.store.get, run_id)

    async def take_over(self, run_id: str, *, waiting: Callable[[Lease], None] | None = None) -> RunView:
        """Drive the run here as soon as this worker may, and return it once it has ended.

        Nobody holding it, that is now. Held by another worker, this waits: the holder may end the run itself
        (then it is returned as it ended), hand it back, or die, and the moment its lease lapses or is released
        this worker takes over. ``waiting`` is told each time the wait starts on a different holder.
        """
        told: str | None = None
        while True:
            view = await self.drive(run_id)
            if view is not None and view.state in TERMINAL:
                return view
            # Listening before reading the lease: a release that comes after the read is heard.
            async with self.events.nudges(run_id) as nudges:
                lease = await asyncio.to_thread(self.store.lease, run_id)
                if lease.state in TERMINAL:
                    return await asyncio.to_thread(self.store.get, run_id)
                now = self._clock.now()
                if lease.free(now):
                    continue  # lapsed or released between the two reads: take it now
                if waiting is not None and lease.owner != told:
                    waiting(lease)
                    told = lease.owner
                # Until the lease lapses, unless a release is heard first. Without Redis a release in another
                # process is not heard, so the lease is read again at least every poll interval.
                assert lease.expires_at is not None  # a lease that is not free has an expiry
                left = (lease.expires_at - now).total_seconds()
                await nudges.receive(min(max(left, TAKE_OVER_MARGIN), self._poll_seconds))

    async def _hand_back(self, run_id: str) -> None:
        await asyncio.to_thread(self.store.release, run_id, self.owner)
        await self.events.nudge(run_id, RELEASED)

    async def cancel(self, run_id: str, *, by: Actor) -> RunView:
        """Take a live run to FAILED, "cancelled by <user>", wherever it runs, and withdraw its pending approval
        request as ``by``; BadQuery when it has finished."""
        try:
            steps = await asyncio.to_thread(self.store.cancel, run_id, reason=f"cancelled by {by.user}")
        except RunLost as finished:
            raise BadQuery(
                f"{finished.message}; only a live run can be cancelled", source="copilot"
            ) from None
        await self.events.publish(run_id, steps)
        await self._withdraw_pending(run_id, by=by, reason=f"run {run_id} was cancelled by {by.user}")
        await self.events.nudge(run_id, "cancel")
        return await asyncio.to_thread(self.store.get, run_id)

    async def _withdraw_pending(self, run_id: str, *, by: Actor, reason: str) -> None:
        """Withdraw every request of the run still pending; one decided meanwhile is left as it was decided."""
        page = await asyncio.to_thread(self.approvals.list, "pending", run_id=run_id)
        for request in page.items:
            try:
                await asyncio.to_thread(self.approvals.withdraw, request.id, by=by, reason=reason)
            except Forbidden as refused:
                log.warning("run %s: request %s not withdrawn: %s", run_id, request.id, refused.message)

    async def propose(self, run_id: str, index: int, *, by: Actor) -> RunView:
        """Offer proposed action ``index`` (from 0) of a finished run for approval, as a follow-up run.

        The follow-up run (same conversation, planner ``CarryOut``, asked by ``by``) is created here; driving it
        files the approval request and waits in NEEDS_APPROVAL. Nothing changes in the world until a person
        approves. Raises ``BadQuery`` when the run has no such action, when this action was offered already and
        its follow-up waits or made its change, or when a ticket for the same finding already waits for approval;
        ``Forbidden`` for a viewer.
        """
        source = await self._finished(run_id, by)
        actions = source.answer.proposed_actions if source.answer else []
        if not 0 <= index < len(actions):
            raise BadQuery(
                f"run {run_id} has no proposed action {index + 1}; it has {len(actions)}", source="copilot"
            )
        action = actions[index]
        compose = composes(action)
        basis = self._basis(source, by) if compose else None
        if compose == "ticket" and basis is not None:
            # This offer's own state says more than another request for the same finding: checked first (and
            # again, atomically, when the follow-up is created).
            for record in await asyncio.to_thread(self.store.proposals, run_id):
                why = refusal(record, console_url=self._console_url) if record.key == str(index) else None
                if why:
                    raise BadQuery(why, source="copilot")
            await self._refuse_waiting_ticket(basis)
        follow = FollowUp(action=action, source_run=run_id, key=str(index), compose=compose, basis=basis)
        return await self._offer(
            source,
            follow,
            f"Carry out proposed action {index + 1} of run {run_id}: {action.reason or action.tool}",
            by,
        )

    async def offer(
        self, run_id: str, key: str, action: ProposedAction, *, by: Actor, question: str
    ) -> RunView:
        """Offer a change written elsewhere from finished run ``run_id`` (a draft to post) under ``key``, as a
        follow-up run that carries out ``action`` exactly as given, through the same approval. Refused like
        :meth:`propose` when ``key`` was offered already and its follow-up waits or made its change."""
        source = await self._finished(run_id, by)
        follow = FollowUp(action=action, source_run=run_id, key=key)
        return await self._offer(source, follow, question, by)

    async def draft(self, run_id: str, kind: DraftKind, *, by: Actor) -> Document:
        """The ``kind`` draft (postmortem or status update) written now from finished run ``run_id``'s answer and
        the evidence it cites, signed for ``by``."""
        return draft(kind, self._basis(await self._finished(run_id, by, reading=True), by))

    async def post_draft(
        self, run_id: str, kind: DraftKind, target: DraftTarget, *, by: Actor, channel: str | None = None
    ) -> RunView:
        """Offer the ``kind`` draft of run ``run_id`` for posting to ``target`` (a ticket, a timeline note, a
        message to ``channel``), through the same approval as any change; once per draft and target, like
        :meth:`propose`."""
        source = await self._finished(run_id, by)
        action = posting(kind, target, self._basis(source, by), channel=channel)
        question = f"{action.reason} (run {run_id})"
        return await self.offer(run_id, f"{kind}:{target}", action, by=by, question=question)

    async def proposals(self, run_id: str) -> list[ProposalState]:
        """How each offer made from run ``run_id`` stands."""
        records = await asyncio.to_thread(self.store.proposals, run_id)
        return [proposal_state(record) for record in records]

    async def _finished(self, run_id: str, by: Actor, *, reading: bool = False) -> RunView:
        if by.role == Role.VIEWER and not reading:
            raise Forbidden(f"{by.user} is a viewer: viewers cannot change anything", source="copilot")
        source = await asyncio.to_thread(self.store.get, run_id)
        if source.state != RunState.DONE or source.answer is None:
            raise BadQuery(
                f"run {run_id} is {source.state}: only a finished run's answer can be followed up",
                source="copilot",
            )
        return source

    async def _offer(self, source: RunView, follow: FollowUp, question: str, by: Actor) -> RunView:
        return await asyncio.to_thread(
            self.store.create_follow_up,
            source.id,
            follow.key,
            question,
            user=by,
            planner=CARRY_OUT,
            refuse=lambda record: refusal(record, console_url=self._console_url),
            owner=self.owner,
            lease_seconds=self._lease_seconds,
            memory={"follow_up": follow.model_dump(mode="json")},
        )

    def _basis(self, source: RunView, by: Actor) -> Basis:
        """What a ticket or note written from ``source``'s answer rests on (the incident and now are filled in
        by the follow-up run, from what it reads)."""
        assert source.answer is not None
        return Basis(
            answer=source.answer,
            evidence=[item for outcome in source.outcomes for item in outcome.evidence],
            run_id=source.id,
            author=by.user,
            console_url=self._console_url,
            now=self._world_clock.now(),
            incident=incident_read(source.outcomes),
        )

    async def _refuse_waiting_ticket(self, basis: Basis) -> None:
        """``BadQuery`` when a ticket for the same incident or the same root cause already waits for approval
        (or was approved and is being filed): filing it twice is what the look for existing tickets cannot see."""
        facts = Facts(basis)
        wanted = {key: value for key, value in ticket_fields(facts).items() if key != "environment"}
        if not wanted:
            return
        waiting = [
            request
            for status in ("pending", "approved")
            for request in (await asyncio.to_thread(self.approvals.list, status, limit=200)).items
        ]
        for request in waiting:
            if not same_tool(request.tool, "create_ticket"):
                continue
            fields = (json.loads(request.arguments).get("ticket") or {}).get("fields") or {}
            same_incident = INCIDENT_FIELD in wanted and fields.get(INCIDENT_FIELD) == wanted[INCIDENT_FIELD]
            cause = (SERVICE_FIELD, FAULT_KIND_FIELD)
            same_cause = all(k in wanted for k in cause) and all(fields.get(k) == wanted[k] for k in cause)
            if same_incident or same_cause:
                raise BadQuery(
                    f"a ticket for the same {'incident' if same_incident else 'root cause'} already waits for "
                    f"approval: request {request.id} ({self.approvals.approval_url(request.id)})",
                    source="copilot",
                )

    # --- holding a run ----------------------------------------------------------------------------------------

    async def _hold(self, record: RunRecord, nudges: Subscription) -> None:
        notes: list[str] = []
        async with AsyncExitStack() as resources:
            actor = Actor.copilot_for(record.view.user, Role(record.view.role))
            try:
                tools = await resources.enter_async_context(self._open_tools(actor, notes))
            except Exception as error:  # without tools there is no run: end it saying why, not on every retry
                log.exception("run %s: the toolbox did not open", record.view.id)
                reason = f"the tools could not be opened: {_describe(error)}"
                steps = await self._store(
                    self.store.append,
                    record.view.id,
                    [transition_entry(record.view.state, RunState.FAILED, reason)],
                    owner=self.owner,
                    expect=record.view.state,
                    error=reason,
                    pending_calls=[],
                )
                await self.events.publish(record.view.id, steps)
                return
            drive = await self._prepare(record, tools)
            drive.tool_notes = notes
            work = asyncio.create_task(self._work(drive), name=f"run {record.view.id}")
            keeper = asyncio.create_task(self._keep(drive, nudges), name=f"lease {record.view.id}")
            try:
                await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (work, keeper):
                    task.cancel()
                for task in (work, keeper):
                    with suppress(asyncio.CancelledError):
                        await task
            if work.cancelled():
                log.info("run %s: lease lost or run ended elsewhere; this worker let it go", drive.run_id)
            else:
                work.result()  # a failure to write the run's state is the worker's to report

    async def _prepare(self, record: RunRecord, tools: Tools) -> _Drive:
        view = record.view
        conversation = await asyncio.to_thread(self.store.conversation, view.conversation_id, before=view.id)
        context = PlanContext(
            run_id=view.id,
            question=view.question,
            page=view.page,
            conversation=conversation,
            tools=list(tools.specs),
            outcomes=list(view.outcomes),
            notes=list(view.notes),
            memory=dict(record.memory),
            step=record.step_count,
            now=self._world_clock.now(),
            clocks_apart=self._clocks_apart(),
        )
        planner = self._planner_for(view.planner)
        drive = _Drive(record, context, tools, planner, self._clock.now())
        if planner.name != view.planner:
            await self._note(
                drive, f"resumed with planner {planner.name}: {view.planner} is not configured here"
            )
        return drive

    def _planner_for(self, name: str) -> Planner:
        if name == CARRY_OUT:
            return CarryOut()
        return self.planner

    async def _keep(self, drive: _Drive, nudges: Subscription) -> None:
        """Renew the lease while the run is worked on or waits; return when it is lost or the run has ended."""
        while True:
            if await nudges.receive(self._lease_seconds / 3) is not None:
                drive.woken.set()
            try:
                held = await asyncio.to_thread(
                    self.store.acquire, drive.run_id, self.owner, seconds=self._lease_seconds
                )
            except Exception:  # a database hiccup: try again next beat; a lapsed lease shows up as RunLost
                log.warning("run %s: could not renew the lease", drive.run_id, exc_info=True)
                continue
            if not held:
                return

    async def _work(self, drive: _Drive) -> None:
        try:
            await self._flush_tool_notes(drive)
            while drive.state not in TERMINAL:
                await self._step(drive)
        except RunLost as lost:
            log.info("run %s: %s; this worker stops", drive.run_id, lost.message)

    async def _step(self, drive: _Drive) -> None:
        state = drive.state
        if state == RunState.NEEDS_APPROVAL:
            await self._await_decision(drive)
            return
        left = self._budget.max_seconds - self._active(drive)
        if left <= 0:
            await self._fail(drive, self._time_spent(drive))
            return
        if state == RunState.PLAN and drive.step_count >= self._budget.max_steps:
            await self._fail(drive, f"step budget used up: {drive.step_count} planning steps")
            return
        handler = {
            RunState.PLAN: self._plan,
            RunState.EXECUTE_TOOL: self._execute,
            RunState.EVALUATE: self._evaluate,
        }[state]
        deadline = asyncio.timeout(left)
        try:
            async with deadline:
                await handler(drive)
        except RunLost:
            raise
        except Exception as error:
            # A planner or toolbox failure ends the run with its reason; the worker goes on.
            if isinstance(error, TimeoutError) and deadline.expired():
                await self._fail(drive, f"{self._time_spent(drive)}, during {state}")
                return
            log.exception("run %s failed in %s", drive.run_id, state)
            await self._fail(drive, f"{state} failed: {_describe(error)}")

    # --- the states -------------------------------------------------------------------------------------------

    async def _plan(self, drive: _Drive) -> None:
        context = drive.context
        context.step = drive.step_count
        context.now = self._world_clock.now()
        plan = await drive.planner.plan(context)
        drive.step_count += 1
        entry = Entry("plan", {"step": drive.step_count, "decision": plan.model_dump(mode="json")})
        changes: dict[str, Any] = {"step_count": drive.step_count, "memory": _json_memory(context)}
        if isinstance(plan, CallTools):
            pending, held_back = self._batch(drive, plan)
            notes = [Entry("note", {"text": note}) for note in held_back]
            context.notes.extend(held_back)
            reason = plan.thought or f"calling {len(pending)} tool{'s' if len(pending) != 1 else ''}"
            drive.pending = pending
            await self._move(
                drive,
                [entry, *notes],
                RunState.EXECUTE_TOOL,
                reason,
                pending_calls=[call.model_dump(mode="json") for call in pending],
                **changes,
            )
        elif isinstance(plan, Finish):
            await self._finish(drive, plan.answer, [entry], **changes)
        else:
            assert isinstance(plan, GiveUp)
            await self._move(drive, [entry], RunState.FAILED, plan.reason, error=plan.reason, **changes)

    def _batch(self, drive: _Drive, plan: CallTools) -> tuple[list[PendingCall], list[str]]:
        """The calls to make, with ids; one change at a time, the others returned as notes."""
        calls: list[PendingCall] = []
        held_back: list[str] = []
        for index, request in enumerate(plan.calls):
            spec = drive.spec(request.tool)
            mutation = spec is not None and spec.kind != "read_only"
            if mutation and any(call.mutation for call in calls):
                held_back.append(
                    not_run_note(request.tool, "one change is approved at a time; plan it again")
                )
                continue
            if spec is not None:
                request = request.model_copy(update={"tool": spec.name})
            calls.append(
                PendingCall(call_id=f"s{drive.step_count}c{index + 1}", request=request, mutation=mutation)
            )
        return calls, held_back

    async def _execute(self, drive: _Drive) -> None:
        done = {outcome.call_id for outcome in drive.context.outcomes}
        reads = [call for call in drive.pending if not call.mutation and call.call_id not in done]
        if reads:
            await self._run_reads(drive, reads)
        change = next((call for call in drive.pending if call.mutation and call.call_id not in done), None)
        if change is None:
            count = len(drive.pending)
            await self._move(drive, [], RunState.EVALUATE, f"{count} call{'s' if count != 1 else ''} made")
        elif change.request_id is None:
            await self._ask_approval(drive, change)
        else:
            await self._run_change(drive, change)

    async def _run_reads(self, drive: _Drive, reads: list[PendingCall]) -> None:
        await self._publish(
            drive, await self._store(self.store.begin_calls, drive.run_id, reads, owner=self.owner)
        )
        results = await asyncio.gather(
            *(self._call(drive, call, grant=None) for call in reads), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        drive.context.outcomes.extend(result for result in results if isinstance(result, ToolOutcome))
        await self._flush_tool_notes(drive)

    async def _call(self, drive: _Drive, call: PendingCall, *, grant: str | None) -> ToolOutcome:
        """Make one call, extract its evidence and persist its outcome the moment it is known."""
        spec = drive.spec(call.request.tool)
        try:
            outcome = await drive.tools.call(call.request, call_id=call.call_id, grant=grant)
        except Exception as error:  # a toolbox should not raise; if it does, the call failed, not the run
            outcome = _failed(call, _describe(error))
        if spec is not None and outcome.ok:
            outcome.evidence = self._extract_evidence(spec, outcome)
        steps = await self._store(self.store.finish_call, drive.run_id, outcome, owner=self.owner)
        await self._publish(drive, steps)
        return outcome

    async def _ask_approval(self, drive: _Drive, change: PendingCall) -> None:
        spec = drive.spec(change.request.tool)
        assert spec is not None  # only calls to known non-read tools are marked as changes
        name = drive.tools.approval_name(spec.name)
        cited = _cited(drive.context, change.request.evidence_ids)
        try:
            filing = await asyncio.to_thread(
                self.approvals.file,
                name,
                change.request.arguments,
                requester=drive.actor,
                evidence=[item.model_dump(mode="json") for item in cited],
                risk=risk_of(spec.tool) if name == spec.tool else FOREIGN_RISK,
                environment=None,
                run_id=drive.run_id,
                kind=spec.kind,
            )
        except (Forbidden, BadQuery) as refused:
            # Policy or the arguments rule the change out: the planner sees the refusal as the call's outcome.
            await self._publish(
                drive, await self._store(self.store.begin_calls, drive.run_id, [change], owner=self.owner)
            )
            failed = _failed(change, refused.message)
            steps = await self._store(self.store.finish_call, drive.run_id, failed, owner=self.owner)
            await self._publish(drive, steps)
            drive.context.outcomes.append(failed)
            await self._move(drive, [], RunState.EVALUATE, f"{spec.name} refused: {refused.message}")
            return
        filed = filing.request
        drive.pending = [
            call.model_copy(update={"request_id": filed.id}) if call.call_id == change.call_id else call
            for call in drive.pending
        ]
        drive.request_id = filed.id
        approval = Entry("approval", _request_data(filed, self.approvals, call_id=change.call_id))
        try:
            await self._move(
                drive,
                [approval],
                RunState.NEEDS_APPROVAL,
                f"{spec.name} changes the world: it waits for a person's approval",
                pending_calls=[call.model_dump(mode="json") for call in drive.pending],
                pending_request_id=filed.id,
            )
        except RunLost:
            # Cancelled (or taken over) while this request was being filed: nothing will wait for it.
            reason = f"run {drive.run_id} was no longer this worker's to wait for approval"
            with suppress(Forbidden):  # already decided or withdrawn: leave it as it is
                await asyncio.to_thread(self.approvals.withdraw, filed.id, by=drive.actor, reason=reason)
            raise
        if filing.new and self._announce is not None:
            # Only now, waiting: the notice's link opens a request whose run shows it waits.
            await self._announce(filed)

    async def _await_decision(self, drive: _Drive) -> None:
        assert drive.request_id is not None, "NEEDS_APPROVAL always has a pending request"
        request = await self._decided(drive, drive.request_id)
        data = _request_data(request, self.approvals)
        change = next((call for call in drive.pending if call.request_id == request.id), None)
        tool = change.request.tool if change else request.tool
        if request.status in ("approved", "executed"):
            drive.resumed_at = self._clock.now()
            await self._move(
                drive, [Entry("approval", data)], RunState.EXECUTE_TOOL, f"approved by {request.decided_by}"
            )
            return
        if request.status == "rejected":
            why = f"{request.decided_by} rejected it: {request.decision_reason}"
        elif request.status == "withdrawn":
            why = f"{request.decided_by} withdrew the approval request: {request.decision_reason}"
        else:
            why = f"approval request {request.id} expired unanswered at {request.expires_at.isoformat()}"
        note = not_run_note(tool, why)
        drive.context.notes.append(note)
        drive.pending, drive.request_id = [], None
        drive.resumed_at = self._clock.now()
        await self._move(
            drive,
            [Entry("approval", data), Entry("note", {"text": note})],
            RunState.PLAN,
            why,
            pending_calls=[],
            pending_request_id=None,
        )

    async def _decided(self, drive: _Drive, request_id: str) -> ApprovalRequest:
        """Wait until the request is decided or expires: woken by a nudge, else re-read every poll interval."""
        while True:
            drive.woken.clear()
            request = await asyncio.to_thread(self.approvals.get, request_id)
            if request.status == "pending" and request.expires_at <= self.approvals.clock.now():
                await asyncio.to_thread(self.approvals.expire_due)
                request = await asyncio.to_thread(self.approvals.get, request_id)
            if request.status != "pending":
                return request
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await drive.woken.wait()

    async def _run_change(self, drive: _Drive, change: PendingCall) -> None:
        assert change.request_id is not None
        interrupted = change.call_id in drive.record.started_calls
        try:
            # Only the run's requester may look its grant up (the grant id is stored hashed).
            grant = await asyncio.to_thread(self.approvals.grant_id_for, change.request_id, drive.actor)
        except OpsPilotError:
            grant = None
        if grant is None or (interrupted and grant.state != "issued"):
            # Its grant was claimed (or spent) by a call whose end nobody saw: running it again could do it twice.
            await self._fail(drive, f"interrupted during {change.request.tool}; check it in the console")
            return
        await self._publish(
            drive, await self._store(self.store.begin_calls, drive.run_id, [change], owner=self.owner)
        )
        outcome = await self._call(drive, change, grant=grant.id)
        drive.context.outcomes.append(outcome)
        await self._flush_tool_notes(drive)
        await self._move(
            drive,
            [],
            RunState.EVALUATE,
            f"{change.request.tool} {'done' if outcome.ok else 'failed'}",
            pending_request_id=None,
        )

    async def _evaluate(self, drive: _Drive) -> None:
        context = drive.context
        context.now = self._world_clock.now()
        evaluation = await drive.planner.evaluate(context)
        entry = Entry("evaluation", {"verdict": evaluation.verdict, "note": evaluation.note})
        memory = _json_memory(context)
        if evaluation.verdict == "done" and evaluation.answer is not None:
            await self._finish(drive, evaluation.answer, [entry], memory=memory)
        else:
            await self._move(
                drive,
                [entry],
                RunState.PLAN,
                evaluation.note or "planning the next step",
                memory=memory,
                pending_calls=[],
            )

    async def _finish(self, drive: _Drive, answer: Answer, entries: list[Entry], **changes: Any) -> None:
        checked, dropped = self._validate_answer(answer, drive.context.evidence)
        notes = [Entry("note", {"text": note}) for note in dropped]
        drive.context.notes.extend(dropped)
        body = checked.model_dump(mode="json")
        await self._move(
            drive,
            [*entries, *notes, Entry("answer", {"answer": body})],
            RunState.DONE,
            "answered",
            answer=body,
            pending_calls=[],
            **changes,
        )

    # --- writing ----------------------------------------------------------------------------------------------

    async def _move(
        self, drive: _Drive, entries: list[Entry], target: RunState, reason: str, **changes: Any
    ) -> None:
        """Write ``entries`` and the transition to ``target`` in one step, then publish them."""
        if target == RunState.NEEDS_APPROVAL or target in TERMINAL:
            drive.active, drive.resumed_at = self._active(drive), None
        elif drive.resumed_at is not None:
            drive.active = self._active(drive)
            drive.resumed_at = self._clock.now()
        steps = await self._store(
            self.store.append,
            drive.run_id,
            [*entries, transition_entry(drive.state, target, reason)],
            owner=self.owner,
            expect=drive.state,
            active_seconds=drive.active,
            **changes,
        )
        drive.state = target
        await self._publish(drive, steps)

    async def _fail(self, drive: _Drive, reason: str) -> None:
        await self._move(drive, [], RunState.FAILED, reason, error=reason, pending_calls=[])

    async def _note(self, drive: _Drive, text: str) -> None:
        drive.context.notes.append(text)
        steps = await self._store(
            self.store.append, drive.run_id, [Entry("note", {"text": text})], owner=self.owner
        )
        await self._publish(drive, steps)

    async def _flush_tool_notes(self, drive: _Drive) -> None:
        """Record what the toolbox had to say (a server that failed, a tool skipped), once each."""
        fresh = [note for note in dict.fromkeys(drive.tool_notes) if note not in drive.context.notes]
        for note in fresh:
            await self._note(drive, note)

    async def _store(self, write: Callable[..., list[StepView]], *args: Any, **kwargs: Any) -> list[StepView]:
        return await asyncio.to_thread(write, *args, **kwargs)

    async def _publish(self, drive: _Drive, steps: list[StepView]) -> None:
        await self.events.publish(drive.run_id, steps)

    def _active(self, drive: _Drive) -> float:
        if drive.resumed_at is None:
            return drive.active
        return drive.active + max(0.0, (self._clock.now() - drive.resumed_at).total_seconds())

    def _time_spent(self, drive: _Drive) -> str:
        return (
            f"time budget used up: {self._active(drive):.1f} s of active work "
            f"(limit {self._budget.max_seconds:g} s; time waiting for approval does not count)"
        )


def _cited(context: PlanContext, evidence_ids: Iterable[str]) -> list[Evidence]:
    """The evidence with these ids: from this run's calls, else from earlier turns of the conversation."""
    known: dict[str, Evidence] = {}
    for turn in context.conversation:
        known.update({item.id: item for item in turn.evidence})
    known.update({item.id: item for item in context.evidence})
    return [known[item] for item in dict.fromkeys(evidence_ids) if item in known]


def _request_data(
    request: ApprovalRequest, approvals: ApprovalBook, *, call_id: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": request.id,
        "status": request.status,
        "tool": request.tool,
        "arguments": json.loads(request.arguments),
        "risk": request.risk,
        "evidence_ids": [str(item.get("id")) for item in request.evidence],
        "url": approvals.approval_url(request.id),
        "expires_at": request.expires_at.isoformat(),
    }
    if call_id is not None:
        data["call_id"] = call_id
    if request.decided_by is not None:
        data.update(decided_by=request.decided_by, reason=request.decision_reason)
    return data


def _failed(call: PendingCall, error: str) -> ToolOutcome:
    return ToolOutcome(
        call_id=call.call_id, tool=call.request.tool, arguments=call.request.arguments, ok=False, error=error
    )


def _json_memory(context: PlanContext) -> dict[str, Any]:
    memory: dict[str, Any] = context.model_dump(mode="json", include={"memory"})["memory"]
    return memory


def _describe(error: BaseException) -> str:
    if isinstance(error, OpsPilotError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
