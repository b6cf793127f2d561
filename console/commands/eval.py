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
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from adapters.demo.build import WorldSpec
from adapters.demo.generate import (
    SEED_RANGES,
    Coverage,
    Generated,
    generate_set,
    kind_questions,
    split_of,
)
from adapters.demo.scenario import ScenarioLibrary, load_library
from adapters.demo.world import prepare_world
from copilot.answer import QuestionKind
from copilot.evals import (
    DEFAULT_SEEDS,
    EvalCase,
    EvalReport,
    Expected,
    OpenWorld,
    Score,
    VerdictCheck,
    eval_settings,
    run_evals,
)
from copilot.planning import PageContext
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
    generate: Annotated[
        int | None,
        typer.Option("--generate", min=1, help="Instead: N generated scenarios, seeds --seed .. --seed+N-1."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, help="First generator seed (default: the start of --split)."),
    ] = None,
    split: Annotated[
        str,
        typer.Option("--split", help="Generator seed range: development, held-out or ci."),
    ] = "development",
    kinds: Annotated[
        bool,
        typer.Option(
            "--kinds", help="With --generate: also ask each world one question of every other kind."
        ),
    ] = False,
    kind_cases_path: Annotated[
        Path | None,
        typer.Option(
            "--kind-cases", help="Instead: the question-kind cases of this YAML file (tests/evals/kinds)."
        ),
    ] = None,
) -> None:
    """Score the offline investigator and two naive baselines on every scenario and seed, or on generated ones."""
    base = load_settings()
    extra = scenarios or base.scenarios
    settings = eval_settings(base)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    if generate is not None:
        if split not in SEED_RANGES:
            raise typer.BadParameter(
                f"no split {split!r}; use one of {', '.join(SEED_RANGES)}", param_hint="--split"
            )
        first = SEED_RANGES[split].start if seed is None else seed
        folder = settings.data_dir / "generated"
        items, coverage = generate_set(range(first, first + generate), folder)
        console.print(coverage_table(coverage))
        cases = generated_cases(items, with_kinds=kinds)
        extra = folder
        seeds = 1
    elif kind_cases_path is not None:
        cases = kind_cases(load_library(extra), kind_cases_path)
        seeds = 1
    else:
        library = load_library(extra)
        cases = eval_cases(library, only or library.names(), seeds)
    held_out = any(case.held_out for case in cases)

    def progress(score: Score) -> None:
        if held_out:
            return  # held-out cases are reported only in total
        mark = "[green]right[/]" if score.fully_right else "[red]wrong[/]"
        console.print(
            f"{score.scenario} seed {score.seed} {score.question_kind} {score.planner}: {mark} "
            f"({_said(score)}, {score.seconds:.2f} s)",
            highlight=False,
        )

    report = run(settings, cases, scale=scale, seeds=seeds, scenarios=extra, progress=progress)
    if not held_out:
        console.print(cases_table(report))
    console.print(summary_table(report))
    investigator = report.summary()[0] if report.scores else None
    if investigator is not None:
        console.print(breakdown_table(report, investigator.planner))
        console.print(question_kind_table(report))
        console.print(reliability_table(report))
        console.print(
            f"{investigator.planner}: {investigator.fully_right:g}% fully right, "
            f"{investigator.abstained:g}% abstained"
        )
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


