"""What the run store hands out: pydantic views of runs, their steps and their tool calls.

Callers (the runner, the console, the CLI) only ever see these; the SQLModel rows stay inside ``copilot.store``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from copilot.answer import Answer
from copilot.machine import RunState
from copilot.planning import PageContext, ToolOutcome, ToolRequest

StepKind = Literal[
    "transition", "plan", "tool_call", "tool_result", "evaluation", "approval", "answer", "note"
]


class StepView(BaseModel):
    """One persisted step of a run, numbered from 1; ``/runs/{id}#step-{seq}`` links to it."""

    seq: int
    kind: StepKind
    state: RunState = Field(description="the run's state once this step was recorded")
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class PendingCall(BaseModel):
    """One call of the batch a plan asked for, kept on the run so a resumed worker knows what is left to do."""

    call_id: str
    request: ToolRequest
    mutation: bool = False
    request_id: str | None = Field(default=None, description="the approval request filed for a mutation")


class RunView(BaseModel):
    """A run as a client sees it: its question, where it stands, every step, every call, and the answer."""

    id: str
    conversation_id: str
    question: str
    user: str
    role: str
    state: RunState
    planner: str
    page: PageContext = Field(default_factory=PageContext)
    steps: list[StepView] = Field(default_factory=list)
    outcomes: list[ToolOutcome] = Field(default_factory=list)
    answer: Answer | None = None
    error: str | None = None
    notes: list[str] = Field(default_factory=list)
    pending_request_id: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    active_seconds: float = 0.0


class RunSummary(BaseModel):
    """A line in a list of runs."""

    id: str
    conversation_id: str
    question: str
    user: str
    state: RunState
    planner: str
    step_count: int
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


class Lease(BaseModel):
    """Who holds a run and until when: what a worker waiting to take the run over waits for."""

    run_id: str
    state: RunState
    owner: str | None = Field(default=None, description="the worker holding the run; None when nobody does")
    expires_at: datetime | None = Field(default=None, description="when the lease lapses unless renewed")

    def free(self, now: datetime) -> bool:
        """Whether a worker may take the run at ``now``: nobody holds it, or its holder's lease has lapsed."""
        return self.owner is None or self.expires_at is None or self.expires_at <= now


class RunRecord(BaseModel):
    """Everything the runner needs to pick a run up where it stopped (the view plus what clients never see)."""

    view: RunView
    step_count: int
    memory: dict[str, Any] = Field(default_factory=dict)
    pending_calls: list[PendingCall] = Field(default_factory=list)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    started_calls: dict[str, str | None] = Field(
        default_factory=dict,
        description="call id -> approval request id of calls begun but never finished (cut off mid-call)",
    )


class ProposalRecord(BaseModel):
    """A follow-up offered from a finished run, as the store knows it: the run carrying it out, the approval
    request that run filed (its latest) and the change it made, if any."""

    run_id: str
    key: str = Field(description="the proposed action's index ('0', '1'...) or a draft's '<draft>:<target>'")
    follow_up_id: str
    state: RunState
    error: str | None = None
    summary: str | None = Field(default=None, description="the follow-up's answer, when it has one")
    request_id: str | None = None
    request_status: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    change_tool: str | None = Field(
        default=None, description="the change made with a grant, when it succeeded"
    )
    change_result: Any = None
