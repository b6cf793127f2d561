"""What kind of fault the root has, from the mix of its evidence: which signal moved, which change preceded it,
which log lines appeared, and whether the root is a third party that logs nothing of its own.

Resource signals are read first, since they name a mechanism (a full disk, an exhausted pool, a leak, a surge, a
saturated CPU, an expired certificate); a deployment or configuration change just before the onset comes next;
then an outage of a service seen only through its callers; then latency or errors alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from copilot.planners.offline.graph import ServiceNode
from copilot.planners.offline.ranking import STRONG_Z, blamed_by, is_resource_trouble, own_services
from copilot.planners.offline.readings import Findings, Signal, signal_of
from core_client.schemas import Deployment, MetricSeries
from core_client.schemas.analysis import MetricAnomaly, PatternChange

# A change is a suspect when it started at most this long before the onset (or within the slack after it)...
CHANGE_LEAD = timedelta(minutes=20)
CHANGE_SLACK = timedelta(minutes=2)
# ...and a resource departure belongs to the fault when it began within these bounds of the onset.
RESOURCE_LEAD = timedelta(minutes=45)
RESOURCE_LAG = timedelta(minutes=15)
# A certificate this close to expiry (in days) no longer serves.
CERTIFICATE_DAYS = 1.0
# A pattern that began this long before the onset predates the trouble.
PREDATES = timedelta(minutes=5)

RESOURCE_KINDS: tuple[tuple[Signal, str, str], ...] = (
    (Signal.DISK, "up", "disk_full"),
    (Signal.POOL, "up", "connection_pool_exhaustion"),
    (Signal.MEMORY, "up", "memory_leak"),
    (Signal.RESTARTS, "up", "memory_leak"),
    (Signal.TRAFFIC, "up", "traffic_spike"),
    (Signal.CPU, "up", "cpu_saturation"),
)


@dataclass
class Diagnosis:
    """The fault kind and what points at it."""

    fault_kind: str
    anomalies: list[MetricAnomaly] = field(default_factory=list)
    change: Deployment | None = None
    certificate: MetricSeries | None = None
    own_patterns: list[PatternChange] = field(default_factory=list)
    complaints: list[PatternChange] = field(default_factory=list)
    specific: bool = True


def is_config(deployment: Deployment) -> bool:
    """A configuration change rather than new code."""
    change = str(deployment.fields.get("change") or deployment.fields.get("type") or "").lower()
    return change == "config" or "configMap" in deployment.fields or "config" in deployment.version.lower()


def suspect_change(findings: Findings, service: str, onset: datetime) -> Deployment | None:
    """The change to ``service`` that started closest before ``onset``, within :data:`CHANGE_LEAD`."""
    near = [
        d
        for d in findings.deployments
        if d.service == service
        and d.started_at is not None
        and onset - CHANGE_LEAD <= d.started_at <= onset + CHANGE_SLACK
    ]
    return max(near, key=lambda d: d.started_at or onset, default=None)


def new_patterns(findings: Findings, onset: datetime) -> list[PatternChange]:
    """Patterns that began with the trouble (not before it), most lines first."""
    if findings.patterns is None:
        return []
    fresh = [c for c in findings.patterns.changes if c.first_seen >= onset - PREDATES]
    return sorted(fresh, key=lambda c: -c.count_after)


def diagnose(findings: Findings, root: str, onset: datetime, anomalies: list[MetricAnomaly]) -> Diagnosis:
    """The fault kind of ``root``, whose trouble began at ``onset``; ``anomalies`` are its strong departures."""
    fresh = new_patterns(findings, onset)
    own = [c for c in fresh if root in own_services(c, findings.graph)]
    complaints = [c for c in fresh if root in blamed_by(c, findings.graph)]
    found = _classify(
        findings,
        root,
        onset,
        [a for a in anomalies if findings.graph.key(a.service) == root],
        bool(own),
        bool(complaints),
    )
    found.own_patterns = own
    found.complaints = complaints
    return found


def _classify(
    findings: Findings, root: str, onset: datetime, mine: list[MetricAnomaly], logs_own: bool, blamed: bool
) -> Diagnosis:
    certificate = _certificate(findings, root)
    if certificate is not None:
        return Diagnosis("certificate_expiry", certificate=certificate)
    nearby = [
        a
        for a in mine
        if abs(a.peak_z) >= STRONG_Z and onset - RESOURCE_LEAD <= a.onset <= onset + RESOURCE_LAG
    ]
    # What is still going on first: a resource that has recovered is not what holds the service back now.
    for candidates in ([a for a in nearby if a.ongoing], nearby):
        for signal, direction, kind in RESOURCE_KINDS:
            moved = [a for a in candidates if _moved(a, signal, direction)]
            if moved:
                return Diagnosis(kind, anomalies=moved)
    change = suspect_change(findings, root, onset)
    if change is not None:
        kind = "config_change" if is_config(change) else "bad_deploy"
        return Diagnosis(kind, anomalies=_serving(mine), change=change)
    if findings.graph.nodes.get(root, ServiceNode(root)).external or (blamed and not logs_own):
        return Diagnosis("dependency_outage", anomalies=_serving(mine))
    latency = _strongest(mine, Signal.LATENCY)
    errors = _strongest(mine, Signal.ERRORS)
    if latency is not None and (errors is None or abs(latency.peak_z) >= abs(errors.peak_z)):
        return Diagnosis("latency_injection", anomalies=[latency])
    # Errors with no change, resource or outage behind them: most often a release nobody recorded.
    return Diagnosis("bad_deploy", anomalies=_serving(mine), specific=False)


def _moved(anomaly: MetricAnomaly, signal: Signal, direction: str) -> bool:
    """Whether ``anomaly`` is ``signal`` moving ``direction`` by its name, or (for a resource) the signal its
    source read it as, going the worse way: free disk space falling is the disk filling up."""
    if signal_of(anomaly.name) is signal and anomaly.direction == direction:
        return True
    return signal is not Signal.TRAFFIC and is_resource_trouble(anomaly) and anomaly.signal == signal.value


def _certificate(findings: Findings, root: str) -> MetricSeries | None:
    for series in findings.series:
        certificate = (
            findings.graph.key(series.service) == root and signal_of(series.name) is Signal.CERTIFICATE
        )
        if certificate and series.points and series.points[-1].value <= CERTIFICATE_DAYS:
            return series
    return None


def _serving(anomalies: list[MetricAnomaly]) -> list[MetricAnomaly]:
    return [a for a in anomalies if signal_of(a.name) in (Signal.ERRORS, Signal.LATENCY, Signal.TRAFFIC)]


def _strongest(anomalies: list[MetricAnomaly], signal: Signal) -> MetricAnomaly | None:
    found = [a for a in anomalies if signal_of(a.name) is signal and a.direction == "up"]
    return max(found, key=lambda a: abs(a.peak_z), default=None)
