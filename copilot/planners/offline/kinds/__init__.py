"""One module per question kind: its rounds of reads and how it concludes.

Every kind starts from the shared context round (the service graph, open incidents, firing alerts, the metric
catalog, the page's or question's incident; ``copilot.planners.offline.rounds.context_round``). A kind module
then exposes:

- ``ROUNDS``: the rounds after that one, each a :data:`Round` that returns the calls to make (concurrently); a round
  that returns none is skipped;
- ``THOUGHTS``: one line per round, shown as the step's thought;
- ``conclude(context, findings) -> Answer``: the answer from what the run's calls returned, its ``kind`` set and
  its verdict (first sentence) answering the question.

:data:`KINDS` maps each :class:`~copilot.answer.QuestionKind` to its module; a kind not in it is answered as a
root-cause question (what the investigator did before kinds existed).
"""

from __future__ import annotations

from typing import Protocol

from copilot.answer import Answer, QuestionKind
from copilot.planners.offline.kinds import (
    change_verdict,
    health,
    history,
    log_summary,
    ownership,
    situation,
    unknown,
    why_failing,
)
from copilot.planners.offline.readings import Findings
from copilot.planners.offline.rounds import Round
from copilot.planning import PlanContext


class KindModule(Protocol):
    """What a kind module exposes (see the module docstring)."""

    ROUNDS: tuple[Round, ...]
    THOUGHTS: tuple[str, ...]

    def conclude(self, context: PlanContext, findings: Findings) -> Answer:
        """The answer from everything the run's calls returned."""
        ...


KINDS: dict[QuestionKind, KindModule] = {
    QuestionKind.WHY_FAILING: why_failing,
    QuestionKind.CHANGE_VERDICT: change_verdict,
    QuestionKind.LOG_SUMMARY: log_summary,
    QuestionKind.HISTORY: history,
    QuestionKind.HEALTH: health,
    QuestionKind.SITUATION: situation,
    QuestionKind.OWNERSHIP: ownership,
    QuestionKind.UNKNOWN: unknown,
}


def kind_module(kind: QuestionKind) -> KindModule:
    """The module that answers questions of ``kind``."""
    return KINDS.get(kind, why_failing)