class KindCase(BaseModel):
    """One hand-written question-kind case: a question (maybe asked on a page) in a scenario's world, the kind it
    must be read as and what its verdict must say."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    seed: int = 1
    question: str
    page: PageContext | None = None
    kind: QuestionKind
    verdict: VerdictCheck


def kind_cases(library: ScenarioLibrary, path: Path) -> list[EvalCase]:
    """The question-kind cases of the YAML file ``path`` (a list of :class:`KindCase`), each in its scenario's
    world; the root cause expected is the scenario's own."""
    try:
        rows = TypeAdapter(list[KindCase]).validate_python(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as error:
        raise typer.BadParameter(
            f"{path}: {str(error).splitlines()[0]}", param_hint="--kind-cases"
        ) from error
    cases = []
    for row in rows:
        truth = library.get(row.scenario).expected
        expected = Expected(
            service=truth.service,
            fault_kind=truth.fault_kind,
            evidence=list(truth.evidence),
            question_kind=row.kind.value,
            verdict=row.verdict,
        )
        cases.append(
            EvalCase(
                scenario=row.scenario, seed=row.seed, question=row.question, expected=expected, page=row.page
            )
        )
    return cases


def generated_cases(items: list[Generated], *, with_kinds: bool = False) -> list[EvalCase]:
    """A root-cause case per generated scenario, in the world of its own seed (and, ``with_kinds``, one case per
    other question kind in the same world); held-out seeds are marked so."""
    cases = []
    for item in items:
        truth = item.scenario.expected
        expected = Expected(service=truth.service, fault_kind=truth.fault_kind, evidence=list(truth.evidence))
        held_out = split_of(item.seed) == "held-out"
        name = item.scenario.name
        cases.append(
            EvalCase(
                scenario=name,
                seed=item.seed,
                question=item.scenario.question,
                expected=expected,
                held_out=held_out,
            )
        )
        for asked in kind_questions(item) if with_kinds else []:
            check = VerdictCheck(
                mentions=list(asked.mentions), any_of=list(asked.any_of), none_of=list(asked.none_of)
            )
            kind_expected = expected.model_copy(update={"question_kind": asked.kind, "verdict": check})
            cases.append(
                EvalCase(
                    scenario=name,
                    seed=item.seed,
                    question=asked.question,
                    expected=kind_expected,
                    held_out=held_out,
                )
            )
    return cases


def coverage_table(coverage: Coverage) -> Table:
    """How often each fault kind, propagation depth and decoy came up in the generated set."""
    table = Table(
        "dimension", "value", "cases", "%", title=f"generated coverage ({coverage.cases} scenarios)"
    )
    for dimension, value, count, percent in coverage.rows():
        table.add_row(dimension, value, str(count), f"{percent:.0f}%")
    return table


def breakdown_table(report: EvalReport, planner: str) -> Table:
    """Per expected fault kind, every planner's share fully right side by side."""
    planners = report.planners()
    table = Table("fault kind", "runs", *planners, title="fully right per fault kind")
    columns = {p: {row.value: row for row in report.by_fault_kind(p)} for p in planners}
    for row in report.by_fault_kind(planner):
        table.add_row(
            row.value, str(row.runs), *(f"{columns[p][row.value].fully_right:g}%" for p in planners)
        )
    return table


def question_kind_table(report: EvalReport) -> Table:
    """Per question kind asked, every planner's share fully right side by side."""
    planners = report.planners()
    table = Table("question kind", "runs", *planners, title="fully right per question kind")
    columns = {p: {row.value: row for row in report.by_question_kind(p)} for p in planners}
    for row in report.by_question_kind(planners[0]):
        table.add_row(
            row.value, str(row.runs), *(f"{columns[p][row.value].fully_right:g}%" for p in planners)
        )
    return table


def reliability_table(report: EvalReport) -> Table:
    """Stated confidence against observed accuracy for each planner."""
    table = Table("planner", "confidence", "runs", "mean stated", "observed fully right", title="reliability")
    for planner in report.planners():
        for bucket in report.reliability(planner):
            table.add_row(
                planner,
                f"{bucket.low:.1f}-{bucket.high:.1f}",
                str(bucket.runs),
                f"{100 * bucket.mean_confidence:.0f}%",
                f"{bucket.fully_right:g}%",
            )
    return table


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
    rows: dict[tuple[str, int, str], dict[str, Score]] = {}
    for score in report.scores:
        rows.setdefault((score.scenario, score.seed, score.question_kind), {})[score.planner] = score
    for (scenario, seed, kind), by_planner in rows.items():
        label = scenario if kind == QuestionKind.WHY_FAILING.value else f"{scenario} ({kind})"
        table.add_row(label, str(seed), *(_cell(by_planner.get(p)) for p in planners))
    return table


def summary_table(report: EvalReport) -> Table:
    table = Table(
        "planner",
        "fully right",
        "service",
        "kind",
        "evidence",
        "citations",
        "abstained",
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
            f"{line.abstained:g}%",
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


def _said(score: Score) -> str:
    """What the run answered: its root cause, or for another question kind the kind it read."""
    if score.question_kind == QuestionKind.WHY_FAILING.value:
        return f"{score.service}/{score.fault_kind}"
    verdict = "verdict right" if score.verdict_right else "verdict wrong"
    return f"read as {score.answered_kind or 'no kind'}, {verdict}"


def _cell(score: Score | None) -> str:
    """A tick when fully right; otherwise a cross and what was wrong."""
    if score is None:
        return ""
    if score.fully_right:
        return "[green]\u2713[/]"
    if score.question_kind != QuestionKind.WHY_FAILING.value:
        return "[red]\u2717[/] " + _said(score)
    wrong = [
        *([score.service or "no service"] if not score.service_right else []),
        *([score.fault_kind or "no kind"] if not score.kind_right else []),
        *([f"no {k}" for k in score.missing_evidence]),
        *(["invalid citations"] if not score.citations_valid else []),
    ]
    return "[red]\u2717[/] " + ", ".join(wrong)
