"""What a run's tool calls returned, read back into typed objects: the one place that knows result shapes.

The investigator never keeps state of its own between steps; every step reads the outcomes again from the
:class:`~copilot.planning.PlanContext`. A call that failed is remembered as a failure, so the answer can say what
could not be checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from copilot.answer import Evidence
from copilot.evidence import OWN_SERVER
from copilot.planners.offline.graph import ServiceGraph
from copilot.planning import PlanContext, ToolOutcome, ToolSpec
from copilot.stand_ins import says_lacking
from core_client.clock import SourceClock
from core_client.schemas import (
    Alert,
    Deployment,
    Incident,
    LogEntry,
    MetricDescriptor,
    MetricSeries,
    OnCallShift,
    Runbook,
    Team,
    TeamMember,
    TimelineEntry,
)
from core_client.schemas.analysis import MetricAnomaly, MetricAnomalyReport, PatternComparison

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", Incident, Alert, Deployment, Runbook)
CLOSED_STATUSES = frozenset({"resolved", "closed", "done", "cancelled", "canceled"})


class Signal(StrEnum):
    """What a metric measures, read from its name, so any provider's metrics can be interpreted."""

    ERRORS = "errors"
    LATENCY = "latency"
    TRAFFIC = "traffic"
    CPU = "cpu"
    MEMORY = "memory"
    RESTARTS = "restarts"
    DISK = "disk"
    POOL = "pool"
    CERTIFICATE = "certificate"
    OTHER = "other"


# Name fragments per signal, most specific first (``db_pool_in_use`` is a pool, not a "use").
_SIGNAL_WORDS: tuple[tuple[Signal, tuple[str, ...]], ...] = (
    (Signal.CERTIFICATE, ("cert", "tls", "ssl")),
    (Signal.POOL, ("pool", "connections")),
    (Signal.DISK, ("disk", "volume", "filesystem", "inode")),
    (Signal.RESTARTS, ("restart", "oom")),
    (Signal.MEMORY, ("memory", "heap", "rss")),
    (Signal.CPU, ("cpu",)),
    (Signal.ERRORS, ("error", "5xx", "fail")),
    (Signal.LATENCY, ("latency", "duration", "response_time")),
    (Signal.TRAFFIC, ("request", "rps", "throughput", "traffic")),
)


def signal_of(metric: str) -> Signal:
    """The signal a metric name stands for (``error_rate`` -> errors, ``db_pool_in_use`` -> pool...)."""
    name = metric.lower()
    return next((signal for signal, parts in _SIGNAL_WORDS if any(p in name for p in parts)), Signal.OTHER)


@dataclass(frozen=True)
class Failure:
    """A call that did not work: which tool, and what it said."""

    tool: str
    error: str

    @property
    def unserved(self) -> bool:
        """Whether the source simply does not serve what the tool reads (a core without a log plugin, a catalog
        without runbooks): nothing went wrong."""
        return says_lacking(self.error)


@dataclass(frozen=True)
class Staffing:
    """A team as ``get_team`` returns it: who is in it and who is on call now, by escalation level."""

    team: Team
    members: tuple[TeamMember, ...] = ()
    oncall: tuple[OnCallShift, ...] = ()


