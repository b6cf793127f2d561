"""``opspilot eval``: every demo scenario under N seeds, asked of the offline investigator and two naive
baselines through the real runner; prints a table, the share fully right, and optionally JSON.

The console is the composition root: this is where a scenario becomes a world (``adapters.demo``), which the
copilot's evals only ever see as a :class:`CoreClient`. Eval worlds and runs live in ``<data_dir>/evals``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adapters.demo.build import WorldSpec
from adapters.demo.scenario import ScenarioLibrary, load_library
from adapters.demo.world import prepare_world
from copilot.evals import (
    DEFAULT_SEEDS,
    EvalCase,
    EvalReport,
    Expected,
    OpenWorld,
    Score,
    eval_settings,
    run_evals,
)
from core_client.client import CoreClient
from core_client.settings import Settings, load_settings

DEFAULT_SCALE = 0.05


def evaluate(
    scenarios: Annotated[
        Path | None, typer.Option("--scenarios", help="An extra folder of scenario files.")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per scenario (1..N).")] = DEFAULT_SEEDS,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores and summary as JSON here.")
    ] = None,
    scale: Annotated[
        float,
        typer.Option("--scale", min=0.01, help="World size; small worlds keep every scenario's signals."),
    ] = DEFAULT_SCALE,
    only: Annotated[
        list[str] | None, typer.Option("--scenario", help="Only this scenario (repeatable).")
    ] = None,
) -> None:
    """Score the offline investigator and two naive baselines on every scenario and seed."""
    base = load_settings()
    extra = scenarios or base.scenarios
    settings = eval_settings(base)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    library = load_library(extra)
    cases = eval_cases(library, only or library.names(), seeds)
    console = Console()

    def progress(score: Score) -> None:
        mark = "[green]right[/]" if score.fully_right else "[red]wrong[/]"
        console.print(
            f"{score.scenario} seed {score.seed} {score.planner}: {mark} "
            f"({score.service}/{score.fault_kind}, {score.seconds:.2f} s)",
            highlight=False,
        )

    report = run(settings, cases, scale=scale, seeds=seeds, scenarios=extra, progress=progress)
    console.print(cases_table(report))
    console.print(summary_table(report))
    investigator = report.summary()[0] if report.scores else None
    if investigator is not None:
        console.print(f"{investigator.planner}: {investigator.fully_right:g}% fully right")
    if json_path is not None:
        json_path.write_text(report_json(report))
        console.print(f"wrote {json_path}")


def run(
    settings: Settings,
    cases: list[EvalCase],
    *,
    scale: float,
    seeds: int,
    scenarios: Path | None = None,
    progress: Callable[[Score], None] | None = None,
) -> EvalReport:
    """Run the evals over demo worlds of ``scale``, each built once and cached under ``settings.data_dir``."""
    return asyncio.run(
        run_evals(
            cases,
            settings=settings,
            open_world=demo_worlds(settings, scale, scenarios),
            scale=scale,
            seeds=seeds,
            progress=progress,
        )
    )


def eval_cases(library: ScenarioLibrary, names: list[str], seeds: int) -> list[EvalCase]:
    """One case per scenario and seed (1..seeds); the expected answer goes to the scorer only."""
    cases = []
    for name in names:
        scenario = library.get(name)
        expected = Expected(
            service=scenario.expected.service,
            fault_kind=scenario.expected.fault_kind,
            evidence=list(scenario.expected.evidence),
        )
        cases += [
            EvalCase(scenario=name, seed=seed, question=scenario.question, expected=expected)
            for seed in range(1, seeds + 1)
        ]
    return cases


def demo_worlds(settings: Settings, scale: float, scenarios: Path | None) -> OpenWorld:
    """Opens each case's demo world (built once, then cached) as a CoreClient over the eval settings."""

    @asynccontextmanager
    async def open_world(case: EvalCase) -> AsyncIterator[CoreClient]:
        spec = WorldSpec(case.seed, case.scenario, scale)
        await asyncio.to_thread(prepare_world, settings, spec, scenarios_dir=scenarios)
        core = await asyncio.to_thread(CoreClient.from_settings, settings)
        try:
            await core.health()  # opens the world, so the first run is not charged for it
            yield core
        finally:
            await core.aclose()

    return open_world


def cases_table(report: EvalReport) -> Table:
    """One row per scenario and seed, one column per planner: what it blamed, and whether it was right."""
    planners = list(dict.fromkeys(score.planner for score in report.scores))
    table = Table("scenario", "seed", *planners, title=f"opspilot eval (scale {report.scale:g})")
    rows: dict[tuple[str, int], dict[str, Score]] = {}
    for score in report.scores:
        rows.setdefault((score.scenario, score.seed), {})[score.planner] = score
    for (scenario, seed), by_planner in rows.items():
        table.add_row(scenario, str(seed), *(_cell(by_planner.get(p)) for p in planners))
    return table


def summary_table(report: EvalReport) -> Table:
    table = Table(
        "planner",
        "fully right",
        "service",
        "kind",
        "evidence",
        "citations",
        "median s",
        "p95 s",
        "calls",
        "steps",
        title="summary (% of scenario-seed runs)",
    )
    for line in report.summary():
        table.add_row(
            line.planner,
            f"{line.fully_right:g}%",
            f"{line.service_right:g}%",
            f"{line.kind_right:g}%",
            f"{line.evidence_right:g}%",
            f"{line.citations_valid:g}%",
            f"{line.median_seconds:.2f}",
            f"{line.p95_seconds:.2f}",
            f"{line.mean_tool_calls:g}",
            f"{line.mean_steps:g}",
        )
    return table


def report_json(report: EvalReport) -> str:
    """The report's scores and per-planner summary as indented JSON."""
    data = report.model_dump(mode="json")
    data["summary"] = [line.model_dump(mode="json") for line in report.summary()]
    return json.dumps(data, indent=2)


def _cell(score: Score | None) -> str:
    """A tick when fully right; otherwise a cross and what was wrong."""
    if score is None:
        return ""
    if score.fully_right:
        return "[green]\u2713[/]"
    wrong = [
        *([score.service or "no service"] if not score.service_right else []),
        *([score.fault_kind or "no kind"] if not score.kind_right else []),
        *([f"no {k}" for k in score.missing_evidence]),
        *(["invalid citations"] if not score.citations_valid else []),
    ]
    return "[red]\u2717[/] " + ", ".join(wrong)
