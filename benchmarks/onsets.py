"""Onsets against the truth: when each demo scenario's fault really began on the root's own series, and when the
metric scan says it began, with a trailing baseline alone and with the same hour on earlier days.

The demo world's series follow a daily rhythm; a fault's start is known exactly from the scenario's plan
(``adapters.demo.plan.resolve``). For every series the root fault changes directly (its own error rate, latency
quantiles, CPU, memory...), the error is the detected onset minus the real start (positive: found late). Seeds 1-3
were looked at while building the baselines; report the held-out seeds (default 7-9) as the result.

Run: .venv/bin/python benchmarks/onsets.py [--seeds 7 8 9] [--scale 0.05] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from datetime import timedelta

from adapters.demo.plan import resolve
from adapters.demo.scenario import load_library
from console.commands.eval import demo_worlds, eval_cases
from copilot.evals import eval_settings
from core_client.analysis.scan import Scan, scan_signals
from core_client.settings import load_settings

WINDOW = timedelta(minutes=90)
OUTLIER_MINUTES = 5


async def bench(seeds: list[int], scale: float, names: list[str]) -> None:
    settings = eval_settings(load_settings())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    library = load_library(settings.scenarios)
    open_world = demo_worlds(settings, scale, settings.scenarios)
    errors: dict[str, list[float]] = {"trailing": [], "same-hour": []}
    missed: dict[str, int] = {"trailing": 0, "same-hour": 0}
    outliers: list[str] = []
    print(f"{'scenario':<34}{'seed':>5}{'series':>8}{'trailing med err':>18}{'same-hour med err':>19}")
    for seed in seeds:
        for case in eval_cases(library, names or library.names(), 1):
            scenario = library.get(case.scenario)
            plan = resolve(scenario, seed)
            root = scenario.faults[0]
            own = [i for i in plan.impacts if i.service == root.service and i.start == plan.onsets[0]]
            async with open_world(case.model_copy(update={"seed": seed})) as core:
                now = core.clock.now()
                row: dict[str, list[float]] = {}
                for mode in ("trailing", "same-hour"):
                    report = await scan_signals(
                        core,
                        Scan(
                            since=now - WINDOW,
                            until=now,
                            reference_start=now - 2 * WINDOW,
                            limit=100,
                            same_hour=mode == "same-hour",
                        ),
                    )
                    found = []
                    for impact in own:
                        anomaly = next(
                            (
                                a
                                for a in report.anomalies
                                if a.name == impact.metric
                                and a.service == impact.service
                                and a.labels.get("environment") == impact.environment
                                and (impact.quantile is None or a.labels.get("quantile") == impact.quantile)
                            ),
                            None,
                        )
                        what = f"{impact.metric}{'/' + impact.quantile if impact.quantile else ''}"
                        if anomaly is None:
                            missed[mode] += 1
                            outliers.append(f"{mode}: {case.scenario} seed {seed} {what}: not found")
                            continue
                        truth = now + timedelta(seconds=impact.start)
                        error = (anomaly.onset - truth).total_seconds() / 60
                        found.append(error)
                        if abs(error) > OUTLIER_MINUTES:
                            outliers.append(f"{mode}: {case.scenario} seed {seed} {what}: {error:+.1f} min")
                    row[mode] = found
                    errors[mode] += found
            print(
                f"{case.scenario:<34}{seed:>5}{len(own):>8}"
                f"{_median(row['trailing']):>18}{_median(row['same-hour']):>19}"
            )
    for line in outliers:
        print(f"  off by more than {OUTLIER_MINUTES} min or missed, {line}")
    for mode, values in errors.items():
        absolute = sorted(abs(v) for v in values)
        within = sum(v <= 2 for v in absolute) / len(absolute) if absolute else 0.0
        print(
            f"{mode:>10}: {len(values)} onsets, missed {missed[mode]}; |error| median "
            f"{statistics.median(absolute) if absolute else float('nan'):.1f} min, p90 "
            f"{absolute[int(0.9 * (len(absolute) - 1))] if absolute else float('nan'):.1f} min, "
            f"within 2 min {within:.0%}; found early by more than 10 min: "
            f"{sum(v < -10 for v in values)}"
        )


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):+.1f} min" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--scenario", action="append", default=[])
    args = parser.parse_args()
    asyncio.run(bench(args.seeds, args.scale, args.scenario))


if __name__ == "__main__":
    main()
