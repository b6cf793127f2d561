"""Evals: every scenario under several seeds, asked of the investigator and of two naive baselines, and scored.

A case is one scenario in one seed's world. Each planner gets the scenario's question alone, through the real
runner (:class:`copilot.runtime.Copilot`) and the same tools; the expected answer stays here, for scoring. A run
is *fully right* when it names the expected root-cause service and fault kind, cites evidence of every kind the
scenario requires (a metric anomaly counts as metric evidence), and every claim's citations are valid.

Worlds are not built here: the copilot never imports a provider. The caller (``opspilot eval``, a test) passes
``open_world``, which makes the case's world and yields a :class:`CoreClient` over it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from pydantic import BaseModel, Field

from copilot.answer import Evidence, EvidenceKind, QuestionKind
from copilot.citations import validate_answer
from copilot.planners.offline import OfflineInvestigator
from copilot.planners.offline.baselines import MostErrorsBaseline, NamedServiceBaseline
from copilot.planning import PageContext, Planner
from copilot.records import RunView
from copilot.runtime import Copilot
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.settings import Settings, load_settings

DEFAULT_SEEDS = 3
EVAL_USER = Actor(user="eval", role=Role.RESPONDER, via="cli")
# Evidence kinds that satisfy a required kind besides itself: an anomaly is a finding about a metric.
SATISFIES: dict[str, frozenset[str]] = {EvidenceKind.METRIC.value: frozenset({EvidenceKind.ANOMALY.value})}
# The notes the citation check leaves when it takes something out of an answer (copilot.citations).
DROP_NOTES = (
    "claim dropped",
    "action dropped",
    "root cause withdrawn",
    "path evidence dropped",
    "timeline evidence dropped",
)

OpenWorld = Callable[["EvalCase"], AbstractAsyncContextManager[CoreClient]]


class VerdictCheck(BaseModel):
    """What a verdict must say: every word of ``mentions``, one of ``any_of`` (if any), none of ``none_of``."""

    mentions: list[str] = Field(default_factory=list)
    any_of: list[str] = Field(default_factory=list)
    none_of: list[str] = Field(default_factory=list)

    def holds(self, verdict: str) -> bool:
        text = verdict.lower()
        words = set(re.findall(r"[a-z0-9-]+", text))

        def said(term: str) -> bool:
            term = term.lower()
            return term in words if " " not in term else term in text

        return (
            all(said(term) for term in self.mentions)
            and (not self.any_of or any(said(term) for term in self.any_of))
            and not any(said(term) for term in self.none_of)
        )


class Expected(BaseModel):
    """The answer a scenario expects; only the scorer sees it.

    A root-cause case names the service, fault kind and evidence; a case of another question kind names the
    kind (:class:`copilot.answer.QuestionKind` value) and what its verdict must say instead.
    """

    service: str
    fault_kind: str
    evidence: list[str] = Field(default_factory=list)
    question_kind: str = QuestionKind.WHY_FAILING.value
    verdict: VerdictCheck | None = None


class EvalCase(BaseModel):
    scenario: str
    seed: int
    question: str
    expected: Expected
    page: PageContext | None = Field(default=None, description="where the question is asked, if on a page")
    held_out: bool = Field(default=False, description="never shown case by case: only its totals are printed")
    earlier: list[str] = Field(
        default_factory=list,
        description="questions asked first in the same conversation: the case's question is a follow-up to them",
    )


class Bucket(BaseModel):
    """Runs whose stated confidence fell in [low, high), and how many of them were fully right."""

    low: float
    high: float
    runs: int
    mean_confidence: float
    fully_right: float = Field(description="percent observed")


class Breakdown(BaseModel):
    """The share fully right among runs that share one value (a fault kind, a question kind)."""

    value: str
    runs: int
    fully_right: float
    service_right: float
    kind_right: float


class Score(BaseModel):
    """How one planner did on one case."""

    planner: str
    scenario: str
    seed: int
    service: str | None = None
    fault_kind: str | None = None
    service_right: bool = False
    kind_right: bool = False
    evidence_right: bool = False
    citations_valid: bool = False
    fully_right: bool = False
    abstained: bool = Field(default=False, description="a root-cause question answered without naming one")
    confidence: float = 0.0
    expected_kind: str = ""
    question_kind: str = QuestionKind.WHY_FAILING.value
    answered_kind: str | None = None
    verdict_right: bool = False
    missing_evidence: list[str] = Field(default_factory=list)
    steps: int = 0
    tool_calls: int = 0
    seconds: float = 0.0
    error: str | None = None


class PlannerSummary(BaseModel):
    planner: str
    runs: int
    fully_right: float = Field(description="percent of runs fully right")
    service_right: float
    kind_right: float
    evidence_right: float
    citations_valid: float
    abstained: float = Field(description="percent of runs that named no root cause (counted not fully right)")
    median_seconds: float
    p95_seconds: float
    mean_tool_calls: float
    mean_steps: float


class EvalReport(BaseModel):
    scale: float
    seeds: int
    scores: list[Score] = Field(default_factory=list)

    def summary(self) -> list[PlannerSummary]:
        """One line per planner, in the order they ran."""
        planners = list(dict.fromkeys(score.planner for score in self.scores))
        return [_summarize(planner, [s for s in self.scores if s.planner == planner]) for planner in planners]

    def percent_fully_right(self, planner: str) -> float:
        return next((s.fully_right for s in self.summary() if s.planner == planner), 0.0)

    def planners(self) -> list[str]:
        return list(dict.fromkeys(score.planner for score in self.scores))

    def by_fault_kind(self, planner: str) -> list[Breakdown]:
        """Scores of ``planner`` per expected fault kind, kinds in alphabetical order."""
        return self._breakdown(planner, lambda case: case.expected_kind)

    def by_question_kind(self, planner: str) -> list[Breakdown]:
        """Scores of ``planner`` per question kind asked."""
        return self._breakdown(planner, lambda case: case.question_kind)

    def reliability(self, planner: str, buckets: int = 5) -> list[Bucket]:
        """Stated confidence in a root cause against observed accuracy, over root-cause questions only: one row
        per confidence bucket that has runs."""
        rows = []
        why = QuestionKind.WHY_FAILING.value
        scores = [s for s in self.scores if s.planner == planner and s.question_kind == why]
        for index in range(buckets):
            low, high = index / buckets, (index + 1) / buckets
            inside = [
                s for s in scores if low <= s.confidence < high or (high == 1.0 and s.confidence == 1.0)
            ]
            if inside:
                rows.append(
                    Bucket(
                        low=low,
                        high=high,
                        runs=len(inside),
                        mean_confidence=round(statistics.fmean(s.confidence for s in inside), 3),
                        fully_right=_percent([s.fully_right for s in inside]),
                    )
                )
        return rows

    def _breakdown(self, planner: str, key: Callable[[Score], str]) -> list[Breakdown]:
        groups: dict[str, list[Score]] = {}
        for score in self.scores:
            if score.planner == planner:
                groups.setdefault(key(score), []).append(score)
        return [
            Breakdown(
                value=value,
                runs=len(group),
                fully_right=_percent([s.fully_right for s in group]),
                service_right=_percent([s.service_right for s in group]),
                kind_right=_percent([s.kind_right for s in group]),
            )
            for value, group in sorted(groups.items())
        ]


def default_planners(settings: Settings) -> list[Planner]:
    """The investigator first, then the baselines it must beat."""
    return [OfflineInvestigator(settings), NamedServiceBaseline(), MostErrorsBaseline()]


def eval_settings(base: Settings, folder: Path | None = None) -> Settings:
    """Settings for evals: the demo providers for every capability, no foreign MCP servers, and a data folder of
    their own (``<data_dir>/evals``), so eval worlds and runs never touch the active world or the run history."""
    data_dir = folder or base.data_dir / "evals"
    return load_settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{(data_dir / 'evals.db').resolve()}",
        redis_url=None,
        core_url=None,
        providers={cap.value: {"name": "demo"} for cap in Capability},
        scenarios=base.scenarios,
        copilot=base.copilot.model_copy(update={"mcp_servers": []}),
    )


async def run_evals(
    cases: Sequence[EvalCase],
    *,
    settings: Settings,
    open_world: OpenWorld,
    planners: Sequence[Planner] | None = None,
    scale: float,
    seeds: int,
    progress: Callable[[Score], None] | None = None,
) -> EvalReport:
    """Ask every case's question of every planner in that case's world; score each run."""
    chosen = list(planners) if planners is not None else default_planners(settings)
    report = EvalReport(scale=scale, seeds=seeds)
    for case in cases:
        async with open_world(case) as core:
            for planner in chosen:
                score = await _ask(settings, core, planner, case)
                report.scores.append(score)
                if progress is not None:
                    progress(score)
    return report


async def _ask(settings: Settings, core: CoreClient, planner: Planner, case: EvalCase) -> Score:
    copilot = Copilot.from_settings(settings, core=core, planner=planner)
    try:
        conversation = None
        for question in case.earlier:
            earlier = await copilot.investigate(
                question, user=EVAL_USER, page=case.page, conversation_id=conversation
            )
            conversation = earlier.conversation_id
        view = await copilot.investigate(
            case.question, user=EVAL_USER, page=case.page, conversation_id=conversation
        )
    finally:
        await copilot.aclose()
    return score_run(case, planner.name, view)


def score_run(case: EvalCase, planner: str, view: RunView) -> Score:
    """Score one finished run against the case's expected answer."""
    evidence = [item for outcome in view.outcomes for item in outcome.evidence]
    answer = view.answer
    score = Score(
        planner=planner,
        scenario=case.scenario,
        seed=case.seed,
        steps=sum(1 for step in view.steps if step.kind == "plan"),
        tool_calls=len(view.outcomes),
        seconds=round(view.active_seconds, 3),
        error=view.error,
        expected_kind=case.expected.fault_kind,
        question_kind=case.expected.question_kind,
    )
    if answer is None:
        return score
    score.answered_kind = answer.kind.value if answer.kind else None
    if case.expected.verdict is not None:
        # A question of another kind: right when read as that kind and its verdict says what is true.
        score.verdict_right = case.expected.verdict.holds(answer.verdict)
        dropped = any(note.startswith(DROP_NOTES) for note in view.notes)
        score.citations_valid = not dropped and validate_answer(answer, evidence).ok
        score.fully_right = (
            score.answered_kind == case.expected.question_kind
            and score.verdict_right
            and score.citations_valid
        )
        return score
    score.confidence = answer.confidence
    score.abstained = case.expected.verdict is None and answer.root_cause is None
    if answer.root_cause is not None:
        score.service = answer.root_cause.service
        score.fault_kind = answer.root_cause.fault_kind
    score.service_right = score.service == case.expected.service
    score.kind_right = score.fault_kind == case.expected.fault_kind
    score.missing_evidence = missing_kinds(case.expected.evidence, _cited(view, evidence))
    score.evidence_right = not score.missing_evidence
    dropped = any(note.startswith(DROP_NOTES) for note in view.notes)
    score.citations_valid = bool(answer.claims) and not dropped and validate_answer(answer, evidence).ok
    score.fully_right = all(
        (score.service_right, score.kind_right, score.evidence_right, score.citations_valid)
    )
    return score


