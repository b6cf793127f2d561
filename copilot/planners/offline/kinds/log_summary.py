"""What did X log; errors of X since T: its log patterns with counts, which are new or grown, and example lines.

One round after the context: the service's log patterns over the window asked about, compared with the hours
before it. Every line of the window is counted (the comparison mines them all): the patterns new or grown since the
window began, and the most frequent ones whatever their change, each with its count and an example line.
Templates are quoted literally (in backticks: a placeholder such as ``<*>`` is not markup); each pattern cites the
comparison that counted it and its example line.
"""

from __future__ import annotations

import re
from datetime import datetime

from copilot.answer import Answer, Claim, EvidenceKind, Moment, QuestionKind
from copilot.evidence import evidence_id
from copilot.planners.offline.kinds.why_failing import situation_of
from copilot.planners.offline.questions import Question, question_of
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.report import at, minutes, run_notes
from copilot.planners.offline.rounds import Round, environment_of, iso, request
from copilot.planning import PlanContext, ToolRequest
from core_client.schemas.analysis import LogPattern, PatternChange, PatternComparison
from core_client.units import number

ERRORS = ["error", "fatal", "critical"]
WARNINGS_AND_WORSE = ["warn", "warning", *ERRORS]
# What the question asks for, by the words it uses: errors only, warnings and worse, or everything.
_ERROR_WORDS = re.compile(r"\b(errors?|exceptions?|failures?|fatal|critical|stack ?traces?)\b", re.I)
_WARNING_WORDS = re.compile(r"\bwarn(ing)?s?\b", re.I)
# The window's patterns are compared with this long before it.
HOURS_BEFORE = 3.0
CHANGES_LIMIT = 10
MAX_NEW = 4
MAX_FREQUENT = 4


def severities_asked(question: Question) -> list[str] | None:
    """The severities the question asks about (None: every line)."""
    if _ERROR_WORDS.search(question.wording):
        return ERRORS
    if _WARNING_WORDS.search(question.wording):
        return WARNINGS_AND_WORSE
    return None


def subject_of(context: PlanContext, findings: Findings) -> str | None:
    """The service whose logs are asked about: the question's, the page's, the incident's or the earlier answer's."""
    return next(iter(situation_of(context, findings).asked), None)


def window_of(context: PlanContext) -> tuple[datetime, datetime]:
    """The window asked about ("since 13:30", "last 2 hours"), else the last hour."""
    return question_of(context).window(context.now)


def _logs_round(context: PlanContext, findings: Findings) -> list[ToolRequest]:
    if context.clock_apart("log"):
        return []
    service = subject_of(context, findings)
    since, until = window_of(context)
    severities = severities_asked(question_of(context))
    environment = environment_of(context, findings)
    call = request(
        context,
        "compare_log_patterns",
        f"every line {findings.graph.label(service) if service else 'every service'} logged since {at(since)}: "
        "its patterns, and which are new or grown",
        since=iso(since),
        service=service,
        before_hours=HOURS_BEFORE,
        until=iso(until),
        severities=severities,
        environment=environment,
        limit=CHANGES_LIMIT,
    )
    return [call] if call is not None else []


def comparison_of(findings: Findings, service: str | None) -> PatternComparison | None:
    """The window's patterns, for ``service`` (or every service)."""
    return findings.service_patterns.get(service) if service else findings.patterns


