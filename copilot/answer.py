"""The Answer a planner returns, and the Evidence its claims cite (DESIGN.md "The Copilot").

Both planners produce the same Answer. Every claim names the evidence it rests on by id; an id is only valid when
a tool call of the same run returned that evidence (see ``copilot.citations``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

# The fault kinds an investigator may name as a root cause; the demo world's scenarios use the same words.
FAULT_KINDS: tuple[str, ...] = (
    "bad_deploy",
    "config_change",
    "connection_pool_exhaustion",
    "latency_injection",
    "certificate_expiry",
    "memory_leak",
    "dependency_outage",
    "disk_full",
    "cpu_saturation",
    "traffic_spike",
)


class EvidenceKind(StrEnum):
    LOG = "log"
    LOG_PATTERN = "log_pattern"
    METRIC = "metric"
    ANOMALY = "anomaly"
    ALERT = "alert"
    INCIDENT = "incident"
    TIMELINE = "timeline"
    DEPLOYMENT = "deployment"
    TICKET = "ticket"
    SERVICE = "service"
    RUNBOOK = "runbook"
    FILE = "file"


class Evidence(BaseModel):
    """One thing a tool call returned that a claim can cite; ``link`` opens it in the console."""

    id: str = Field(
        description="stable within a run: '<kind>:<ref>', e.g. 'log:9f2c…' or 'deployment:dep-17'"
    )
    kind: EvidenceKind
    ref: str = Field(description="the object's own id or name in its system")
    excerpt: str = Field(description="a short readable excerpt, at most a few hundred characters")
    tool_call_id: str
    link: str | None = None


class Claim(BaseModel):
    text: str
    evidence_ids: list[str] = Field(default_factory=list)


class RootCause(BaseModel):
    service: str
    fault_kind: str


class ProposedAction(BaseModel):
    """A follow-up the planner suggests (a ticket carrying the evidence, a timeline note); it goes to approval."""

    tool: str
    arguments: dict[str, Any]
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)


class Answer(BaseModel):
    summary: str
    claims: list[Claim] = Field(default_factory=list)
    root_cause: RootCause | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    proposed_actions: list[ProposedAction] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="what could not be checked, and why")
