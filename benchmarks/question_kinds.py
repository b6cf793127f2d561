"""Offline answer time per question kind (median, p95) over one demo world, beside the root-cause question.

The world (a scenario at seed 1) is built once and cached under ``<data_dir>/evals``; each question is then asked
``--repeat`` times through the real runner. "active" is the run's own clock (planning and tool calls); "wall" adds
what the runner does around it. The kind column is the kind the answer says it is, so a misread question shows.
Runs only by hand; say the machine's load (``uptime``) beside the figures.

Run: .venv/bin/python benchmarks/question_kinds.py [--scale 1] [--repeat 5] [--scenario orders-pool-exhaustion]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from adapters.demo.scenario import load_library
from console.commands.eval import demo_worlds
from copilot.evals import EVAL_USER, EvalCase, Expected, eval_settings, nearest_rank
from copilot.planners.offline import OfflineInvestigator
from copilot.runtime import Copilot
from core_client.settings import load_settings

# One question per kind; the root-cause question is the scenario's own. "{service}" is the scenario's root.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("why-failing", ""),
    ("health", "Is {service} healthy?"),
    ("change-verdict", "What changed before the trouble began?"),
    ("situation", "What's going on?"),
    ("ownership", "Who owns {service}?"),
    ("log-summary", "What did {service} log in the last hour?"),
    ("history", "Has {service} had this before?"),
    # "this" with no service named: the fault under investigation, whose past incidents' logs are mined too.
    ("history (this)", "Has this happened before?"),
)


async def bench(scale: float, repeat: int, scenario: str) -> None:
    settings = eval_settings(load_settings())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    library = load_library(settings.scenarios)
    truth = library.get(scenario)
    expected = Expected(service=truth.expected.service, fault_kind=truth.expected.fault_kind)
    world = EvalCase(scenario=scenario, seed=1, question=truth.question, expected=expected)
    load = os.getloadavg()
    print(
        f"{scenario} at scale {scale:g}, {repeat} runs per question; load average {load[0]:.1f} {load[1]:.1f}"
    )
    print(f"{'asked':<16}{'answered':<16}{'active med':>11}{'p95':>7}{'wall med':>10}{'p95':>7}{'calls':>7}")
    async with demo_worlds(settings, scale, settings.scenarios)(world) as core:
        copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
        try:
            for asked, template in QUESTIONS:
                question = template.format(service=expected.service) if template else truth.question
                active: list[float] = []
                wall: list[float] = []
                calls: list[int] = []
                answered = "-"
                for _ in range(repeat):
                    started = time.perf_counter()
                    view = await copilot.investigate(question, user=EVAL_USER)
                    wall.append(time.perf_counter() - started)
                    active.append(view.active_seconds)
                    calls.append(len(view.outcomes))
                    kind = view.answer.kind if view.answer is not None else None
                    answered = kind.value if kind is not None else "none"
                print(
                    f"{asked:<16}{answered:<16}{statistics.median(active):>11.2f}{nearest_rank(active, 0.95):>7.2f}"
                    f"{statistics.median(wall):>10.2f}{nearest_rank(wall, 0.95):>7.2f}{statistics.fmean(calls):>7.1f}"
                )
        finally:
            await copilot.aclose()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="world size (1 = the default world)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per question")
    parser.add_argument("--scenario", default="orders-pool-exhaustion", help="the world's active scenario")
    arguments = parser.parse_args()
    asyncio.run(bench(arguments.scale, arguments.repeat, arguments.scenario))


if __name__ == "__main__":
    main()
