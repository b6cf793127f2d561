"""Evidence from tool results: what a claim can cite, with a short excerpt and a link into the console.

:func:`extract_evidence` turns one :class:`ToolOutcome` into :class:`Evidence` items whose ids (``<kind>:<ref>``)
are stable within a run, so a planner can cite them and the citation validator can check them.

OpsPilot's own tools are read by shape: an incident, an alert, a log line, a log pattern, a metric anomaly or
series, a deployment, a ticket, a service, a team with who is on call, a runbook, a file. Tools that describe
rather than report (metric descriptors, lists of teams, providers) yield nothing to cite. Every item carries a
short ``label`` saying what it is ("orders-api error_rate", "log: timeout acquiring connection…").

A foreign server's tool is read generically: the kind comes from the nouns in the tool's name (``query-incidents``
gives ``incident``, ``get_logs`` gives ``log``...), and a result whose tool names none of them is kept as
``file`` evidence, the kind for an opaque document: its excerpt is the result itself, cut short, and it has no
console link. Each item of a foreign list becomes one piece of evidence when it has an ``id``; otherwise the whole
result is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from copilot.answer import LABEL_CHARS, Evidence, EvidenceKind
from copilot.planning import ToolOutcome, ToolSpec
from core_client.analysis.semantics import read_as_gauge
from core_client.analysis.variables import without_placeholders
from core_client.links import (
    Link,
    alert_link,
    deployment_link,
    incident_link,
    logs_link,
    metrics_link,
    service_link,
    ticket_link,
)
from core_client.schemas import (
    Alert,
    Deployment,
    Incident,
    LogEntry,
    MetricSeries,
    OnCallShift,
    Runbook,
    Service,
    Team,
    TeamMember,
    Ticket,
    TimelineEntry,
)
from core_client.schemas.analysis import (
    LogPattern,
    MetricAnomaly,
    MetricAnomalyReport,
    PatternChange,
    PatternComparison,
)
from core_client.service_directory import ServiceDirectory
from core_client.units import number, quantity

OWN_SERVER = "opspilot"
EXCERPT_CHARS = 300
MAX_ITEMS = 60
# Around one cited log line, the console shows this much of its service's log.
LOG_WINDOW = timedelta(minutes=5)
# How far past a lone point a metric link's window runs (a series of one point has no step of its own).
SINGLE_POINT_STEP = timedelta(minutes=1)
PATTERN_QUERY_WORDS = 6
# Labels that say which series an anomaly or metric is, beyond its service (team follows from the service).
SERIES_LABELS_SKIPPED = frozenset({"service", "team"})

Extract = Callable[[Any, str], Iterator[Evidence]]


def extract_evidence(spec: ToolSpec, outcome: ToolOutcome) -> list[Evidence]:
    """The evidence one successful call returned; a failed call, or one with nothing citable, returns none.

    At most :data:`MAX_ITEMS` items, each excerpt at most :data:`EXCERPT_CHARS` characters, no id twice.
    """
    if not outcome.ok or outcome.structured is None:
        return []
    extract = _OWN_TOOLS.get(spec.tool) if spec.server == OWN_SERVER else None
    try:
        found = list(extract(outcome.structured, outcome.call_id)) if extract else None
    except (ValidationError, TypeError, KeyError, ValueError):
        found = None  # not the shape our tool returns: read it like a foreign result
    if found is None:
        found = list(_foreign(spec, outcome))
    return _unique(found)[:MAX_ITEMS]


def evidence_id(kind: EvidenceKind, ref: str) -> str:
    """The id a piece of evidence of ``kind`` about ``ref`` has in every run: ``<kind>:<ref>``."""
    return f"{kind.value}:{ref}"


def series_ref(name: str, service: str, labels: dict[str, str]) -> str:
    """How a metric series is named in evidence: ``<service>:<metric>{label=value,...}``."""
    extra = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in SERIES_LABELS_SKIPPED and v)
    base = f"{service}:{name}" if service else name
    return f"{base}{{{extra}}}" if extra else base


def series_metric(ref: str, service: str | None) -> str:
    """The metric name in a series ref made by :func:`series_ref` (``checkout-api:error_rate{...}`` -> ``error_rate``)."""
    base = ref.split("{", 1)[0]
    prefix = f"{service}:" if service else ""
    return base[len(prefix) :] if prefix and base.startswith(prefix) else base


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pattern_query(template: str) -> str:
    """Search words for a log pattern's lines: the first few literal words of its template."""
    words: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z_]{2,}", without_placeholders(template)):
        if word.lower() not in {w.lower() for w in words}:
            words.append(word)
        if len(words) == PATTERN_QUERY_WORDS:
            break
    return " ".join(words)


