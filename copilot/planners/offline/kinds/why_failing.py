"""Why is X failing or slow: the root-cause analysis.

1. Signals: which series left their baseline over the last hours, and when (the onset), for every service.
2. Explanations, around the onset of the root the metrics point at: log patterns new or grown since just before
   it, deployments and configuration changes in the hours before it, its certificate's days to expiry when the
   metric exists, and its runbook.
3. Stand-ins: for a capability whose own tools failed because no provider serves it, the foreign read tool an
   operator mapped to it (``copilot.stand_ins``), over the same service and window.

Then the candidates are ranked over the dependency graph, the fault kind is read from the evidence mix, and the
answer cites what the calls returned. Mutations (a ticket, a timeline note) are only proposed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from copilot.answer import Answer
from copilot.planners.offline.diagnosis import diagnose_candidates
from copilot.planners.offline.questions import question_of
from copilot.planners.offline.ranking import rank
from copilot.planners.offline.readings import Findings, own_tool
from copilot.planners.offline.report import Situation, compose
from copilot.planners.offline.rounds import (
    WARNINGS_AND_WORSE,
    Round,
    clock_note,
    environment_of,
    incident_of,
    iso,
    patterns_request,
    request,
    signals_round,
)
from copilot.planners.offline.scope import read_scope
from copilot.planning import PlanContext, ToolRequest
from copilot.stand_ins import (
    lacking_capabilities,
    stand_in,
    stand_in_claim,
    stand_in_findings,
    stand_in_request,
)

CHANGE_HISTORY = timedelta(hours=3)
CERTIFICATE_WINDOW = timedelta(minutes=30)
STAND_IN_LEAD = timedelta(minutes=30)
# The tools an investigation cannot do without; the answer says which were missing.
ESSENTIAL = ("query_services", "detect_metric_anomalies", "compare_log_patterns", "query_deployments")


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """The root-cause answer from everything the run's calls returned."""
    situation = situation_of(context, findings)
    ranking = rank(findings, situation.asked, situation.alerted, situation.troubled)
    answer = compose(findings, situation, ranking, diagnose_candidates(findings, ranking))
    note = clock_note(context)
    if note is not None:
        answer.missing.append(note)
    # What foreign tools said where our providers could not: cited like everything else.
    answer.claims += [c for c in map(stand_in_claim, stand_in_findings(context)) if c is not None]
    return answer


def situation_of(context: PlanContext, findings: Findings) -> Situation:
    """What the question is about: services it names (or the earlier answer's root), the page, the incident."""
    scope = read_scope(question_of(context).wording, findings.graph)
    incident = incident_of(context, findings, scope.named)
    asked = list(scope.named)
    if not asked:
        asked += [
            turn.answer.root_cause.service
            for turn in reversed(context.conversation)
            if turn.answer is not None and turn.answer.root_cause is not None
        ][:1]
    asked += [s for s in (context.page.service, incident.service if incident else None) if s]
    alerted = list(dict.fromkeys(a.service for a in findings.firing_alerts() if a.service))
    keyed = list(dict.fromkeys(findings.graph.key(service) for service in asked))
    # Trouble on record: an open incident says its service is in trouble, and so does an alert on a service asked
    # about; a service the question merely names may be fine (then the answer says so).
    on_record = [findings.graph.key(incident.service)] if incident is not None and incident.service else []
    return Situation(
        asked=keyed,
        alerted=alerted,
        troubled=list(dict.fromkeys([*on_record, *(s for s in keyed if s in alerted)])),
        incident=incident,
        named=list(dict.fromkeys(findings.graph.key(service) for service in scope.named)),
        tools=context.tools,
        asks_about_changes=scope.asks_about_changes,
        unavailable=[tool for tool in ESSENTIAL if own_tool(context.tools, tool) is None],
    )


def _explanations_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    situation = situation_of(context, findings)
    ranking = rank(findings, situation.asked, situation.alerted, situation.troubled)
    onset = ranking.onset or ranking.first_onset() or fallback_onset(context, findings)
    environment = environment_of(context, findings)
    calls = [
        patterns_request(context, findings, onset, WARNINGS_AND_WORSE),
    ]
    if not context.clock_apart("deployment"):
        calls.append(
            request(
                context,
                "query_deployments",
                "changes before the onset",
                start=iso(onset - CHANGE_HISTORY),
                end=iso(context.now),
                environment=environment,
                limit=30,
            )
        )
    certificates = sorted(name for name in findings.metric_names if "cert" in name.lower())
    if certificates and ranking.root is not None:
        calls.append(
            request(
                context,
                "query_metrics",
                "whether the suspect's certificate is still valid",
                metric_name=certificates[0],
                service=ranking.root,
                environment=environment,
                start=iso(context.now - CERTIFICATE_WINDOW),
                end=iso(context.now),
                step=int(CERTIFICATE_WINDOW.total_seconds() // 2),
            )
        )
    if ranking.root is not None:
        calls.append(request(context, "get_runbook", "what to check and do", service=ranking.root))
    return [c for c in calls if c is not None]


def _stand_ins_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    """The mapped foreign read tool of every capability our own tools found no provider for."""
    situation = situation_of(context, findings)
    ranking = rank(findings, situation.asked, situation.alerted, situation.troubled)
    onset = ranking.onset or ranking.first_onset() or fallback_onset(context, findings)
    service = ranking.root or next(iter(situation.asked), None)
    calls = []
    for capability in lacking_capabilities(context):
        spec = stand_in(context, capability)
        if spec is not None:
            calls.append(
                stand_in_request(
                    spec,
                    reason=f"{capability}s, which no provider of ours serves, from {spec.server}",
                    service=service,
                    start=onset - STAND_IN_LEAD,
                    end=context.now,
                )
            )
    return [c for c in calls if c is not None]


def fallback_onset(context: PlanContext, findings: Findings) -> datetime:
    """Without a metric onset: shortly before the incident was opened, or an hour ago."""
    incident = incident_of(context, findings)
    if incident is not None and incident.created_at is not None:
        return incident.created_at - timedelta(minutes=10)
    return context.now - timedelta(hours=1)


ROUNDS: tuple[Round, ...] = (signals_round, _explanations_round, _stand_ins_round)
THOUGHTS: tuple[str, ...] = (
    "Find which services left their baseline, and when.",
    "Around the onset: new log patterns, recent changes, and the suspect's certificate and runbook.",
    "Ask the other MCP servers for what no provider of ours serves.",
)
