"""Fixtures for the Copilot's run tests: migrated databases (SQLite and the real PostgreSQL), a clock the test
moves, a scripted planner and an in-memory toolbox that behaves like the real one at its interface (specs,
approval names, calls that come back as outcomes, mutations refused without a grant)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from copilot.answer import Answer, Claim, Evidence, EvidenceKind
from copilot.citations import validate_answer
from copilot.events import LocalBus, RunEvents
from copilot.machine import TERMINAL, RunState
from copilot.planning import (
    CallTools,
    Evaluation,
    Finish,
    Plan,
    PlanContext,
    ToolOutcome,
    ToolRequest,
    ToolSpec,
)
from copilot.records import RunView
from copilot.runner import Runner
from copilot.store import RunStore
from core_client.approvals import ApprovalBook
from core_client.clock import Clock
from core_client.errors import ApprovalRequired
from core_client.identity import Actor, Role
from core_client.mutations import arguments_digest
from core_client.policy import Policy
from core_client.settings import CopilotSettings, load_settings
from core_client.store import Database
from tests.core_client.conftest import database_url, migrated_postgres, migrated_sqlite

# Every run test runs on a fresh SQLite file and on the real PostgreSQL: core_client's store fixtures.
__all__ = ["database_url", "migrated_postgres", "migrated_sqlite"]

T = TypeVar("T")
START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ALICE = Actor(user="alice", role=Role.RESPONDER, via="console")
BOB = Actor(user="bob", role=Role.APPROVER, via="console")


async def until(condition: Callable[[], T], *, within: float = 10.0, every: float = 0.02) -> T:
    """Poll ``condition`` (say, a read of the database another process writes) until it is truthy; its value."""
    deadline = time.monotonic() + within
    for _ in itertools.count():
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within} s: {condition}")
        await asyncio.sleep(every)
    raise AssertionError("unreachable")


class ManualClock:
    """A clock that moves only when the test (or a fake) says so."""

    def __init__(self, start: datetime = START) -> None:
        self.instant = start

    def now(self) -> datetime:
        return self.instant

    def advance(self, seconds: float) -> None:
        self.instant += timedelta(seconds=seconds)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(database: Database, clock: ManualClock) -> RunStore:
    return RunStore(database, clock=clock)


# --- the toolbox ----------------------------------------------------------------------------------------------

SPECS = [
    ToolSpec(name="opspilot.search_logs", server="opspilot", tool="search_logs", kind="read_only"),
    ToolSpec(name="opspilot.get_incident", server="opspilot", tool="get_incident", kind="read_only"),
    ToolSpec(name="opspilot.create_ticket", server="opspilot", tool="create_ticket", kind="destructive"),
    ToolSpec(
        name="opspilot.append_timeline_note",
        server="opspilot",
        tool="append_timeline_note",
        kind="destructive",
    ),
    ToolSpec(name="tracker.file_bug", server="tracker", tool="file_bug", kind="unannotated"),
]


@dataclass
class Call:
    tool: str
    arguments: dict[str, Any]
    grant: str | None
    call_id: str


@dataclass
class FakeTools:
    """Tools answering from ``replies`` (tool -> text). A change runs only with a grant, which it claims and
    spends through ``gate`` exactly as our MCP server's mutation gate does.

    ``hold`` names tools whose calls block (after claiming any grant) until ``release`` is set, to cut a run off
    mid-call.
    """

    replies: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    hold: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    notes_on_open: list[str] = field(default_factory=list)
    specs: list[ToolSpec] = field(default_factory=lambda: list(SPECS))
    gate: ApprovalBook | None = None
    broken: Exception | None = None

    def approval_name(self, name: str) -> str:
        spec = next(spec for spec in self.specs if spec.name == name)
        return spec.tool if spec.server == "opspilot" else spec.name

    async def call(self, request: ToolRequest, *, call_id: str, grant: str | None = None) -> ToolOutcome:
        self.calls.append(Call(request.tool, request.arguments, grant, call_id))
        spec = next((spec for spec in self.specs if spec.name == request.tool), None)
        if spec is None:
            return self._outcome(request, call_id, error=f"no tool {request.tool!r}")
        claimed = None
        if spec.kind != "read_only":
            name = self.approval_name(spec.name)
            if grant is None or self.gate is None:
                return self._outcome(request, call_id, error=f"{name} needs approval by a person")
            digest = arguments_digest(name, request.arguments)[1]
            try:
                claimed = self.gate.claim(
                    grant,
                    tool=name,
                    arguments_sha256=digest,
                    actor=Actor.copilot_for("alice", Role.RESPONDER),
                    timeout=10,
                )
            except ApprovalRequired as refused:
                return self._outcome(request, call_id, error=refused.message)
        if request.tool in self.hold:
            self.started.set()
            await self.release.wait()
        if claimed is not None and self.gate is not None:
            actor = Actor.copilot_for("alice", Role.RESPONDER)
            self.gate.spend(claimed, actor=actor, arguments=request.arguments, result={})
        return self._outcome(request, call_id, text=self.replies.get(request.tool, f"{spec.tool} ok"))

    @staticmethod
    def _outcome(
        request: ToolRequest, call_id: str, *, text: str = "", error: str | None = None
    ) -> ToolOutcome:
        return ToolOutcome(
            call_id=call_id,
            tool=request.tool,
            arguments=request.arguments,
            ok=error is None,
            text=text,
            error=error,
        )

    @asynccontextmanager
    async def open(self, actor: Actor, notes: list[str]) -> AsyncIterator[FakeTools]:
        assert actor.copilot, "the toolbox always acts as the Copilot on behalf of a user"
        if self.broken is not None:
            raise self.broken
        notes.extend(self.notes_on_open)
        yield self

    def made(self, tool: str) -> list[Call]:
        return [call for call in self.calls if call.tool == tool]


def fake_evidence(spec: ToolSpec, outcome: ToolOutcome) -> list[Evidence]:
    """One piece of evidence per successful call, with a console link that parses."""
    return [
        Evidence(
            id=f"log:{outcome.call_id}",
            kind=EvidenceKind.LOG,
            ref=outcome.call_id,
            excerpt=outcome.text[:80],
            tool_call_id=outcome.call_id,
            link=f"/logs?highlight={outcome.call_id}",
        )
    ]


def checked(answer: Answer, evidence: list[Evidence]) -> tuple[Answer, list[str]]:
    report = validate_answer(answer, evidence)
    return report.answer, report.notes


# --- the planner ----------------------------------------------------------------------------------------------

Step = Plan | Callable[[PlanContext], Plan]


class ScriptedPlanner:
    """Plans by step number from a script, so a resumed run plans exactly what the first worker would have.

    A step may be a Plan or a function of the context. Every context seen is kept for the test to inspect.
    """

    name = "scripted"

    def __init__(self, *script: Step, on_plan: Callable[[PlanContext], None] | None = None) -> None:
        self.script = list(script)
        self.seen: list[PlanContext] = []
        self.evaluations = 0
        self.on_plan = on_plan

    async def plan(self, context: PlanContext) -> Plan:
        self.seen.append(context.model_copy(deep=True))
        if self.on_plan is not None:
            self.on_plan(context)
        context.memory["plans"] = context.memory.get("plans", 0) + 1
        step = self.script[min(context.step, len(self.script) - 1)]
        return step(context) if callable(step) else step

    async def evaluate(self, context: PlanContext) -> Evaluation:
        self.evaluations += 1
        return Evaluation(verdict="continue", note=f"{len(context.outcomes)} outcomes so far")


def call(*tools: str, **arguments: Any) -> CallTools:
    return CallTools(calls=[ToolRequest(tool=tool, arguments=arguments) for tool in tools])


def finish_citing_everything(context: PlanContext) -> Finish:
    return Finish(
        answer=Answer(
            summary="checkout fails because orders' pool is exhausted",
            claims=[
                Claim(text="orders logs show pool exhaustion", evidence_ids=[e.id for e in context.evidence])
            ],
            confidence=0.8,
        )
    )


@dataclass
class Rig:
    """A runner over a store, a bus and an approval book, with the fakes it was built from."""

    runner: Runner
    tools: FakeTools
    planner: ScriptedPlanner
    clock: Clock
    approvals: ApprovalBook


RigFactory = Callable[..., Rig]


@pytest.fixture
def bus() -> LocalBus:
    return LocalBus()


@pytest.fixture
def make_rig(database: Database, database_url: str, clock: ManualClock, bus: LocalBus) -> RigFactory:
    """Builds a Runner; several built in one test share the database and the bus, like workers of one app."""

    def build(
        planner: ScriptedPlanner,
        tools: FakeTools | None = None,
        *,
        owner: str | None = None,
        max_steps: int = 24,
        max_seconds: float = 120.0,
        lease_seconds: float = 30.0,
        poll_seconds: float = 5.0,
        approval_ttl_minutes: int = 60,
        run_clock: Clock | None = None,
        events_bus: Any = None,
        policy: Policy | None = None,
    ) -> Rig:
        tools = tools or FakeTools()
        run_clock = run_clock or clock
        settings = load_settings(
            database_url=database_url, approval_ttl_minutes=approval_ttl_minutes, policy=policy or Policy()
        )
        store = RunStore(database, clock=run_clock)
        approvals = ApprovalBook(database, clock=run_clock, settings=settings)
        tools.gate = approvals
        runner = Runner(
            store=store,
            events=RunEvents(events_bus or bus, store, catch_up_seconds=0.2),
            approvals=approvals,
            planner=planner,
            open_tools=tools.open,
            extract_evidence=fake_evidence,
            validate_answer=checked,
            budget=CopilotSettings(max_steps=max_steps, max_seconds=max_seconds),
            clock=run_clock,
            world_clock=run_clock,
            owner=owner,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
        )
        return Rig(runner=runner, tools=tools, planner=planner, clock=run_clock, approvals=approvals)

    return build


TICKET = {"ticket": {"title": "Orders connection pool exhausted", "description": "see evidence"}}


def ticket_call(context: PlanContext) -> CallTools:
    cited = [item.id for item in context.evidence]
    request = ToolRequest(
        tool="opspilot.create_ticket", arguments=TICKET, reason="track the fix", evidence_ids=cited
    )
    return CallTools(calls=[request])


async def settled(rig: Rig, run_id: str) -> RunView:
    """The run once it has ended or waits for a person."""
    async with asyncio.timeout(10):
        view = rig.runner.store.get(run_id)
        if view.state in TERMINAL or view.state == RunState.NEEDS_APPROVAL:
            return view
        after = view.steps[-1].seq if view.steps else 0
        async with aclosing(rig.runner.events.subscribe(run_id, after=after)) as events:
            async for event in events:
                if event.kind == "transition" and (
                    event.state in TERMINAL or event.state == RunState.NEEDS_APPROVAL
                ):
                    break
    return rig.runner.store.get(run_id)
