"""Two naive planners the evals score beside the investigator, so a high score means investigating.

Both read through the same tools as the investigator (the context round, then the metric departures) and name a
fault kind from the single strongest departure of the service they blame; neither ranks over the dependency graph,
looks for changes or tells a decoy from a cause.

- :class:`NamedServiceBaseline` blames the service the question names (else the incident's).
- :class:`MostErrorsBaseline` blames the service that logged the most errors after the onset.
"""

from __future__ import annotations

from datetime import datetime

from copilot.answer import Answer, Claim, EvidenceKind, RootCause
from copilot.evidence import evidence_id
from copilot.planners.offline.ranking import ERROR_SEVERITIES, STRONG_Z, read_signal, symptoms_by_service
from copilot.planners.offline.readings import Findings, Signal, read_findings
from copilot.planners.offline.report import anomaly_id
from copilot.planners.offline.rounds import (
    advance,
    context_round,
    incident_of,
    patterns_request,
    signals_round,
    stage_of,
)
from copilot.planners.offline.scope import named_services
from copilot.planning import CallTools, Evaluation, Finish, Plan, PlanContext, ToolRequest
from core_client.schemas.analysis import MetricAnomaly
from core_client.units import anomaly_reading

# The kind a single departing signal suggests, read naively.
NAIVE_KINDS: dict[tuple[Signal, str], str] = {
    (Signal.ERRORS, "up"): "bad_deploy",
    (Signal.LATENCY, "up"): "latency_injection",
    (Signal.TRAFFIC, "up"): "traffic_spike",
    (Signal.TRAFFIC, "down"): "dependency_outage",
    (Signal.CPU, "up"): "cpu_saturation",
    (Signal.MEMORY, "up"): "memory_leak",
    (Signal.RESTARTS, "up"): "memory_leak",
    (Signal.DISK, "up"): "disk_full",
    (Signal.POOL, "up"): "connection_pool_exhaustion",
    (Signal.CERTIFICATE, "down"): "certificate_expiry",
}
DEFAULT_KIND = "bad_deploy"


def naive_kind(anomaly: MetricAnomaly | None) -> str:
    """The fault kind the one departing signal suggests on its own."""
    if anomaly is None:
        return DEFAULT_KIND
    return NAIVE_KINDS.get((read_signal(anomaly), anomaly.direction), DEFAULT_KIND)


def strongest(findings: Findings, service: str) -> MetricAnomaly | None:
    """The service's strongest departure in the run's anomaly report."""
    report = findings.anomalies
    mine = [a for a in report.anomalies if findings.graph.key(a.service) == service] if report else []
    return max(mine, key=lambda a: abs(a.peak_z), default=None)


def blame(findings: Findings, service: str | None, why: str, why_ids: list[str]) -> Answer:
    """An answer that blames ``service`` with the kind its strongest departure suggests."""
    if service is None:
        return Answer(summary="No service to blame.", missing=["nothing named and nothing logged errors"])
    top = strongest(findings, service)
    claims = [Claim(text=why, evidence_ids=findings.cited(*why_ids))]
    if top is not None:
        claims.append(
            Claim(text=f"{service}: {anomaly_reading(top)}.", evidence_ids=findings.cited(anomaly_id(top)))
        )
    kind = naive_kind(top)
    return Answer(
        summary=f"{service} is to blame ({kind}).",
        claims=[c for c in claims if c.evidence_ids],
        root_cause=RootCause(service=service, fault_kind=kind),
        confidence=0.3,
    )


class _Baseline:
    """Context round, metric departures, an optional last round; then blame."""

    name = "baseline"
    memory_key = "baseline"

    async def plan(self, context: PlanContext) -> Plan:
        stage = stage_of(context, self.memory_key)
        while stage < 3:
            calls = self._round(stage, context, read_findings(context))
            stage += 1
            advance(context, self.memory_key, stage)
            if calls:
                return CallTools(calls=calls, thought=f"{self.name}: round {stage}")
        return Finish(answer=self.blame(context, read_findings(context)))

    async def evaluate(self, context: PlanContext) -> Evaluation:
        if stage_of(context, self.memory_key) >= 3:
            return Evaluation(verdict="done", answer=self.blame(context, read_findings(context)))
        return Evaluation(verdict="continue")

    def _round(self, stage: int, context: PlanContext, findings: Findings) -> list[ToolRequest]:
        if stage == 0:
            return context_round(context)
        if stage == 1:
            return signals_round(context, findings)
        return self.last_round(context, findings)

    def last_round(self, context: PlanContext, findings: Findings) -> list[ToolRequest]:
        return []

    def blame(self, context: PlanContext, findings: Findings) -> Answer:
        raise NotImplementedError


class NamedServiceBaseline(_Baseline):
    """Blame the service named in the question (else the incident's service)."""

    name = "named-service"
    memory_key = "named-service"

    def blame(self, context: PlanContext, findings: Findings) -> Answer:
        named = named_services(context.question, findings.graph)
        if named:
            return blame(
                findings,
                named[0],
                f"The question names {named[0]}.",
                [evidence_id(EvidenceKind.SERVICE, named[0])],
            )
        incident = incident_of(context, findings)
        service = incident.service if incident is not None and incident.service else None
        ids = [evidence_id(EvidenceKind.INCIDENT, incident.id)] if incident is not None else []
        return blame(findings, service, f"The open incident is about {service}.", ids)


class MostErrorsBaseline(_Baseline):
    """Blame the service that logged the most error lines after the onset."""

    name = "most-errors"
    memory_key = "most-errors"

    def last_round(self, context: PlanContext, findings: Findings) -> list[ToolRequest]:
        call = patterns_request(context, findings, _onset(findings, context), sorted(ERROR_SEVERITIES))
        return [call] if call is not None else []

    def blame(self, context: PlanContext, findings: Findings) -> Answer:
        counts: dict[str, float] = {}
        cited: dict[str, list[str]] = {}
        for change in findings.patterns.changes if findings.patterns else []:
            errors = sum(n for severity, n in change.by_severity.items() if severity in ERROR_SEVERITIES)
            for service in change.services:
                # A pattern several services log is split evenly among them.
                counts[service] = counts.get(service, 0.0) + errors / max(1, len(change.services))
                cited.setdefault(service, []).append(evidence_id(EvidenceKind.LOG_PATTERN, change.id))
        if not counts:
            return blame(findings, None, "", [])
        service, most = max(sorted(counts.items()), key=lambda item: item[1])
        return blame(
            findings,
            service,
            f"{service} logged the most errors since the onset ({most:.0f}).",
            cited[service],
        )


def _onset(findings: Findings, context: PlanContext) -> datetime:
    """The first strong departure in the report, or the start of its window."""
    onsets = [s.onset for s in symptoms_by_service(findings).values() if s.onset is not None]
    if onsets:
        return min(onsets)
    report = findings.anomalies
    strong = [a.onset for a in report.anomalies if abs(a.peak_z) >= STRONG_Z] if report else []
    return min(strong) if strong else context.now