def conclude(context: PlanContext, findings: Findings) -> Answer:
    """The service's log patterns: how many lines, which are new or grown, the most frequent, with example lines."""
    service = subject_of(context, findings)
    since, _ = window_of(context)
    severities = severities_asked(question_of(context))
    what = "errors" if severities == ERRORS else "warnings and errors" if severities else "lines"
    who = findings.graph.label(service) if service else "the services"
    comparison = comparison_of(findings, service)
    changes = list(comparison.changes) if comparison is not None else []
    frequent = list(comparison.frequent[:MAX_FREQUENT]) if comparison is not None else []
    fresh = [c for c in changes if c.change == "new"]
    grown = [c for c in changes if c.change == "grown"]
    total = comparison.lines_after if comparison is not None else 0
    environment = environment_of(context, findings)
    where = f"{who} in {environment}" if environment else who
    sampled = comparison is not None and comparison.sampled
    verdict = _verdict(where, what, since, total, fresh, grown, frequent, comparison is not None, sampled)
    claims = [
        *(_change_claim(findings, c, since) for c in [*fresh, *grown][:MAX_NEW]),
        _frequent_claim(findings, who, frequent, total, since, sampled),
    ]
    missing = run_notes(context, findings, situation_of(context, findings))
    if sampled:
        missing.append(
            f"the window has more {what} than one comparison reads: the counts are of the newest {total:,} read, "
            "and a pattern's rate before the window is a lower bound"
        )
    if service is None:
        missing.append("no service named: the patterns are every service's; name one for its logs alone")
    return Answer(
        kind=QuestionKind.LOG_SUMMARY,
        verdict=verdict,
        summary=verdict,
        claims=[c for c in claims if c is not None and c.evidence_ids],
        timeline=[
            Moment(
                at=c.first_seen,
                kind="log",
                label=f"new: {c.template[:60]}",
                evidence_ids=findings.cited(evidence_id(EvidenceKind.LOG_PATTERN, c.id)),
            )
            for c in sorted(fresh, key=lambda c: c.first_seen)[:MAX_NEW]
        ],
        confidence=0.9 if comparison is not None else 0.3,
        missing=missing,
    )


def _verdict(
    who: str,
    what: str,
    since: datetime,
    total: int,
    fresh: list[PatternChange],
    grown: list[PatternChange],
    frequent: list[LogPattern],
    compared: bool,
    sampled: bool,
) -> str:
    head = f"{who} logged {'at least ' if sampled else ''}{total:,} {what} since {at(since)}"
    if not compared and not frequent:
        return f"I could not read {who}'s logs since {at(since)}."
    if total == 0:
        return f"{who} logged no {what} since {at(since)}."
    if fresh:
        lead = max(fresh, key=lambda c: c.count_after)
        return (
            f"{head}; {len(fresh)} pattern{'s are' if len(fresh) > 1 else ' is'} new since then, the largest "
            f"`{lead.template}` ({lead.count_after:,} lines from {at(lead.first_seen)})."
        )
    if grown:
        lead = max(grown, key=lambda c: c.growth or 0.0)
        return (
            f"{head}; nothing new, but `{lead.template}` grew {lead.growth or 0:.1f}\u00d7 "
            f"({number(lead.rate_before)} to {number(lead.rate_after)} lines an hour)."
        )
    top = f", mostly `{frequent[0].template}`" if frequent else ""
    return f"{head}, all of it as before{top}: no pattern is new or grown."


def _change_claim(findings: Findings, change: PatternChange, since: datetime) -> Claim:
    if change.change == "new":
        how = f"new: {change.count_after:,} lines from {at(change.first_seen)} ({minutes(change.first_seen - since)} in)"
    else:
        how = (
            f"grown {change.growth or 0:.1f}\u00d7: {number(change.rate_before)} to {number(change.rate_after)} lines an hour "
            f"({change.count_after:,} since {at(since)})"
        )
    severity = "/".join(sorted(change.by_severity)) or "unknown severity"
    services = ", ".join(map(findings.graph.label, change.services)) or "no service"
    text = f"`{change.template}` ({services}, {severity}): {how}."
    ids = [evidence_id(EvidenceKind.LOG_PATTERN, change.id)]
    if change.example_id:
        ids.append(evidence_id(EvidenceKind.LOG, change.example_id))
    return Claim(text=text, evidence_ids=findings.cited(*ids))


def _frequent_claim(
    findings: Findings, who: str, frequent: list[LogPattern], total: int, since: datetime, sampled: bool
) -> Claim | None:
    if not frequent:
        return None
    listed = "; ".join(f"`{p.template}` \u00d7{p.count:,}" for p in frequent)
    lines = f"newest {total:,} lines read" if sampled else f"{total:,} lines"
    text = f"Most frequent in {who}'s {lines} since {at(since)}: {listed}."
    ids = [
        i
        for p in frequent
        for i in (evidence_id(EvidenceKind.LOG_PATTERN, p.id), evidence_id(EvidenceKind.LOG, p.example_id))
    ]
    return Claim(text=text, evidence_ids=findings.cited(*ids))


ROUNDS: tuple[Round, ...] = (_logs_round,)
THOUGHTS: tuple[str, ...] = (
    "Count every line of the window by pattern, and compare them with the hours before it.",
)
