"""What a planner sees and what it decides: the contract between the runner and every planner.

A planner is stateless between calls: everything it needs comes in a :class:`PlanContext` that the runner rebuilds
from persisted steps, so a run resumes in another process exactly where it stopped. What a planner must carry from
one step to the next (Claude's message history, say) lives in ``PlanContext.memory``, which the runner persists
after every call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from copilot.answer import Answer, Evidence
from core_client.clock import SourceClock
from core_client.policy import ToolKind


class ToolSpec(BaseModel):
    """One tool as discovered over MCP when the run starts. ``name`` is namespaced: ``<server>.<tool>``."""

    name: str
    server: str
    tool: str = Field(description="the name the server knows it by")
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    kind: ToolKind = Field(
        description="from the annotations (read_only, destructive, or unannotated), or read_only when the "
        "operator's policy vouches for a foreign tool"
    )
    capability: str | None = Field(
        default=None,
        description="for a foreign tool: the capability its server entry maps it to (log, runbook...), if any",
    )


class ToolRequest(BaseModel):
    """One call a planner wants made."""

    tool: str = Field(description="the namespaced name from ToolSpec.name")
    arguments: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    evidence_ids: list[str] = Field(
        default_factory=list, description="what a mutation rests on, for its approver"
    )


class ToolOutcome(BaseModel):
    """One call made, as persisted: what went in, what came out, how long it took, what it proved."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    ok: bool
    text: str = ""
    structured: Any = None
    error: str | None = None
    duration_ms: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)


class PageContext(BaseModel):
    """Where the question was asked: the console page and its scope, all optional."""

    path: str | None = None
    incident_id: str | None = None
    service: str | None = None
    team: str | None = None
    environment: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class PriorTurn(BaseModel):
    """An earlier question of the same conversation, with its answer and the evidence that answer cited."""

    question: str
    answer: Answer | None
    evidence: list[Evidence] = Field(default_factory=list)


class PlanContext(BaseModel):
    run_id: str
    question: str
    page: PageContext = Field(default_factory=PageContext)
    conversation: list[PriorTurn] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(default_factory=list)
    outcomes: list[ToolOutcome] = Field(default_factory=list, description="every call of this run, in order")
    notes: list[str] = Field(
        default_factory=list,
        description="what the planner must know: rejections with reasons, failed servers",
    )
    memory: dict[str, Any] = Field(default_factory=dict)
    step: int = 0
    now: datetime
    clocks_apart: list[SourceClock] = Field(
        default_factory=list,
        description="capabilities whose source keeps another time than `now` (a frozen demo beside a live source)",
    )

    @property
    def evidence(self) -> list[Evidence]:
        """All evidence this run's tool calls returned, in the order they returned it."""
        return [item for outcome in self.outcomes for item in outcome.evidence]

    def clock_apart(self, capability: str) -> SourceClock | None:
        """The clock of ``capability``'s source when it is not the investigation's (a frozen demo beside a live
        source): its records are of another time, and this run's windows mean nothing to it."""
        return next((c for c in self.clocks_apart if c.capability == capability), None)


class CallTools(BaseModel):
    """Make these calls (concurrently, when there are several) and come back."""

    decision: Literal["call"] = "call"
    calls: list[ToolRequest] = Field(min_length=1)
    thought: str = ""


class Finish(BaseModel):
    decision: Literal["finish"] = "finish"
    answer: Answer


class GiveUp(BaseModel):
    decision: Literal["fail"] = "fail"
    reason: str


Plan = CallTools | Finish | GiveUp


class Evaluation(BaseModel):
    """After a round of calls: go on planning, or stop with an answer."""

    verdict: Literal["continue", "done"] = "continue"
    answer: Answer | None = None
    note: str = ""


class Planner(Protocol):
    """Decides the next step from the context; never calls a tool itself."""

    name: str

    async def plan(self, context: PlanContext) -> Plan:
        """The next step: calls to make, a final answer, or a reason to give up."""
        ...

    async def evaluate(self, context: PlanContext) -> Evaluation:
        """Look at the newest outcomes (the tail of ``context.outcomes``) and say whether to go on."""
        ...
