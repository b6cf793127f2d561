"""Foreign tools standing in for a capability OpsPilot's own providers lack.

An operator maps a foreign MCP server's tools to capabilities (``capabilities = {log = "query-logs"}`` on its
entry). When one of OpsPilot's own tools for that capability fails because no provider serves it
(``CapabilityNotConfigured``, ``Unsupported``: an OpsOrch Core without a log plugin, a catalog without runbooks),
a planner may call the mapped tool instead, provided the operator's policy lets it run without a person (a read).
Its arguments are filled from the tool's own input schema (a time window, a service, a limit), since every
server names them its own way; a tool needing something else is not guessed at.

Planner-agnostic: the offline investigator uses it for the reads it cannot make itself, and any planner may.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from copilot.answer import Claim
from copilot.evidence import OWN_SERVER
from copilot.planning import PlanContext, ToolOutcome, ToolRequest, ToolSpec
from copilot.toolbox import TOOL_CAPABILITY

# Errors of our own tools that mean "nobody serves this here", as opposed to a failure worth retrying.
LACKING = ("CapabilityNotConfigured", "Unsupported")
# Our tools that need an optional ability of a provider, beyond its capability.
ABILITY_OF_TOOL = {"get_runbook": "runbook", "get_oncall": "oncall", "page_oncall": "oncall"}
START_NAMES = ("start", "since", "from", "startTime", "start_time")
END_NAMES = ("end", "until", "to", "endTime", "end_time")
SERVICE_NAMES = ("service", "serviceName", "service_name")
EXCERPT_ROWS = 3


def _capability(tool: str) -> str | None:
    if tool in ABILITY_OF_TOOL:
        return ABILITY_OF_TOOL[tool]
    capability = TOOL_CAPABILITY.get(tool)
    return capability.value if capability is not None else None


def says_lacking(said: str) -> bool:
    """Whether a tool's error says no provider serves what it reads (a core without a log plugin): nothing failed."""
    return any(said.startswith(f"{kind}:") for kind in LACKING)


def _lacking(outcome: ToolOutcome) -> bool:
    said = outcome.error or outcome.text or ""
    structured = outcome.structured if isinstance(outcome.structured, dict) else {}
    return structured.get("error") in LACKING or says_lacking(said)


def lacking_capabilities(context: PlanContext) -> list[str]:
    """Capabilities whose own tools failed in this run because no provider serves them, in the order found."""
    specs = {spec.name: spec for spec in context.tools}
    lacking: list[str] = []
    for outcome in context.outcomes:
        spec = specs.get(outcome.tool)
        if spec is None or spec.server != OWN_SERVER or outcome.ok or not _lacking(outcome):
            continue
        capability = _capability(spec.tool)
        if capability is not None and capability not in lacking:
            lacking.append(capability)
    return lacking


def stand_in(context: PlanContext, capability: str) -> ToolSpec | None:
    """The foreign read tool mapped to ``capability``, if the run has one."""
    return next(
        (
            spec
            for spec in context.tools
            if spec.server != OWN_SERVER and spec.capability == capability and spec.kind == "read_only"
        ),
        None,
    )


def stand_in_request(
    spec: ToolSpec,
    *,
    reason: str,
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> ToolRequest | None:
    """A call of ``spec`` with what its input schema asks for filled in; None when it requires something else."""
    properties: dict[str, Any] = spec.input_schema.get("properties") or {}
    required = set(spec.input_schema.get("required") or [])
    arguments: dict[str, Any] = {}
    for name, schema in properties.items():
        value: Any = None
        if name in START_NAMES and start is not None:
            value = _iso(start)
        elif name in END_NAMES and end is not None:
            value = _iso(end)
        elif name in SERVICE_NAMES and service:
            value = service
        elif name == "scope" and service and "service" in ((schema or {}).get("properties") or {}):
            value = {"service": service}
        elif name == "limit" and (schema or {}).get("type") in ("integer", "number"):
            value = limit
        if value is not None:
            arguments[name] = value
    if required - set(arguments):
        return None
    return ToolRequest(tool=spec.name, arguments=arguments, reason=reason)


@dataclass(frozen=True)
class StandInFinding:
    """What one stand-in call returned, for a claim: how many rows, a few of them, and its evidence."""

    capability: str
    tool: str
    rows: int
    excerpt: list[str]
    evidence_ids: list[str]


def stand_in_findings(context: PlanContext) -> list[StandInFinding]:
    """Every successful call of a foreign tool mapped to a capability, with the evidence it returned."""
    specs = {spec.name: spec for spec in context.tools}
    found: list[StandInFinding] = []
    for outcome in context.outcomes:
        spec = specs.get(outcome.tool)
        if spec is None or spec.server == OWN_SERVER or spec.capability is None or not outcome.ok:
            continue
        rows = _rows(outcome.structured)
        found.append(
            StandInFinding(
                capability=spec.capability,
                tool=spec.name,
                rows=len(rows),
                excerpt=[_line(row) for row in rows[:EXCERPT_ROWS]],
                evidence_ids=[evidence.id for evidence in outcome.evidence],
            )
        )
    return found


def stand_in_claim(finding: StandInFinding) -> Claim | None:
    """One claim saying what a stand-in returned, citing its evidence; None when it returned no evidence."""
    if not finding.evidence_ids:
        return None
    shown = "; ".join(f"`{line}`" for line in finding.excerpt if line)
    text = (
        f"No provider of ours serves {finding.capability}s here, so {finding.tool} was asked instead: "
        f"{finding.rows} {'row' if finding.rows == 1 else 'rows'}"
        + (f", such as {shown}" if shown else "")
        + "."
    )
    return Claim(text=text, evidence_ids=finding.evidence_ids[:5])


def _rows(structured: Any) -> list[Any]:
    if isinstance(structured, list):
        return structured
    if isinstance(structured, dict):
        for key in ("entries", "items", "results", "data"):
            if isinstance(structured.get(key), list):
                return list(structured[key])
        return [structured]
    return []


def _line(row: Any) -> str:
    if isinstance(row, dict):
        for key in ("message", "title", "body", "name", "id"):
            if isinstance(row.get(key), str) and row[key]:
                return " ".join(str(row[key]).split())[:120]
    return ""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
