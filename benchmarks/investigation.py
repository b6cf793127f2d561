"""Offline investigation: wall time per demo scenario (median, p95) and tool calls per run, through the real runner.

Each scenario's world (seed 1) is built once and cached under ``<data_dir>/evals``; the investigation is then asked
``--repeat`` times. "active" is the run's own clock (time it spent planning and calling tools, which DESIGN.md's
budget is about: median under 2 s); "wall" adds what the runner does around it (opening the toolbox, persisting).

Run: .venv/bin/python benchmarks/investigation.py [--scale 1] [--repeat 5] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from adapters.demo.scenario import load_library
from console.commands.eval import demo_worlds, eval_cases
from copilot.evals import EVAL_USER, eval_settings, nearest_rank
from copilot.planners.offline import OfflineInvestigator
from copilot.runtime import Copilot
from core_client.settings import load_settings


async def bench(scale: float, repeat: int, names: list[str]) -> None:
    settings = eval_settings(load_settings())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    library = load_library(settings.scenarios)
    open_world = demo_worlds(settings, scale, settings.scenarios)
    every_active: list[float] = []
    print(
        f"{'scenario':<32}{'active med':>11}{'p95':>7}{'wall med':>10}{'p95':>7}{'calls':>7}{'rounds':>8}  right"
    )
    for case in eval_cases(library, names or library.names(), 1):
        active: list[float] = []
        wall: list[float] = []
        calls: list[int] = []
        rounds: list[int] = []
        right = True
        async with open_world(case) as core:
            copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
            try:
                for _ in range(repeat):
                    started = time.perf_counter()
                    view = await copilot.investigate(case.question, user=EVAL_USER)
                    wall.append(time.perf_counter() - started)
                    active.append(view.active_seconds)
                    calls.append(len(view.outcomes))
                    rounds.append(sum(1 for step in view.steps if step.kind == "plan"))
                    cause = view.answer.root_cause if view.answer else None
                    right = right and cause is not None and cause.service == case.expected.service
            finally:
                await copilot.aclose()
        every_active += active
        print(
            f"{case.scenario:<32}{statistics.median(active):>11.2f}{nearest_rank(active, 0.95):>7.2f}"
            f"{statistics.median(wall):>10.2f}{nearest_rank(wall, 0.95):>7.2f}"
            f"{statistics.fmean(calls):>7.1f}{statistics.fmean(rounds):>8.1f}  {'yes' if right else 'NO'}"
        )
    print(
        f"\nall scenarios (scale {scale:g}, {repeat} runs each): active median "
        f"{statistics.median(every_active):.2f} s, p95 {nearest_rank(every_active, 0.95):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="world size (1 = about 200k log lines)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario")
    parser.add_argument("--scenario", action="append", default=[], help="only this scenario (repeatable)")
    arguments = parser.parse_args()
    asyncio.run(bench(arguments.scale, arguments.repeat, arguments.scenario))


if __name__ == "__main__":
    main()
