"""Is X healthy, down or degraded: its state now, and its dependencies'.

1. After the shared context (which brought the firing alerts, open incidents and the catalog): the anomaly scan of
   every service over the recent window, so the asked service and everything it calls are compared with their own
   baselines at once.
2. When the service is healthy: the current values behind that, one gauge each of its errors, latency and traffic
   from the catalog (counters and histograms are left to the scan, which reads them as rates and quantiles).

The verdict says healthy, degraded or down first (answering yes or no when the question asked one of those), with
the readings behind it, then the evidence: what is off baseline with its reading, what fires, what is open, and
which of its dependencies are in trouble.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from statistics import median

from copilot.answer import Answer, Claim, EvidenceKind, QuestionKind
from copilot.evidence import evidence_id, series_ref
from copilot.planners.offline.kinds import situation
from copilot.planners.offline.kinds.common import (
    Health,
    ServiceState,
    asked_services,
    named_reading,
    state_of,
)
from copilot.planners.offline.kinds.why_failing import situation_of
from copilot.planners.offline.questions import question_of
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.report import anomaly_id, at, run_notes
from copilot.planners.offline.rounds import Round, environment_of, iso, request, signals_round
from copilot.planning import PlanContext, ToolRequest
from core_client.analysis.signals import Kind, Signal, kind_of, recognize, unit_of
from core_client.schemas import MetricSeries
from core_client.schemas.analysis import MetricAnomaly
from core_client.units import anomaly_reading, quantile_name, quantity

# The state a question asks about, by its words: "is X down?" hopes for no, "is X ok?" for yes.
ASKS_BAD = re.compile(r"\b(down|broken|degraded|failing|unhealthy|dead|out|slow|erroring)\b", re.I)
ASKS_GOOD = re.compile(
    r"\b(healthy|ok|okay|fine|up|working|alive|available|running|operational|good)\b", re.I
)
DEPENDENCIES_LISTED = 3
# What a healthy verdict shows the current value of, in this order.
VALUE_SIGNALS = (Signal.ERRORS, Signal.LATENCY, Signal.TRAFFIC)
# Current values are read over this window at this step: the last point is now, the points before the most recent
# minutes are what is normal.
VALUE_WINDOW = timedelta(minutes=90)
VALUE_STEP = timedelta(minutes=5)
RECENT = timedelta(minutes=15)
# What each value is called, led by its name ("error rate 0.12%"): said as a reading of a healthy service, not as a
# count of errors.
VALUE_NAMES = {Signal.ERRORS: "error rate", Signal.LATENCY: "latency", Signal.TRAFFIC: "traffic"}
# The latency quantile people quote, when a series is kept per quantile.
QUOTED_QUANTILE = "p95"


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """The asked service's state first, then its evidence and its dependencies' state."""
    services = asked_services(context, findings)
    if not services:
        # "Is anything down?": the state of everything.
        return situation.conclude(context, findings).model_copy(update={"kind": QuestionKind.HEALTH})
    service = services[0]
    state = state_of(findings, service)
    dependencies = [state_of(findings, d) for d in sorted(findings.graph.downstream(service))]
    troubled = [d for d in dependencies if d.health != "healthy"]
    troubled.sort(key=lambda d: (d.since is None, d.since))
    values = current_values(findings, service) if state.health == "healthy" else []
    verdict = _verdict(question_of(context).wording, state, [text for text, _ in values])
    claims = [*_state_claims(findings, state), _dependencies_claim(findings, service, dependencies, troubled)]
    if values:
        claims.insert(
            0,
            Claim(
                text=f"{state.label} now: {'; '.join(text for text, _ in values)}.",
                evidence_ids=findings.cited(*(i for _, i in values)),
            ),
        )
    claims = [c for c in claims if c is not None and c.evidence_ids]
    summary = verdict
    if troubled:
        names = ", ".join(d.label for d in troubled[:DEPENDENCIES_LISTED])
        summary += f" In trouble among what it calls, directly or not: {names}."
    missing = run_notes(context, findings, situation_of(context, findings))
    if findings.anomalies is None:
        missing.append("no anomaly scan: its metrics could not be compared with their baselines")
    return Answer(
        kind=QuestionKind.HEALTH,
        verdict=verdict,
        summary=summary,
        claims=claims,
        confidence=0.9 if findings.anomalies is not None else 0.4,
        missing=missing,
    )


def value_metrics(findings: Findings) -> list[str]:
    """One gauge of the catalog per signal of :data:`VALUE_SIGNALS`, whose raw points are its values."""
    chosen: dict[Signal, str] = {}
    for name in sorted(findings.metric_names):
        kind = kind_of(name)
        spec = recognize(name, kind)
        if kind is Kind.GAUGE and spec.signal in VALUE_SIGNALS:
            chosen.setdefault(spec.signal, name)
    return [chosen[signal] for signal in VALUE_SIGNALS if signal in chosen]


def _values_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """The current values of a healthy service's errors, latency and traffic (not needed when it is in trouble:
    its departures say more)."""
    services = asked_services(context, findings)
    if not services or findings.anomalies is None or state_of(findings, services[0]).health != "healthy":
        return []
    service = services[0]
    calls = [
        request(
            context,
            "query_metrics",
            f"{findings.graph.label(service)}'s {name} now and over the last {int(VALUE_WINDOW.total_seconds() // 60)} min",
            metric_name=name,
            service=service,
            environment=environment_of(context, findings),
            start=iso(context.now - VALUE_WINDOW),
            end=iso(context.now),
            step=int(VALUE_STEP.total_seconds()),
        )
        for name in value_metrics(findings)
    ]
    return [c for c in calls if c is not None]


def current_values(findings: Findings, service: str) -> list[tuple[str, str]]:
    """Each value read for ``service`` now beside its normal ("error rate 0.12%, normally 0.10%"), with its evidence id:
    the last point, against the median of the points before the most recent minutes."""
    said: list[tuple[str, str]] = []
    for name in value_metrics(findings):
        series = _quoted(
            [s for s in findings.series if s.name == name and findings.graph.key(s.service) == service]
        )
        if series is None or not series.points:
            continue
        last = series.points[-1]
        earlier = [p.value for p in series.points if p.timestamp <= last.timestamp - RECENT]
        if not earlier:
            continue
        declared = series.metadata.get("unit")
        unit = unit_of(
            name, declared if isinstance(declared, str) and declared else findings.metric_units.get(name, "")
        )
        what = (
            quantile_name(series.labels.get("quantile"))
            or VALUE_NAMES[recognize(name, Kind.GAUGE, unit).signal]
        )
        text = f"{what} {quantity(last.value, unit)}, normally {quantity(median(earlier), unit)}"
        said.append(
            (text, evidence_id(EvidenceKind.METRIC, series_ref(series.name, series.service, series.labels)))
        )
    return said


def _quoted(series: list[MetricSeries]) -> MetricSeries | None:
    """The series a person would quote: of a latency kept per quantile, the p95 (else the highest); else the first."""
    if not series:
        return None
    by_quantile = {quantile_name(s.labels.get("quantile")): s for s in series if s.labels.get("quantile")}
    if by_quantile:
        return by_quantile.get(QUOTED_QUANTILE) or by_quantile[max(by_quantile)]
    return sorted(series, key=lambda s: sorted(s.labels.items()))[0]


def _verdict(wording: str, state: ServiceState, values: list[str]) -> str:
    health: Health = state.health
    hoped_good = ASKS_GOOD.search(wording) is not None and ASKS_BAD.search(wording) is None
    asked_bad = ASKS_BAD.search(wording) is not None
    if health == "healthy":
        prefix = "Yes, " if hoped_good else "No, " if asked_bad else ""
        now = f"{'; '.join(values)}; " if values else ""
        if state.alerts:
            return (
                f"{prefix}{state.label} looks healthy: {now}its metrics are within their baselines and no incident "
                f"is open, though alert \u201c{state.alerts[0].title}\u201d is firing."
            )
        return (
            f"{prefix}{state.label} is healthy: {now}no alert firing, no open incident, "
            "and its metrics are within their baselines."
        )
    reading = _reading(state)
    if health == "down":
        prefix = "No, " if hoped_good else "Yes, " if asked_bad else ""
        return f"{prefix}{state.label} is down: {reading}."
    if asked_bad and re.search(r"\bdown\b", wording, re.I):
        return f"{state.label} is degraded, not down: {reading}."
    prefix = "No, " if hoped_good else ""
    return f"{prefix}{state.label} is degraded: {reading}."


def _reading(state: ServiceState) -> str:
    """The sign that decides its health, said plainly with its own time: a reading against normal, else an open
    incident (an alert alone does not degrade a service, see ``ServiceState.health``), else an alert."""

    def since(moment: datetime | None) -> str:
        return f", since {at(moment)}" if moment else ""

    if state.trouble:
        top = state.trouble[0]
        return f"{anomaly_reading(top)}{since(top.onset)}"
    if state.incidents:
        incident = state.incidents[0]
        return f"incident {incident.id} \u201c{incident.title}\u201d open{since(incident.created_at)}"
    alert = state.alerts[0]
    return f"alert \u201c{alert.title}\u201d firing{since(alert.created_at)}"


def _state_claims(findings: Findings, state: ServiceState) -> list[Claim]:
    service = state.label
    claims = []
    if state.trouble:
        parts = "; ".join(f"{named_reading(a)}, from {at(a.onset)}" for a in state.trouble[:4])
        claims.append(
            Claim(text=f"{service} is off its baseline: {parts}.", evidence_ids=_ids(findings, state.trouble))
        )
    if state.alerts:
        parts = "; ".join(
            f"\u201c{a.title}\u201d ({a.severity or 'no severity'}, since {at(a.created_at)})"
            for a in state.alerts[:4]
        )
        claims.append(
            Claim(
                text=f"Firing on {service}: {parts}.",
                evidence_ids=findings.cited(*(evidence_id(EvidenceKind.ALERT, a.id) for a in state.alerts)),
            )
        )
    if state.incidents:
        parts = "; ".join(f"{i.id} \u201c{i.title}\u201d ({i.status})" for i in state.incidents[:3])
        claims.append(
            Claim(
                text=f"Open for {service}: {parts}.",
                evidence_ids=findings.cited(
                    *(evidence_id(EvidenceKind.INCIDENT, i.id) for i in state.incidents)
                ),
            )
        )
    if state.recovered:
        parts = "; ".join(f"{a.name} from {at(a.onset)}" for a in state.recovered[:3])
        claims.append(
            Claim(
                text=f"{service} was off its baseline earlier and is back within it: {parts}.",
                evidence_ids=_ids(findings, state.recovered),
            )
        )
    if state.health == "healthy" and findings.anomalies is not None:
        report = findings.anomalies
        alerts = "" if state.alerts else ", no alert fired on it"
        claims.append(
            Claim(
                text=(
                    f"Between {at(report.detect_start)} and {at(report.detect_end)} none of {service}'s error, "
                    f"latency, traffic or resource series left its baseline{alerts} and no incident is open for it."
                ),
                evidence_ids=findings.cited(evidence_id(EvidenceKind.SERVICE, state.service)),
            )
        )
    return claims


def _dependencies_claim(
    findings: Findings, service: str, dependencies: list[ServiceState], troubled: list[ServiceState]
) -> Claim | None:
    if not dependencies:
        return None
    if not troubled:
        return Claim(
            text=f"What {findings.graph.label(service)} calls, directly or not, shows no trouble: {', '.join(d.label for d in dependencies)}.",
            evidence_ids=findings.cited(
                evidence_id(EvidenceKind.SERVICE, service),
                *(evidence_id(EvidenceKind.SERVICE, d.service) for d in dependencies),
            ),
        )
    parts = []
    for dependency in troubled[:DEPENDENCIES_LISTED]:
        since = f" since {at(dependency.since)}" if dependency.since else ""
        parts.append(f"{dependency.label} is {dependency.health}{since} ({_reading(dependency)})")
    ids = [i for d in troubled[:DEPENDENCIES_LISTED] for i in d.evidence_ids(findings)]
    return Claim(
        text=f"Of what {findings.graph.label(service)} calls, directly or not: " + "; ".join(parts) + ".",
        evidence_ids=[*ids, *findings.cited(evidence_id(EvidenceKind.SERVICE, service))],
    )


def _ids(findings: Findings, anomalies: list[MetricAnomaly]) -> list[str]:
    return findings.cited(*(anomaly_id(a) for a in anomalies))


ROUNDS: tuple[Round, ...] = (signals_round, _values_round)
THOUGHTS: tuple[str, ...] = (
    "Compare every service's errors, latency, traffic and resources with their baselines.",
    "Read the healthy service's errors, latency and traffic now, beside what is normal for them.",
)
