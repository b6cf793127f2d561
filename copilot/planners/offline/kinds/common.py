"""What several question kinds read the same way: the services a question is about, and each service's state now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from copilot.answer import EvidenceKind
from copilot.evidence import evidence_id
from copilot.planners.offline.questions import question_of
from copilot.planners.offline.ranking import is_trouble, read_signal
from copilot.planners.offline.readings import Findings, Signal
from copilot.planners.offline.report import anomaly_id
from copilot.planners.offline.rounds import asked_incident
from copilot.planners.offline.scope import named_services
from copilot.planning import PlanContext
from core_client.schemas import Alert, Incident
from core_client.schemas.analysis import MetricAnomaly
from core_client.units import anomaly_reading

# Traffic this far under its normal, or this share of requests failing, is a service that is down, not degraded.
DOWN_TRAFFIC_SHARE = 0.1
DOWN_ERROR_SHARE = 0.5
PERCENT_UNITS = frozenset({"%", "percent"})
RATIO_UNITS = frozenset({"ratio", "fraction", "1"})

Health = Literal["healthy", "degraded", "down"]


def asked_services(context: PlanContext, findings: Findings) -> list[str]:
    """The services the question is about, as graph keys: those it names; else the page's; else its incident's;
    else the previous answer's root cause."""
    graph = findings.graph
    named = named_services(question_of(context).wording, graph)
    if named:
        return [graph.key(name) for name in named]
    wanted = asked_incident(context)
    incident = next((i for i in findings.incidents if wanted and i.id.lower() == wanted.lower()), None)
    earlier = [
        turn.answer.root_cause.service
        for turn in reversed(context.conversation)
        if turn.answer is not None and turn.answer.root_cause is not None
    ]
    for candidate in (context.page.service, incident.service if incident else None, *earlier[:1]):
        if candidate:
            return [graph.key(candidate)]
    return []


@dataclass
class ServiceState:
    """A service's state now: what is off its baseline (and what was, and came back), what fires, what is open."""

    service: str
    # What people call it (the catalog's name), for answer text; ``service`` is its graph key.
    label: str = ""
    trouble: list[MetricAnomaly] = field(default_factory=list)
    recovered: list[MetricAnomaly] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    # Whether its metrics were compared with their baselines at all (the anomaly scan answered).
    scanned: bool = True

    @property
    def health(self) -> Health:
        """Down or degraded by what its metrics show or an open incident says; an alert alone, while every metric
        is within its baseline, is an alert to mention (a flapping or noisy rule), not a degraded service."""
        if any(_down(a) for a in self.trouble):
            return "down"
        if self.trouble or self.incidents or (self.alerts and not self.scanned):
            return "degraded"
        return "healthy"

    @property
    def since(self) -> datetime | None:
        """When its current trouble began (the earliest onset, alert or incident)."""
        moments = [a.onset for a in self.trouble] + [
            t for t in (*(a.created_at for a in self.alerts), *(i.created_at for i in self.incidents)) if t
        ]
        return min(moments, default=None)

    def evidence_ids(self, findings: Findings) -> list[str]:
        """What shows its trouble, as this run's evidence ids."""
        return findings.cited(
            *(anomaly_id(a) for a in self.trouble),
            *(evidence_id(EvidenceKind.ALERT, a.id) for a in self.alerts),
            *(evidence_id(EvidenceKind.INCIDENT, i.id) for i in self.incidents),
        )


def state_of(findings: Findings, service: str) -> ServiceState:
    """``service``'s state from the run's anomaly scan, firing alerts and open incidents."""
    key = findings.graph.key
    report = findings.anomalies
    state = ServiceState(service, label=findings.graph.label(service), scanned=report is not None)
    for anomaly in report.anomalies if report else []:
        if key(anomaly.service) == service and is_trouble(anomaly):
            (state.trouble if anomaly.ongoing else state.recovered).append(anomaly)
    state.trouble.sort(key=lambda a: -abs(a.peak_z))
    state.alerts = [a for a in findings.firing_alerts() if a.service and key(a.service) == service]
    state.incidents = [i for i in findings.active_incidents() if i.service and key(i.service) == service]
    return state


def _down(anomaly: MetricAnomaly) -> bool:
    """Traffic all but gone, or most requests failing."""
    signal = read_signal(anomaly)
    if signal is Signal.TRAFFIC and anomaly.direction == "down":
        return anomaly.peak_value <= DOWN_TRAFFIC_SHARE * anomaly.expected_at_peak
    if signal is Signal.ERRORS and anomaly.direction == "up":
        unit = anomaly.unit.strip().lower()
        if unit in PERCENT_UNITS:
            return anomaly.peak_value >= DOWN_ERROR_SHARE * 100
        if unit in RATIO_UNITS and anomaly.peak_value <= 1:
            return anomaly.peak_value >= DOWN_ERROR_SHARE
    return False


def named_reading(anomaly: MetricAnomaly) -> str:
    """An anomaly's reading led by its metric's name, said once: ``error_rate 14.3% errors, normally 0.14%``, and
    ``http_errors_total 12 errors/s, normally 0.2`` where the reading already names it."""
    reading = anomaly_reading(anomaly)
    return reading if reading.startswith(f"{anomaly.name} ") else f"{anomaly.name} {reading}"