def missing_kinds(required: Sequence[str], cited: Sequence[Evidence]) -> list[str]:
    """The required evidence kinds no cited evidence stands for."""
    kinds = {item.kind.value for item in cited}
    return [k for k in required if k not in kinds and not (SATISFIES.get(k, frozenset()) & kinds)]


def _cited(view: RunView, evidence: list[Evidence]) -> list[Evidence]:
    ids = {i for claim in (view.answer.claims if view.answer else []) for i in claim.evidence_ids}
    return [item for item in evidence if item.id in ids]


def nearest_rank(values: Sequence[float], quantile: float) -> float:
    """The ``quantile`` of ``values`` by the nearest-rank method (0 for none)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def _percent(flags: Sequence[bool]) -> float:
    return round(100.0 * sum(flags) / len(flags), 1) if flags else 0.0


def _summarize(planner: str, scores: Sequence[Score]) -> PlannerSummary:
    seconds = [s.seconds for s in scores]
    return PlannerSummary(
        planner=planner,
        runs=len(scores),
        fully_right=_percent([s.fully_right for s in scores]),
        service_right=_percent([s.service_right for s in scores]),
        kind_right=_percent([s.kind_right for s in scores]),
        evidence_right=_percent([s.evidence_right for s in scores]),
        citations_valid=_percent([s.citations_valid for s in scores]),
        abstained=_percent([s.abstained for s in scores]),
        median_seconds=round(statistics.median(seconds), 3) if seconds else 0.0,
        p95_seconds=round(nearest_rank(seconds, 0.95), 3),
        mean_tool_calls=round(statistics.fmean(s.tool_calls for s in scores), 1) if scores else 0.0,
        mean_steps=round(statistics.fmean(s.steps for s in scores), 1) if scores else 0.0,
    )
