"""``opspilot demo``: build (or reuse) a demo world and make it the one the demo providers serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from adapters.demo.build import WorldSpec
from adapters.demo.scenario import load_library
from adapters.demo.world import DEFAULT_SCENARIO, prepare_world
from console.commands.tables import Col, print_table
from core_client.settings import load_settings

app = typer.Typer(help="Build or reset the embedded demo world.", invoke_without_command=True)


@app.callback()
def demo(
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="The active scenario (see --list).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Varies noise, onsets and decoys.")] = None,
    scale: Annotated[
        float | None, typer.Option("--scale", min=0.01, help="1 = about 200k log lines; 5 = 1M+.")
    ] = None,
    scenarios: Annotated[
        Path | None, typer.Option("--scenarios", help="An extra folder of scenario files.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
) -> None:
    """Build the world for (scenario, seed, scale), or reuse its cached copy, and make it active."""
    settings = load_settings()
    extra = scenarios or settings.scenarios
    console = Console()
    library = load_library(extra)
    if list_:
        scenarios_ = [library.get(name) for name in library.names()]
        print_table(
            (Col("name"), Col("title", wrap=True), Col("question", wrap=True)),
            [(name, s.title, s.question) for name, s in zip(library.names(), scenarios_, strict=True)],
            console=console,
        )
        return
    spec = WorldSpec(
        seed if seed is not None else settings.demo.seed,
        scenario or settings.demo.scenario or DEFAULT_SCENARIO,
        scale if scale is not None else settings.demo.scale,
    )
    library.get(spec.scenario)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        prepared = prepare_world(settings, spec, scenarios_dir=extra, progress=report)
    if prepared.built:
        console.print(f"built world {spec.key} in {prepared.seconds:.1f} s: {prepared.path}")
    else:
        console.print(f"world {spec.key} was cached: {prepared.path}")
    console.print(f"active scenario: {spec.scenario} (seed {spec.seed}, scale {spec.scale:g})")
