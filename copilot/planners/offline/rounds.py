"""The reads an offline planner makes, round by round, and the small bookkeeping of which round it is in.

Shared by the investigator and the naive baselines the evals score beside it, so both see the data through the
very same calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from copilot.planners.offline.questions import incident_named
from copilot.planners.offline.readings import Findings, own_tool
from copilot.planners.offline.scope import read_scope
from copilot.planning import PlanContext, ToolRequest
from core_client.analysis.signals import Signal as MetricSignal
from core_client.schemas import Incident

# The metrics are compared with the same length of time just before the window, at one-minute steps.
SIGNAL_WINDOW = timedelta(minutes=90)
LONGEST_WINDOW = timedelta(hours=4)
SIGNAL_LEAD = timedelta(minutes=30)
# Results are cut to the MCP budget (20 KB by default): about 35 anomalies fit, so ask for fewer.
ANOMALY_LIMIT = 30
RESOURCE_ANOMALY_LIMIT = 20
SERVING_SIGNALS = frozenset({MetricSignal.ERRORS, MetricSignal.LATENCY, MetricSignal.TRAFFIC})
RESOURCE_SIGNALS = frozenset(MetricSignal) - SERVING_SIGNALS
PATTERN_LIMIT = 25
PATTERN_LEAD = timedelta(minutes=3)
PATTERN_HISTORY_HOURS = 3
WARNINGS_AND_WORSE = ["warn", "warning", "error", "fatal", "critical"]
# One round of a question kind: from what the run found so far, the calls to make next (concurrently).
Round = Callable[[PlanContext, Findings], list[ToolRequest]]


def stage_of(context: PlanContext, key: str) -> int:
    """The round a planner keeping its memory under ``key`` has reached (0 before the first)."""
    memory = context.memory.get(key)
    return int(memory.get("stage", 0)) if isinstance(memory, dict) else 0


def advance(context: PlanContext, key: str, stage: int) -> None:
    """Record that the planner under ``key`` is now at round ``stage`` (the runner persists memory)."""
    memory = context.memory.setdefault(key, {})
    memory["stage"] = stage


def request(context: PlanContext, tool: str, reason: str, **arguments: Any) -> ToolRequest | None:
    """A call of OpsPilot's ``tool`` under the run's name for it; None when the run does not have it."""
    spec = own_tool(context.tools, tool)
    if spec is None:
        return None
    clean = {k: v for k, v in arguments.items() if v is not None}
    return ToolRequest(tool=spec.name, arguments=clean, reason=reason)


def iso(value: datetime) -> str:
    """A time as the tools take it: ISO-8601 UTC with a ``Z``."""
    return value.isoformat().replace("+00:00", "Z")


def clock_note(context: PlanContext) -> str | None:
    """Which clock the investigation's times are on, and the sources left out for keeping another one."""
    if not context.clocks_apart:
        return None
    others = "; ".join(c.describe() for c in context.clocks_apart)
    return (
        f"times are the live sources' clock (now {context.now:%Y-%m-%d %H:%M} UTC); not read over them, "
        f"since their sources keep a clock of their own: {others}"
    )


def asked_incident(context: PlanContext) -> str | None:
    """The incident the run is about by id: the page's, else one the question names ("INC-6013")."""
    return context.page.incident_id or incident_named(context.question)


def incident_of(context: PlanContext, findings: Findings, named: tuple[str, ...] = ()) -> Incident | None:
    """The page's (or the question's) incident; else the newest open one about a named service; else the newest
    open one. None when incidents come from a source on another clock: they are not of this investigation's time."""
    if context.clock_apart("incident"):
        return None
    wanted = asked_incident(context)
    if wanted:
        chosen = next((i for i in findings.incidents if i.id.lower() == wanted.lower()), None)
        if chosen is not None:
            return chosen
    active = findings.active_incidents()
    about = [i for i in active if i.service in named]
    return next(iter(about or active), None)


def environment_of(context: PlanContext, findings: Findings) -> str | None:
    """The page's environment, else the incident's."""
    if context.page.environment:
        return context.page.environment
    incident = incident_of(context, findings)
    value = incident.fields.get("environment") if incident is not None else None
    return str(value) if value else None