def _evidence(
    kind: EvidenceKind,
    ref: str,
    text: str,
    call_id: str,
    link: Link | None,
    label: str = "",
    *,
    at: datetime | None = None,
    service: str | None = None,
) -> Evidence:
    return Evidence(
        id=evidence_id(kind, ref),
        kind=kind,
        ref=ref,
        excerpt=excerpt(text),
        tool_call_id=call_id,
        link=link.build() if link is not None else None,
        label=excerpt(label, LABEL_CHARS) if label else "",
        at=at,
        service=service or None,
    )


def shown(item: Evidence, name: Callable[[str], str]) -> Evidence:
    """``item`` as a person reads it: its service's reference in the label and excerpt written the way people call
    the service (``name``, e.g. ``console.backend.records.service_names``: ``svc-checkout`` -> "Checkout API").

    Evidence keeps the reference its tool returned (an OpsOrch Core's records say ``svc-checkout``), which is what
    planners and citations key on; the chips, citation lists and CLI show this instead.
    """
    if not item.service:
        return item
    called = name(item.service)
    if called == item.service:
        return item
    # Whole references only: "svc-checkout" must not be rewritten inside "svc-checkout-worker".
    reference = re.compile(rf"(?<![\w-]){re.escape(item.service)}(?![\w-])")
    return item.model_copy(
        update={
            "label": excerpt(reference.sub(called, item.label), LABEL_CHARS),
            "excerpt": excerpt(reference.sub(called, item.excerpt)),
        }
    )


def series_label(name: str, service: str, labels: dict[str, str]) -> str:
    """A series as a person names it: ``orders-api error_rate``, ``checkout-api latency_ms p99``."""
    extra = " ".join(
        v for k, v in sorted(labels.items()) if k not in SERIES_LABELS_SKIPPED | {"environment"} and v
    )
    return " ".join(part for part in (service, name, extra) if part)


def _items(structured: Any) -> list[Any]:
    """The rows of a paged result (``{items: [...]}``), or the result itself when it is one object."""
    if isinstance(structured, dict) and isinstance(structured.get("items"), list):
        return list(structured["items"])
    if isinstance(structured, list):
        return structured
    return [structured]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "?"


def _records(
    model: type[Incident] | type[Alert], kind: EvidenceKind, link: Callable[[str], Link], since: str
) -> Extract:
    """Evidence from incidents or alerts, which share one shape."""

    def extract(structured: Any, call_id: str) -> Iterator[Evidence]:
        for row in _items(structured):
            item = model.model_validate(row)
            text = (
                f"{item.id} [{item.severity or '?'}, {item.status or '?'}] {item.title} "
                f"({item.service or 'no service'}, {since} {_when(item.created_at)})"
            )
            yield _evidence(
                kind,
                item.id,
                text,
                call_id,
                link(item.id),
                f"{item.id} {item.title}",
                at=item.created_at,
                service=item.service,
            )

    return extract


_incidents = _records(Incident, EvidenceKind.INCIDENT, incident_link, "opened")
_alerts = _records(Alert, EvidenceKind.ALERT, alert_link, "since")


