"""The offline investigator: deterministic, no network, a few compact rounds of concurrent reads, then an Answer.

Every question starts with the shared context round: the service catalog (the dependency graph), open incidents,
firing alerts, the metric catalog, and the page's (or the question's) incident. Then the question is read once
(``copilot.planners.offline.questions``: its kind, window, incident and change named, follow-ups resolved against
the conversation) and its kind's module (``copilot.planners.offline.kinds``) runs its own rounds and concludes.

The planner keeps nothing between calls: the round it is in and the question as read live in
``PlanContext.memory``, everything else is read back from the outcomes.
"""

from __future__ import annotations

from copilot.answer import Answer
from copilot.planners.offline.kinds import KindModule, kind_module
from copilot.planners.offline.questions import MEMORY_KEY, question_of
from copilot.planners.offline.readings import read_findings
from copilot.planners.offline.rounds import advance, context_round, stage_of
from copilot.planning import CallTools, Evaluation, Finish, Plan, PlanContext
from core_client.settings import Settings

# Stage 0 is the shared context round; stage n (n >= 1) runs the kind's round n-1.
CONTEXT_THOUGHT = "Read the service graph, open incidents, firing alerts and the metric catalog."


class OfflineInvestigator:
    """The default planner: reads the data through OpsPilot's MCP tools and explains what it found."""

    name = "offline"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    async def plan(self, context: PlanContext) -> Plan:
        """The next round of reads, or the answer once every round is in."""
        stage = stage_of(context, MEMORY_KEY)
        if stage == 0:
            advance(context, MEMORY_KEY, 1)
            calls = context_round(context)
            if calls:
                return CallTools(calls=calls, thought=CONTEXT_THOUGHT)
            stage = 1
        kind = _kind(context)
        while stage <= len(kind.ROUNDS):
            calls = kind.ROUNDS[stage - 1](context, read_findings(context))
            stage += 1
            advance(context, MEMORY_KEY, stage)
            if calls:
                return CallTools(calls=calls, thought=kind.THOUGHTS[stage - 2])
        return Finish(answer=self.conclude(context))

    async def evaluate(self, context: PlanContext) -> Evaluation:
        """Go on until the kind's rounds are in; then the answer."""
        stage = stage_of(context, MEMORY_KEY)
        kind = _kind(context)
        done = len(kind.ROUNDS) + 1
        if stage == done - 1 and stage >= 1 and not kind.ROUNDS[-1](context, read_findings(context)):
            # The last round has nothing to ask (the usual case): the answer is ready now, not after an empty round.
            stage = done
            advance(context, MEMORY_KEY, stage)
        if stage >= done:
            return Evaluation(verdict="done", answer=self.conclude(context))
        return Evaluation(verdict="continue", note=f"round {stage} of {done} gathered")

    def conclude(self, context: PlanContext) -> Answer:
        """The answer from everything the run's calls returned, by the question's kind."""
        return _kind(context).conclude(context, read_findings(context))


def _kind(context: PlanContext) -> KindModule:
    """The module of the question's kind (the question is read once, after the context round)."""
    return kind_module(question_of(context).kind)