def context_round(context: PlanContext) -> list[ToolRequest]:
    """The service graph, open incidents, firing alerts, the metric catalog and the page's (or question's)
    incident."""
    calls = [
        request(context, "query_services", "the dependency graph", limit=100),
        request(context, "query_incidents", "what is open", limit=10),
        request(context, "query_alerts", "what is firing", statuses=["firing"], limit=30),
        request(context, "describe_metrics", "which metrics exist"),
    ]
    wanted = asked_incident(context)
    if wanted:
        calls.append(request(context, "get_incident", "the incident asked about", incident_id=wanted))
    return [c for c in calls if c is not None]


def signals_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """Which series left their baseline, and when, over a window that covers the incident.

    What callers feel (errors, latency, traffic) and what resources do (CPU, memory, disk, pools...) are asked
    for separately, so a resource's departure is never crowded out of a bounded result by latency quantiles.
    Both are asked by signal, not by name: the scan reads every metric the source has, while the catalog the
    context round read is cut to one result's budget.
    """
    since = window_start(context, findings)
    groups = ((SERVING_SIGNALS, ANOMALY_LIMIT), (RESOURCE_SIGNALS, RESOURCE_ANOMALY_LIMIT))
    calls = [
        request(
            context,
            "detect_metric_anomalies",
            "where and when series left their baseline",
            signals=sorted(signals),
            since=iso(since),
            until=iso(context.now),
            reference_hours=round((context.now - since).total_seconds() / 3600, 3),
            environment=environment_of(context, findings),
            limit=limit,
        )
        for signals, limit in groups
    ]
    # A source may serve a service's series only when asked for that service (an OpsOrch Core's metric plugin
    # answers an unscoped query with each metric's one home service): the service in question and what it calls
    # are read by name too, so their departures are seen and none of them is called healthy unread.
    for service in focus_services(context, findings):
        calls.append(
            request(
                context,
                "detect_metric_anomalies",
                f"where and when {findings.graph.label(service)}'s own series left their baseline",
                service=service,
                since=iso(since),
                until=iso(context.now),
                reference_hours=round((context.now - since).total_seconds() / 3600, 3),
                environment=environment_of(context, findings),
                limit=RESOURCE_ANOMALY_LIMIT,
            )
        )
    return [c for c in calls if c is not None]


def window_start(context: PlanContext, findings: Findings) -> datetime:
    """The last 90 minutes, stretched back to half an hour before the incident (at most four hours).

    The page's time range is not used: a wide range (a day, a week) would dilute the baseline the departures
    are measured against, and the incident says better when trouble began.
    """
    start = context.now - SIGNAL_WINDOW
    incident = incident_of(context, findings, read_scope(context.question, findings.graph).named)
    if incident is not None and incident.created_at is not None:
        start = min(start, incident.created_at - SIGNAL_LEAD)
    return max(start, context.now - LONGEST_WINDOW)


def patterns_request(
    context: PlanContext, findings: Findings, onset: datetime, severities: list[str]
) -> ToolRequest | None:
    """Log patterns new or grown since just before ``onset``, against the hours before it (not asked of logs on
    another clock)."""
    if context.clock_apart("log"):
        return None
    return request(
        context,
        "compare_log_patterns",
        "what the logs started saying when trouble began",
        since=iso(onset - PATTERN_LEAD),
        before_hours=PATTERN_HISTORY_HOURS,
        until=iso(context.now),
        severities=severities,
        environment=environment_of(context, findings),
        limit=PATTERN_LIMIT,
    )


def focus_services(context: PlanContext, findings: Findings) -> list[str]:
    """The service the run is about (the asked incident's, else the page's, else the one the question names first)
    and the services it calls directly, by the graph's keys; none when the run is about no one service."""
    graph = findings.graph
    incident = incident_of(context, findings) if asked_incident(context) else None
    named = read_scope(context.question, graph).named
    focus = (
        (incident.service if incident is not None else None)
        or context.page.service
        or next(iter(named), None)
    )
    if not focus:
        return []
    key = graph.key(focus)
    return [key, *graph.dependencies_of(key)]