def _timeline(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        item = TimelineEntry.model_validate(row)
        text = f"{item.incident_id} {_when(item.at)} {item.kind}: {item.body}"
        label = f"{item.incident_id} {item.kind}: {item.body}"
        yield _evidence(
            EvidenceKind.TIMELINE, item.id, text, call_id, incident_link(item.incident_id), label, at=item.at
        )


def _log_line(item: LogEntry, call_id: str) -> Evidence:
    text = f"{_when(item.timestamp)} {item.service} {item.severity.upper()}: {item.message}"
    link = logs_link(
        service=item.service or None,
        start=item.timestamp - LOG_WINDOW,
        end=item.timestamp + LOG_WINDOW,
        highlight=item.id,
    )
    return _evidence(
        EvidenceKind.LOG,
        item.id,
        text,
        call_id,
        link,
        f"log line: {item.message}",
        at=item.timestamp,
        service=item.service,
    )


def _logs(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        yield _log_line(LogEntry.model_validate(row), call_id)


def _log_context(structured: Any, call_id: str) -> Iterator[Evidence]:
    if not isinstance(structured, dict) or "anchor" not in structured:
        raise KeyError("anchor")
    for row in [structured["anchor"], *structured.get("before", []), *structured.get("after", [])]:
        yield _log_line(LogEntry.model_validate(row), call_id)


def _patterns(structured: Any, call_id: str) -> Iterator[Evidence]:
    comparison = PatternComparison.model_validate(structured)
    for change in comparison.changes:
        yield _pattern(change, comparison, call_id)
        if change.example_id:
            yield _pattern_example(change, comparison, call_id)
    changed = {change.id for change in comparison.changes}
    # The most frequent patterns after `since`: a pattern among the changes is cited by what changed of it.
    for pattern in comparison.frequent:
        if pattern.id not in changed:
            yield _pattern(pattern, comparison, call_id)
            if pattern.example_id:
                yield _pattern_example(pattern, comparison, call_id)


def _pattern_example(change: LogPattern, comparison: PatternComparison, call_id: str) -> Evidence:
    """One real line of the pattern, so a claim can point at a line and not only at a template."""
    where = change.services[0] if len(change.services) == 1 else None
    link = logs_link(service=where, start=comparison.since, end=comparison.end, highlight=change.example_id)
    text = f"{_when(change.last_seen)} {', '.join(change.services) or '?'}: {change.example}"
    return _evidence(
        EvidenceKind.LOG,
        change.example_id,
        text,
        call_id,
        link,
        f"log line: {change.example}",
        at=change.last_seen,
        service=where,
    )


def _pattern(change: LogPattern, comparison: PatternComparison, call_id: str) -> Evidence:
    severities = ",".join(sorted(change.by_severity)) or "?"
    where = ", ".join(change.services) or "?"
    if not isinstance(change, PatternChange):
        how = f"{change.count} lines since {_when(comparison.since)}"
    elif change.change == "new":
        how = f"new since {_when(comparison.since)}: {change.count_after} lines"
    else:
        how = (
            f"grown x{number(change.growth or 0)} since {_when(comparison.since)}: "
            f"{change.count_after} lines after, {change.count_before} before"
        )
    text = f"{how}, first {_when(change.first_seen)}, {where} [{severities}]: {change.template}"
    link = logs_link(
        q=pattern_query(change.template) or None,
        service=change.services[0] if len(change.services) == 1 else None,
        start=comparison.since,
        end=comparison.end,
    )
    return _evidence(
        EvidenceKind.LOG_PATTERN,
        change.id,
        text,
        call_id,
        link,
        f"log: {change.template}",
        at=change.first_seen,
        service=change.services[0] if len(change.services) == 1 else None,
    )


def _anomalies(structured: Any, call_id: str) -> Iterator[Evidence]:
    report = MetricAnomalyReport.model_validate(structured)
    for anomaly in report.anomalies:
        yield _anomaly(anomaly, report, call_id)


def _anomaly(anomaly: MetricAnomaly, report: MetricAnomalyReport, call_id: str) -> Evidence:
    ref = series_ref(anomaly.name, anomaly.service, anomaly.labels)
    times = f" (x{number(anomaly.magnitude)})" if anomaly.magnitude is not None else ""
    peak, normal = (
        quantity(anomaly.peak_value, anomaly.unit),
        quantity(anomaly.expected_at_peak, anomaly.unit),
    )
    text = (
        f"{ref} went {anomaly.direction} from {_when(anomaly.onset)}: peak {peak} at "
        f"{_when(anomaly.peak_at)} where {normal} is normal{times}, z {number(anomaly.peak_z)}"
        f"{', still ongoing' if anomaly.ongoing else ''}"
    )
    if read_as_gauge(anomaly.semantics):
        text += f"; {anomaly.semantics}"
    link = metrics_link(
        metric=anomaly.name,
        service=anomaly.service or None,
        start=report.detect_start,
        end=report.detect_end,
        mark=anomaly.onset,
    )
    label = series_label(anomaly.name, anomaly.service, anomaly.labels)
    return _evidence(
        EvidenceKind.ANOMALY, ref, text, call_id, link, label, at=anomaly.onset, service=anomaly.service
    )


def _series(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        series = MetricSeries.model_validate(row)
        if not series.points:
            continue
        values = [point.value for point in series.points]
        first, last = series.points[0], series.points[-1]
        unit = series.metadata.get("unit")
        unit = unit if isinstance(unit, str) else ""
        text = (
            f"{series_ref(series.name, series.service, series.labels)}: {quantity(last.value, unit)} at "
            f"{_when(last.timestamp)} (from {_when(first.timestamp)}: min {quantity(min(values), unit)}, "
            f"max {quantity(max(values), unit)})"
        )
        # The console's windows are half-open, so the window runs one step past the last point to show it.
        step = last.timestamp - series.points[-2].timestamp if len(series.points) > 1 else SINGLE_POINT_STEP
        link = metrics_link(
            metric=series.name,
            service=series.service or None,
            start=first.timestamp,
            end=last.timestamp + step,
        )
        ref = series_ref(series.name, series.service, series.labels)
        label = series_label(series.name, series.service, series.labels)
        yield _evidence(EvidenceKind.METRIC, ref, text, call_id, link, label, service=series.service)


def _deployments(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        item = Deployment.model_validate(row)
        change = item.fields.get("change")
        summary = item.fields.get("summary")
        who = item.actor.get("name") or item.actor.get("id")
        text = (
            f"{item.id} {item.service} {item.version or '?'} in {item.environment or '?'}"
            f"{f' ({change} change)' if change else ''} {item.status or ''} started {_when(item.started_at)}"
            f"{f' by {who}' if who else ''}{f': {summary}' if summary else ''}"
        )
        what = {"config": "config", "flag": "flag"}.get(str(change), "deploy")
        label = f"{what}: {item.service} {item.version or item.id}"
        yield _evidence(
            EvidenceKind.DEPLOYMENT,
            item.id,
            text,
            call_id,
            deployment_link(item.id),
            label,
            at=item.started_at,
            service=item.service,
        )


def _tickets(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        item = Ticket.model_validate(row)
        text = f"{item.key or item.id} [{item.status or '?'}] {item.title}"
        label = f"{item.key or item.id} {item.title}"
        service = item.fields.get("service")
        yield _evidence(
            EvidenceKind.TICKET,
            item.id,
            text,
            call_id,
            ticket_link(item.id),
            label,
            at=item.created_at,
            service=service if isinstance(service, str) else None,
        )


def _services(structured: Any, call_id: str) -> Iterator[Evidence]:
    rows = _items(structured)
    services = [Service.model_validate(row) for row in rows]
    # Who calls a service is read off the catalog rows themselves (a core lists only what each one calls), through
    # the directory, so references by id and by name agree; a single service's view brings its own list.
    directory = ServiceDirectory(services)
    for row, item in zip(rows, services, strict=True):
        calls = ", ".join(directory.label(dependency) for dependency in item.dependencies) or "nothing"
        listed = row.get("dependents") if isinstance(row, dict) else None
        callers = [directory.key(str(name)) for name in listed or []] or directory.dependents(item.id)
        called_by = ", ".join(map(directory.label, callers)) or "no one listed"
        owner = item.owner_team or item.tags.get("team") or item.metadata.get("team")
        text = (
            f"{item.name}: calls {calls}; called by {called_by}{f'; owned by team {owner}' if owner else ''}"
        )
        # Cited by its id, the key the planners' service graph uses (see ServiceDirectory); shown by its name.
        yield _evidence(
            EvidenceKind.SERVICE,
            item.id,
            text,
            call_id,
            service_link(item.id),
            f"service {item.name}",
            service=item.id,
        )


def _team(structured: Any, call_id: str) -> Iterator[Evidence]:
    """A team with its members and who is on call (``get_team``), cited as the team."""
    if not isinstance(structured, dict) or not isinstance(structured.get("team"), dict):
        raise KeyError("team")
    team = Team.model_validate(structured["team"])
    shifts = [OnCallShift.model_validate(row) for row in structured.get("oncall") or []]
    members = [TeamMember.model_validate(row) for row in structured.get("members") or []]
    yield _team_evidence(team.id, team.name, shifts, members, call_id)


def _oncall(structured: Any, call_id: str) -> Iterator[Evidence]:
    """On-call shifts of one team (``get_oncall``), cited as that team's on-call."""
    shifts = [OnCallShift.model_validate(row) for row in _items(structured)]
    if shifts:
        yield _team_evidence(shifts[0].team_id, "", shifts, [], call_id)


def _team_evidence(
    team_id: str, name: str, shifts: list[OnCallShift], members: list[TeamMember], call_id: str
) -> Evidence:
    on_call = "; ".join(
        f"level {s.escalation_level}: {s.member.name or s.member.id}"
        f"{f' ({s.member.handle})' if s.member.handle else ''} until {_when(s.end)}"
        for s in sorted(shifts, key=lambda s: s.escalation_level)
    )
    people = ", ".join(f"{m.name or m.id} ({m.role})" if m.role else (m.name or m.id) for m in members)
    text = (
        f"team {name or team_id}"
        + (f"; on call: {on_call}" if on_call else "; nobody on call listed")
        + (f"; members: {people}" if people else "")
    )
    return _evidence(EvidenceKind.TEAM, team_id, text, call_id, None, f"team {name or team_id}")


def _runbooks(structured: Any, call_id: str) -> Iterator[Evidence]:
    item = Runbook.model_validate(structured)
    text = f"{item.title or item.service + ' runbook'}: {item.body}"
    label = f"runbook {item.service}"
    yield _evidence(
        EvidenceKind.RUNBOOK,
        item.service,
        text,
        call_id,
        service_link(item.service),
        label,
        service=item.service,
    )


def _files(structured: Any, call_id: str) -> Iterator[Evidence]:
    for row in _items(structured):
        path = row["path"]
        text = f"{path}: {row['content']}" if "content" in row else f"{path} ({row.get('kind', 'file')})"
        yield _evidence(EvidenceKind.FILE, str(path), text, call_id, None)


def _nothing(structured: Any, call_id: str) -> Iterator[Evidence]:
    return iter(())


_OWN_TOOLS: dict[str, Extract] = {
    "query_incidents": _incidents,
    "get_incident": _incidents,
    "create_incident": _incidents,
    "update_incident": _incidents,
    "get_incident_timeline": _timeline,
    "append_timeline_note": _timeline,
    "query_alerts": _alerts,
    "get_alert": _alerts,
    "search_logs": _logs,
    "get_log_context": _log_context,
    "compare_log_patterns": _patterns,
    "detect_metric_anomalies": _anomalies,
    "query_metrics": _series,
    "query_deployments": _deployments,
    "get_deployment": _deployments,
    "query_tickets": _tickets,
    "get_ticket": _tickets,
    "create_ticket": _tickets,
    "update_ticket": _tickets,
    "query_services": _services,
    "get_service": _services,
    "get_runbook": _runbooks,
    "read_file": _files,
    "list_directory": _files,
    "write_file": _files,
    "generate_report": _files,
    # Descriptions of the setup, not findings: nothing to cite.
    "describe_metrics": _nothing,
    "query_teams": _nothing,
    "get_team": _team,
    "get_oncall": _oncall,
    "list_providers": _nothing,
    "send_message": _nothing,
    "page_oncall": _nothing,
}

# Nouns in a foreign tool's name and the kind of evidence its results are; the first match wins.
_FOREIGN_KINDS: tuple[tuple[str, EvidenceKind], ...] = (
    ("timeline", EvidenceKind.TIMELINE),
    ("incident", EvidenceKind.INCIDENT),
    ("alert", EvidenceKind.ALERT),
    ("pattern", EvidenceKind.LOG_PATTERN),
    ("anomal", EvidenceKind.ANOMALY),
    ("log", EvidenceKind.LOG),
    ("metric", EvidenceKind.METRIC),
    ("deploy", EvidenceKind.DEPLOYMENT),
    ("ticket", EvidenceKind.TICKET),
    ("issue", EvidenceKind.TICKET),
    ("runbook", EvidenceKind.RUNBOOK),
    ("service", EvidenceKind.SERVICE),
)
_FOREIGN_LINKS: dict[EvidenceKind, Callable[[str], Link]] = {
    EvidenceKind.INCIDENT: incident_link,
    EvidenceKind.ALERT: alert_link,
    EvidenceKind.TICKET: ticket_link,
    EvidenceKind.DEPLOYMENT: deployment_link,
    EvidenceKind.SERVICE: service_link,
}


def foreign_kind(tool: str) -> EvidenceKind:
    """The evidence kind of a foreign tool's results, from the nouns in its name; ``file`` when it names none."""
    name = tool.lower()
    return next((kind for noun, kind in _FOREIGN_KINDS if noun in name), EvidenceKind.FILE)


# The evidence kind of a foreign tool an operator mapped to a capability (its name may say nothing useful).
_CAPABILITY_KINDS: dict[str, EvidenceKind] = {
    "incident": EvidenceKind.INCIDENT,
    "alert": EvidenceKind.ALERT,
    "log": EvidenceKind.LOG,
    "metric": EvidenceKind.METRIC,
    "ticket": EvidenceKind.TICKET,
    "service": EvidenceKind.SERVICE,
    "deployment": EvidenceKind.DEPLOYMENT,
    "runbook": EvidenceKind.RUNBOOK,
    "team": EvidenceKind.TEAM,
    "oncall": EvidenceKind.TEAM,
}


def _foreign(spec: ToolSpec, outcome: ToolOutcome) -> Iterator[Evidence]:
    kind = _CAPABILITY_KINDS.get(spec.capability or "") or foreign_kind(spec.tool)
    rows = _items(outcome.structured)
    identified = [row for row in rows if isinstance(row, dict) and _row_id(row)]
    if identified and len(identified) == len(rows):
        for row in identified:
            ref = _row_id(row)
            link = _FOREIGN_LINKS[kind](ref) if kind in _FOREIGN_LINKS else None
            yield _evidence(kind, ref, _compact(row), outcome.call_id, link)
        return
    ref = f"{spec.name}#{outcome.call_id}"
    yield _evidence(kind, ref, outcome.text or _compact(outcome.structured), outcome.call_id, None)


def _row_id(row: dict[str, Any]) -> str:
    value = row.get("id") or row.get("key") or row.get("name")
    return str(value) if isinstance(value, str | int) and str(value) else ""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _unique(found: Iterable[Evidence]) -> list[Evidence]:
    seen: dict[str, Evidence] = {}
    for item in found:
        seen.setdefault(item.id, item)
    return list(seen.values())
