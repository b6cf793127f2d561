"""The Copilot's tables (conversations, runs, steps, tool calls, evidence) and :class:`RunStore`, their only door.

Every write to a run is one transaction that starts with a conditional UPDATE of the run's row: it takes the
write lock (a row lock on PostgreSQL, the database lock on SQLite), checks that the caller may still change the run
(its lease, its state) and advances the run's step counter, so steps are numbered without gaps or duplicates even
when an approver or a cancel in another process writes beside the runner.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Text, UniqueConstraint, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, col, select

from copilot.answer import Answer, Evidence
from copilot.machine import TERMINAL, RunState, check_transition
from copilot.planning import PageContext, PriorTurn, ToolOutcome
from copilot.records import (
    Lease,
    PendingCall,
    ProposalRecord,
    RunRecord,
    RunSummary,
    RunView,
    StepKind,
    StepView,
)
from core_client.clock import Clock
from core_client.errors import BadQuery, NotFound, OpsPilotError
from core_client.identity import Actor
from core_client.store import ApprovalRequest, Database, UtcDateTime
from core_client.store.paging import newest_first

# What a tool call keeps of its output: enough for the planner to resume and a person to read, never a dump.
TEXT_LIMIT = 20_000
STRUCTURED_LIMIT = 256_000
LIVE_STATES = tuple(state.value for state in RunState if state not in TERMINAL)


class Conversation(SQLModel, table=True):
    """A thread of questions by one user; each question is a run."""

    __tablename__ = "conversations"

    id: str = Field(primary_key=True)
    user: str = Field(index=True)
    title: str = ""
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class Run(SQLModel, table=True):
    """One question being investigated, with everything a worker needs to pick it up where it stopped."""

    __tablename__ = "runs"

    id: str = Field(primary_key=True)
    conversation_id: str = Field(foreign_key="conversations.id", index=True)
    question: str = Field(sa_type=Text)
    page: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    user: str = Field(index=True)
    role: str
    planner: str
    state: str = Field(default=RunState.PLAN.value, index=True)
    step_count: int = 0
    last_seq: int = 0
    active_seconds: float = 0.0
    memory: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    pending_calls: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    pending_request_id: str | None = Field(default=None, index=True)
    answer: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    error: str | None = Field(default=None, sa_type=Text)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RunStep(SQLModel, table=True):
    """One step of a run, numbered from 1: a transition, a plan, a call begun or ended, an evaluation, a note."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_steps_run_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    seq: int
    kind: str
    state: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = Field(default=None, sa_type=Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(sa_type=UtcDateTime)


class ToolCall(SQLModel, table=True):
    """One tool call: what went in, what came out (bounded), whether it worked and how long it took."""

    __tablename__ = "tool_calls"
    __table_args__ = (UniqueConstraint("run_id", "call_id", name="uq_tool_calls_run_call"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    call_id: str
    tool: str = Field(index=True)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    request_id: str | None = None
    started_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ok: bool | None = None
    text: str = Field(default="", sa_type=Text)
    structured: Any = Field(default=None, sa_type=JSON, nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: float | None = None


class EvidenceItem(SQLModel, table=True):
    """One piece of evidence a tool call returned, in the order it returned it."""

    __tablename__ = "evidence"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True)
    call_id: str
    position: int
    evidence_id: str = Field(index=True)
    kind: str
    ref: str
    excerpt: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, sa_type=Text)
    at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    service: str | None = None
    label: str = Field(default="", sa_type=Text)


class Proposal(SQLModel, table=True):
    """A follow-up offered from a finished run (one of its proposed actions, or a draft to post), and the run
    that carries it out. One row per offer: offering it again replaces the row only once that run has ended
    without changing anything (see ``RunStore.create_follow_up``)."""

    __tablename__ = "proposals"

    run_id: str = Field(foreign_key="runs.id", primary_key=True)
    key: str = Field(primary_key=True)
    follow_up_id: str = Field(foreign_key="runs.id", index=True)
    created_at: datetime = Field(sa_type=UtcDateTime)


class RunLost(OpsPilotError):
    """The run is no longer the caller's to change: another worker holds its lease, or it has finished."""


@dataclass
class Entry:
    """A step about to be written; its number and time are given when it is."""

    kind: StepKind
    data: dict[str, Any] = field(default_factory=dict)
    source: RunState | None = None
    target: RunState | None = None
    reason: str | None = None


def transition_entry(source: RunState, target: RunState, reason: str) -> Entry:
    """The step recording ``source -> target``, checked against the transition table."""
    return Entry("transition", source=source, target=check_transition(source, target), reason=reason)


def new_id() -> str:
    return secrets.token_hex(8)


class RunStore:
    """Conversations, runs and their steps, tool calls and evidence: every read and write the Copilot makes."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    # --- runs and conversations -------------------------------------------------------------------------------

    def create_run(
        self,
        question: str,
        *,
        user: Actor,
        planner: str,
        page: PageContext | None = None,
        conversation_id: str | None = None,
        owner: str | None = None,
        lease_seconds: float = 0.0,
        memory: dict[str, Any] | None = None,
    ) -> RunView:
        """A new run in PLAN, in ``conversation_id`` (``NotFound`` if unknown) or a new conversation.

        With ``owner`` the run is created already leased to that worker, so no other worker races to start it.
        """
        now = self.clock.now()
        run = Run(
            id=new_id(),
            conversation_id=conversation_id or new_id(),
            question=question,
            page=(page or PageContext()).model_dump(mode="json", exclude_none=True),
            user=user.user,
            role=user.role.value,
            planner=planner,
            memory=memory or {},
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds) if owner else None,
            created_at=now,
            updated_at=now,
        )
        with self.database.transaction() as session:
            if conversation_id is None:
                session.add(
                    Conversation(
                        id=run.conversation_id,
                        user=user.user,
                        title=question[:120],
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                _rowcount_or_missing(
                    session.execute(
                        update(Conversation)
                        .where(col(Conversation.id) == conversation_id)
                        .values(updated_at=now)
                        .execution_options(synchronize_session=False)
                    ),
                    f"no conversation {conversation_id!r}",
                )
            session.add(run)
        return self.get(run.id)

    def create_follow_up(
        self,
        source_id: str,
        key: str,
        question: str,
        *,
        user: Actor,
        planner: str,
        refuse: Callable[[ProposalRecord], str | None],
        owner: str | None = None,
        lease_seconds: float = 0.0,
        memory: dict[str, Any] | None = None,
    ) -> RunView:
        """A new run carrying out offer ``key`` of finished run ``source_id``, in that run's conversation.

        When the offer was made before, ``refuse`` judges the run that carries it: a reason means it may not be
        offered again (``BadQuery`` with that reason). The check and the new run are one transaction, so two
        people offering the same thing at once make one run; the other is refused.
        """
        now = self.clock.now()
        try:
            with self.database.transaction() as session:
                source = session.get(Run, source_id)
                if source is None:
                    raise NotFound(f"no run {source_id!r}", source="copilot")
                earlier = session.get(Proposal, (source_id, key))
                if earlier is not None:
                    why = refuse(_proposal_record(session, earlier))
                    if why:
                        raise BadQuery(why, source="copilot")
                run = Run(
                    id=new_id(),
                    conversation_id=source.conversation_id,
                    question=question,
                    page=dict(source.page),
                    user=user.user,
                    role=user.role.value,
                    planner=planner,
                    memory=memory or {},
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds) if owner else None,
                    created_at=now,
                    updated_at=now,
                )
                session.add(run)
                session.flush()
                if earlier is None:
                    session.add(Proposal(run_id=source_id, key=key, follow_up_id=run.id, created_at=now))
                else:
                    _rowcount_or_refused(
                        session.execute(
                            update(Proposal)
                            .where(
                                col(Proposal.run_id) == source_id,
                                col(Proposal.key) == key,
                                col(Proposal.follow_up_id) == earlier.follow_up_id,
                            )
                            .values(follow_up_id=run.id, created_at=now)
                            .execution_options(synchronize_session=False)
                        )
                    )
                session.execute(
                    update(Conversation)
                    .where(col(Conversation.id) == source.conversation_id)
                    .values(updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:
            raise BadQuery(_OFFERED_MEANWHILE, source="copilot") from None
        return self.get(run.id)

    def proposals(self, run_id: str) -> list[ProposalRecord]:
        """What was offered from run ``run_id``, and how each offer stands."""
        with self.database.transaction() as session:
            rows = list(
                session.scalars(
                    select(Proposal).where(col(Proposal.run_id) == run_id).order_by(col(Proposal.key))
                )
            )
            return [_proposal_record(session, row) for row in rows]

    def get(self, run_id: str) -> RunView:
        """The run as clients see it; ``NotFound`` when there is none."""
        return self.load(run_id).view

    def load(self, run_id: str) -> RunRecord:
        """The run with everything a worker needs to resume it."""
        with self.database.transaction() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}", source="copilot")
            steps = list(
                session.scalars(
                    select(RunStep).where(col(RunStep.run_id) == run_id).order_by(col(RunStep.seq))
                )
            )
            calls = list(
                session.scalars(
                    select(ToolCall).where(col(ToolCall.run_id) == run_id).order_by(col(ToolCall.id))
                )
            )
            evidence = list(
                session.scalars(
                    select(EvidenceItem)
                    .where(col(EvidenceItem.run_id) == run_id)
                    .order_by(col(EvidenceItem.id))
                )
            )
        finished = [call for call in calls if call.ok is not None]
        view = RunView(
            id=run.id,
            conversation_id=run.conversation_id,
            question=run.question,
            user=run.user,
            role=run.role,
            state=RunState(run.state),
            planner=run.planner,
            page=PageContext.model_validate(run.page),
            steps=[_step_view(step) for step in steps],
            outcomes=[_outcome(call, evidence) for call in finished],
            answer=Answer.model_validate(run.answer) if run.answer else None,
            error=run.error,
            notes=[str(step.data.get("text", "")) for step in steps if step.kind == "note"],
            pending_request_id=run.pending_request_id,
            created_at=run.created_at,
            finished_at=run.finished_at,
            active_seconds=run.active_seconds,
        )
        return RunRecord(
            view=view,
            step_count=run.step_count,
            memory=run.memory,
            pending_calls=[PendingCall.model_validate(item) for item in run.pending_calls],
            lease_owner=run.lease_owner,
            lease_expires_at=run.lease_expires_at,
            started_calls={call.call_id: call.request_id for call in calls if call.ok is None},
        )

    def list_runs(
        self,
        *,
        user: str | None = None,
        conversation_id: str | None = None,
        state: RunState | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunSummary]:
        """Runs, newest first, optionally only one user's, one conversation's or those in one state; with
        ``before`` (a run's id, the last of a page), only the runs listed after it (the next page)."""
        query = select(Run)
        after = None
        if before:
            with self.database.transaction() as session:
                anchor = session.get(Run, before)
            if anchor is None:
                raise NotFound(f"no run {before!r} to page from", source="copilot")
            after = (anchor.created_at, anchor.id)
        if user:
            query = query.where(col(Run.user) == user)
        if conversation_id:
            query = query.where(col(Run.conversation_id) == conversation_id)
        if state:
            query = query.where(col(Run.state) == state.value)
        query = newest_first(query, col(Run.created_at), col(Run.id), after=after).limit(limit)
        with self.database.transaction() as session:
            rows = list(session.scalars(query))
        return [
            RunSummary(
                id=run.id,
                conversation_id=run.conversation_id,
                question=run.question,
                user=run.user,
                state=RunState(run.state),
                planner=run.planner,
                step_count=run.step_count,
                error=run.error,
                created_at=run.created_at,
                finished_at=run.finished_at,
            )
            for run in rows
        ]

    def conversation(self, conversation_id: str, *, before: str) -> list[PriorTurn]:
        """The turns of a conversation older than run ``before``: each question, its answer and what it cited
        (in its claims and its proposed actions)."""
        with self.database.transaction() as session:
            current = session.get(Run, before)
            if current is None:
                raise NotFound(f"no run {before!r}", source="copilot")
            earlier = list(
                session.scalars(
                    select(Run)
                    .where(
                        col(Run.conversation_id) == conversation_id, col(Run.created_at) <= current.created_at
                    )
                    .where(col(Run.id) != before)
                    .order_by(col(Run.created_at), col(Run.id))
                )
            )
            evidence = list(
                session.scalars(
                    select(EvidenceItem)
                    .where(col(EvidenceItem.run_id).in_([run.id for run in earlier]))
                    .order_by(col(EvidenceItem.id))
                )
            )
        turns: list[PriorTurn] = []
        for run in earlier:
            answer = Answer.model_validate(run.answer) if run.answer else None
            cited = _cited_ids(answer) if answer else set()
            seen: dict[str, Evidence] = {}
            for row in evidence:
                if row.run_id == run.id and row.evidence_id in cited:
                    seen.setdefault(row.evidence_id, _evidence(row))
            turns.append(PriorTurn(question=run.question, answer=answer, evidence=list(seen.values())))
        return turns

    def steps(self, run_id: str, *, after: int = 0) -> list[StepView]:
        """The run's steps numbered above ``after``, in order; ``NotFound`` when there is no such run."""
        with self.database.transaction() as session:
            if session.get(Run, run_id) is None:
                raise NotFound(f"no run {run_id!r}", source="copilot")
            rows = session.scalars(
                select(RunStep)
                .where(col(RunStep.run_id) == run_id, col(RunStep.seq) > after)
                .order_by(col(RunStep.seq))
            )
            return [_step_view(row) for row in rows]

    # --- leases ---------------------------------------------------------------------------------------------------

    def acquire(self, run_id: str, owner: str, *, seconds: float) -> bool:
        """Take (or renew) the lease on a live run: free, lapsed or already ``owner``'s. True when held."""
        now = self.clock.now()
        with self.database.transaction() as session:
            taken = _rowcount(
                session.execute(
                    update(Run)
                    .where(col(Run.id) == run_id, col(Run.state).in_(LIVE_STATES))
                    .where(
                        or_(
                            col(Run.lease_owner).is_(None),
                            col(Run.lease_owner) == owner,
                            col(Run.lease_expires_at) <= now,
                        )
                    )
                    .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
                    .execution_options(synchronize_session=False)
                )
            )
        return taken == 1

    def release(self, run_id: str, owner: str) -> None:
        """Give the lease up at once, so another worker may resume the run without waiting for it to lapse."""
        with self.database.transaction() as session:
            session.execute(
                update(Run)
                .where(col(Run.id) == run_id, col(Run.lease_owner) == owner)
                .values(lease_owner=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    def lease(self, run_id: str) -> Lease:
        """Who holds the run and until when; ``NotFound`` when there is no such run."""
        with self.database.transaction() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}", source="copilot")
            return Lease(
                run_id=run.id,
                state=RunState(run.state),
                owner=run.lease_owner,
                expires_at=run.lease_expires_at,
            )

    def next_lapse(self, *, besides: str | None = None) -> datetime | None:
        """When the first lease on a live run lapses unless renewed (leases held by ``besides`` left out)."""
        with self.database.transaction() as session:
            query = (
                select(func.min(col(Run.lease_expires_at)))
                .where(col(Run.state).in_(LIVE_STATES))
                .where(col(Run.lease_owner).is_not(None))
            )
            if besides is not None:
                query = query.where(col(Run.lease_owner) != besides)
            return cast(datetime | None, session.scalar(query))

    def orphans(self, *, limit: int = 100) -> list[str]:
        """Live runs nobody holds: never started, or whose worker stopped renewing its lease."""
        now = self.clock.now()
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(Run.id)
                    .where(col(Run.state).in_(LIVE_STATES))
                    .where(or_(col(Run.lease_owner).is_(None), col(Run.lease_expires_at) <= now))
                    .order_by(col(Run.created_at))
                    .limit(limit)
                )
            )

    # --- steps --------------------------------------------------------------------------------------------------

    def append(
        self,
        run_id: str,
        entries: Sequence[Entry],
        *,
        owner: str | None,
        expect: RunState | None = None,
        also: Callable[[Session], None] | None = None,
        **changes: Any,
    ) -> list[StepView]:
        """Write ``entries`` as the run's next steps and apply ``changes`` to its row, in one transaction.

        ``owner`` must hold the lease (None: any writer, for approvers and cancels); ``expect`` is the state the
        run must be in, else the run must merely be live. Raises :class:`RunLost` when either check fails.
        A transition entry also moves ``state`` (and stamps ``finished_at`` on a terminal state); ``also`` writes
        other rows in the same transaction.
        """
        now = self.clock.now()
        target = next((entry.target for entry in reversed(entries) if entry.target is not None), None)
        values: dict[str, Any] = {"last_seq": col(Run.last_seq) + len(entries), "updated_at": now, **changes}
        if target is not None:
            values["state"] = target.value
            if target in TERMINAL:
                values.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        condition = [col(Run.id) == run_id]
        condition.append(
            col(Run.state) == expect.value if expect is not None else col(Run.state).in_(LIVE_STATES)
        )
        if owner is not None:
            condition.append(col(Run.lease_owner) == owner)
        with self.database.transaction() as session:
            changed = _rowcount(
                session.execute(
                    update(Run)
                    .where(*condition)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            )
            if changed != 1:
                raise RunLost(_lost_reason(session, run_id, owner, expect), source="copilot")
            last = session.scalar(select(Run.last_seq).where(col(Run.id) == run_id))
            state = session.scalar(select(Run.state).where(col(Run.id) == run_id))
            assert last is not None and state is not None
            rows = [
                RunStep(
                    run_id=run_id,
                    seq=last - len(entries) + position + 1,
                    kind=entry.kind,
                    state=state,
                    from_state=entry.source.value if entry.source else None,
                    to_state=entry.target.value if entry.target else None,
                    reason=entry.reason,
                    data=entry.data,
                    at=now,
                )
                for position, entry in enumerate(entries)
            ]
            session.add_all(rows)
            if also is not None:
                also(session)
        return [_step_view(row) for row in rows]

    def cancel(self, run_id: str, *, reason: str) -> list[StepView]:
        """Take a live run to FAILED with ``reason``, whoever holds it; ``RunLost`` when it already finished."""
        while True:
            state = self.get(run_id).state
            if state in TERMINAL:
                raise RunLost(f"run {run_id} already finished ({state})", source="copilot")
            try:
                return self.append(
                    run_id,
                    [transition_entry(state, RunState.FAILED, reason)],
                    owner=None,
                    expect=state,
                    error=reason,
                    pending_calls=[],
                )
            except RunLost:
                continue  # it moved meanwhile: read its new state and try again

    # --- tool calls ---------------------------------------------------------------------------------------------

    def begin_calls(self, run_id: str, calls: Iterable[PendingCall], *, owner: str) -> list[StepView]:
        """Record calls as started, in the order given (re-running a call cut off before resets its row)."""
        now = self.clock.now()
        batch = list(calls)
        entries = [
            Entry(
                "tool_call",
                {
                    "call_id": call.call_id,
                    "tool": call.request.tool,
                    "arguments": call.request.arguments,
                    "reason": call.request.reason,
                    "request_id": call.request_id,
                },
            )
            for call in batch
        ]

        def write(session: Session) -> None:
            for call in batch:
                # A call cut off before (its row exists, unfinished) starts over in the same row.
                row = _call_row(session, run_id, call.call_id)
                if row is None:
                    row = ToolCall(
                        run_id=run_id, call_id=call.call_id, tool=call.request.tool, started_at=now
                    )
                row.arguments = call.request.arguments
                row.request_id = call.request_id
                row.started_at = now
                session.add(row)

        return self.append(run_id, entries, owner=owner, expect=RunState.EXECUTE_TOOL, also=write)

    def finish_call(self, run_id: str, outcome: ToolOutcome, *, owner: str) -> list[StepView]:
        """Record what a call returned, with its evidence."""
        entry = Entry(
            "tool_result",
            {
                "call_id": outcome.call_id,
                "tool": outcome.tool,
                "ok": outcome.ok,
                "text": outcome.text[:500],
                "error": outcome.error,
                "duration_ms": round(outcome.duration_ms, 2),
                "evidence_ids": [item.id for item in outcome.evidence],
            },
        )

        def write(session: Session) -> None:
            row = _call_row(session, run_id, outcome.call_id)
            if row is None:
                raise NotFound(f"run {run_id} has no call {outcome.call_id!r}", source="copilot")
            row.finished_at = self.clock.now()
            row.ok = outcome.ok
            row.text = outcome.text[:TEXT_LIMIT]
            row.structured = _bounded(outcome.structured)
            row.error = outcome.error
            row.duration_ms = outcome.duration_ms
            session.add(row)
            session.add_all(
                EvidenceItem(
                    run_id=run_id,
                    call_id=outcome.call_id,
                    position=position,
                    evidence_id=item.id,
                    kind=item.kind.value,
                    ref=item.ref,
                    excerpt=item.excerpt,
                    link=item.link,
                    at=item.at,
                    service=item.service,
                    label=item.label,
                )
                for position, item in enumerate(outcome.evidence)
            )

        return self.append(run_id, [entry], owner=owner, expect=RunState.EXECUTE_TOOL, also=write)


_OFFERED_MEANWHILE = "someone offered it at the same moment; see the run's proposals"


def _rowcount_or_refused(result: Any) -> None:
    if _rowcount(result) != 1:
        raise BadQuery(_OFFERED_MEANWHILE, source="copilot")


def _proposal_record(session: Session, proposal: Proposal) -> ProposalRecord:
    """An offer with the state of the run carrying it out, its latest approval request and its change."""
    follow_up = session.get(Run, proposal.follow_up_id)
    if follow_up is None:
        raise NotFound(f"no run {proposal.follow_up_id!r}", source="copilot")
    request = session.scalar(
        select(ApprovalRequest)
        .where(col(ApprovalRequest.run_id) == follow_up.id)
        .order_by(col(ApprovalRequest.created_at).desc(), col(ApprovalRequest.id).desc())
        .limit(1)
    )
    change = session.scalar(
        select(ToolCall)
        .where(
            col(ToolCall.run_id) == follow_up.id,
            col(ToolCall.request_id).is_not(None),
            col(ToolCall.ok).is_(True),
        )
        .order_by(col(ToolCall.id).desc())
        .limit(1)
    )
    answer = Answer.model_validate(follow_up.answer) if follow_up.answer else None
    return ProposalRecord(
        run_id=proposal.run_id,
        key=proposal.key,
        follow_up_id=follow_up.id,
        state=RunState(follow_up.state),
        error=follow_up.error,
        summary=answer.summary if answer else None,
        request_id=request.id if request else None,
        request_status=request.status if request else None,
        decided_by=request.decided_by if request else None,
        decision_reason=request.decision_reason if request else None,
        change_tool=change.tool if change else None,
        change_result=change.structured if change else None,
    )


def _cited_ids(answer: Answer) -> set[str]:
    """What an answer rests on: the evidence its claims and its proposed actions cite."""
    claimed = {item for claim in answer.claims for item in claim.evidence_ids}
    return claimed | {item for action in answer.proposed_actions for item in action.evidence_ids}


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _rowcount_or_missing(result: Any, message: str) -> None:
    if _rowcount(result) != 1:
        raise NotFound(message, source="copilot")


def _lost_reason(session: Session, run_id: str, owner: str | None, expect: RunState | None) -> str:
    run = session.get(Run, run_id)
    if run is None:
        return f"no run {run_id!r}"
    if run.state in (state.value for state in TERMINAL):
        return f"run {run_id} already finished ({run.state})"
    if expect is not None and run.state != expect.value:
        return f"run {run_id} is in {run.state}, not {expect.value}"
    return f"run {run_id} is leased to {run.lease_owner or 'nobody'}, not {owner}"


def _call_row(session: Session, run_id: str, call_id: str) -> ToolCall | None:
    return session.scalar(
        select(ToolCall).where(col(ToolCall.run_id) == run_id, col(ToolCall.call_id) == call_id)
    )


def _bounded(structured: Any) -> Any:
    if structured is None:
        return None
    text = json.dumps(structured, default=str)
    if len(text) > STRUCTURED_LIMIT:
        return {"truncated": True, "chars": len(text)}
    return json.loads(text)


def _step_view(row: RunStep) -> StepView:
    data = dict(row.data)
    if row.kind == "transition":
        data.update({"from": row.from_state, "to": row.to_state, "reason": row.reason})
    return StepView(
        seq=row.seq, kind=cast(StepKind, row.kind), state=RunState(row.state), data=data, at=row.at
    )


def _evidence(row: EvidenceItem) -> Evidence:
    return Evidence.model_validate(
        {
            "id": row.evidence_id,
            "kind": row.kind,
            "ref": row.ref,
            "excerpt": row.excerpt,
            "tool_call_id": row.call_id,
            "link": row.link,
            "at": row.at,
            "service": row.service,
            "label": row.label or "",
        }
    )


def _outcome(call: ToolCall, evidence: list[EvidenceItem]) -> ToolOutcome:
    return ToolOutcome(
        call_id=call.call_id,
        tool=call.tool,
        arguments=call.arguments,
        ok=bool(call.ok),
        text=call.text,
        structured=call.structured,
        error=call.error,
        duration_ms=call.duration_ms or 0.0,
        evidence=[_evidence(row) for row in evidence if row.call_id == call.call_id],
    )