@dataclass
class Findings:
    """Everything the run's calls returned so far, by what it is."""

    graph: ServiceGraph = field(default_factory=ServiceGraph)
    incidents: list[Incident] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    metric_names: set[str] = field(default_factory=set)
    # The unit each metric's descriptor declares, by name (a series' points carry none).
    metric_units: dict[str, str] = field(default_factory=dict)
    anomalies: MetricAnomalyReport | None = None
    patterns: PatternComparison | None = None
    # Comparisons asked for one service (around a change to it, over a window asked about), by that service as the
    # call named it: they never replace the comparison over every service above.
    service_patterns: dict[str, PatternComparison] = field(default_factory=dict)
    log_lines: list[LogEntry] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)
    runbooks: list[Runbook] = field(default_factory=list)
    teams: list[Staffing] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # Tools whose source was read only up to its cap (Page.truncated): what they found is not all there is.
    capped: list[str] = field(default_factory=list)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    # The log source's own clock when it keeps another time than the investigation's (a frozen demo beside a live
    # Prometheus): its lines are of that time, so none of the services' recent lines are there.
    log_clock: SourceClock | None = None

    def cited(self, *ids: str) -> list[str]:
        """Those of ``ids`` that a call of this run returned (so they may be cited), in order, once each."""
        return list(dict.fromkeys(i for i in ids if i in self.evidence))

    def active_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, newest first."""
        live = [i for i in self.incidents if i.status.lower() not in CLOSED_STATUSES]
        return sorted(live, key=lambda i: (i.created_at is not None, i.created_at), reverse=True)

    def firing_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.status.lower() in ("firing", "active", "open", "triggered")]


def own_tool(tools: list[ToolSpec], tool: str) -> ToolSpec | None:
    """OpsPilot's own ``tool`` (by its bare name) among the run's tools."""
    return next((s for s in tools if s.server == OWN_SERVER and s.tool == tool), None)


def read_findings(context: PlanContext) -> Findings:
    """The findings of every call of the run so far (later calls of a tool add to or replace earlier ones)."""
    specs = {spec.name: spec for spec in context.tools}
    findings = Findings(
        evidence={e.id: e for e in context.evidence},
        log_clock=context.clock_apart("log"),
    )
    for outcome in context.outcomes:
        spec = specs.get(outcome.tool)
        if spec is None or spec.server != OWN_SERVER:
            continue
        if not outcome.ok:
            findings.failures.append(Failure(spec.tool, outcome.error or "failed without saying why"))
            continue
        structured = outcome.structured
        if (
            isinstance(structured, dict)
            and structured.get("truncated") is True
            and spec.tool not in findings.capped
        ):
            findings.capped.append(spec.tool)
        _read(findings, spec.tool, outcome)
    _by_key(findings)
    return findings


def _by_key(findings: Findings) -> None:
    """Incidents, alerts, deployments and runbooks name their service by its graph key, however their provider
    referenced it (an id, a name, an alias), so they compare equal to the graph's nodes. Their evidence is cited
    by their own ids, which this leaves alone; metric series and anomalies keep their reference, which their
    evidence ids are made of, and are compared through :meth:`ServiceGraph.key`."""
    key = findings.graph.key
    findings.incidents = [_keyed(i, key) for i in findings.incidents]
    findings.alerts = [_keyed(a, key) for a in findings.alerts]
    findings.deployments = [_keyed(d, key) for d in findings.deployments]
    findings.runbooks = [_keyed(r, key) for r in findings.runbooks]


def _keyed(record: R, key: Callable[[str], str]) -> R:
    service = getattr(record, "service", "")
    if not service or key(service) == service:
        return record
    return record.model_copy(update={"service": key(service)})


def _read(findings: Findings, tool: str, outcome: ToolOutcome) -> None:
    data = outcome.structured
    if tool == "query_services":
        findings.graph = ServiceGraph.from_rows(_rows(data))
    elif tool in ("query_incidents", "get_incident"):
        known = {i.id for i in findings.incidents}
        findings.incidents += [i for i in _parsed(data, Incident) if i.id not in known]
    elif tool == "query_alerts":
        findings.alerts += _parsed(data, Alert)
    elif tool == "describe_metrics":
        descriptors = _parsed(data, MetricDescriptor)
        findings.metric_names |= {d.name for d in descriptors}
        findings.metric_units |= {d.name: d.unit for d in descriptors if d.unit}
    elif tool == "detect_metric_anomalies":
        report = _one(data, MetricAnomalyReport)
        if report is not None:
            findings.anomalies = report if findings.anomalies is None else _merged(findings.anomalies, report)
    elif tool == "compare_log_patterns":
        comparison = _one(data, PatternComparison)
        scoped = outcome.arguments.get("service")
        if scoped and comparison is not None:
            findings.service_patterns[str(scoped)] = comparison
        else:
            findings.patterns = comparison
    elif tool == "search_logs":
        findings.log_lines += _parsed(data, LogEntry)
    elif tool == "get_incident_timeline":
        known = {entry.id for entry in findings.timeline}
        findings.timeline += [e for e in _parsed(data, TimelineEntry) if e.id not in known]
    elif tool == "query_deployments":
        known = {d.id for d in findings.deployments}
        findings.deployments += [d for d in _parsed(data, Deployment) if d.id not in known]
    elif tool == "query_metrics":
        findings.series += _parsed(data, MetricSeries)
    elif tool == "get_runbook":
        findings.runbooks += _parsed(data, Runbook)
    elif tool == "get_team":
        staffing = _staffing(data)
        if staffing is not None:
            findings.teams.append(staffing)


def _staffing(data: Any) -> Staffing | None:
    if not isinstance(data, dict):
        return None
    team = _one(data.get("team"), Team)
    if team is None:
        return None
    members = tuple(_parsed({"items": data.get("members") or []}, TeamMember))
    oncall = tuple(_parsed({"items": data.get("oncall") or []}, OnCallShift))
    return Staffing(team, members, tuple(sorted(oncall, key=lambda s: s.escalation_level)))


def _merged(first: MetricAnomalyReport, second: MetricAnomalyReport) -> MetricAnomalyReport:
    """Two reports as one: every anomaly, strongest first, over both windows. A series both found (a scan of every
    series and one of its service's own) is kept once."""
    series: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricAnomaly] = {}
    for anomaly in [*first.anomalies, *second.anomalies]:
        series.setdefault((anomaly.service, anomaly.name, tuple(sorted(anomaly.labels.items()))), anomaly)
    anomalies = sorted(series.values(), key=lambda a: -abs(a.peak_z))
    return first.model_copy(
        update={
            "detect_start": min(first.detect_start, second.detect_start),
            "detect_end": max(first.detect_end, second.detect_end),
            "series_checked": first.series_checked + second.series_checked,
            "series_skipped": first.series_skipped + second.series_skipped,
            "anomalies": anomalies,
            "truncated": first.truncated or second.truncated,
        }
    )


def _rows(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return list(data["items"])
    return [data] if data is not None else []


def _parsed(data: Any, model: type[M]) -> list[M]:
    parsed: list[M] = []
    for row in _rows(data):
        try:
            parsed.append(model.model_validate(row))
        except ValidationError:
            continue
    return parsed


def _one(data: Any, model: type[M]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None
