"""``opspilot runs``: list and show past Copilot runs; cancel, resume or follow up on one; draft a postmortem or a
status update from one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from console.backend.records import service_names
from console.commands.ask import (
    AutoRejectFlag,
    JsonFlag,
    describe_step,
    finish,
    follow,
    open_copilot,
    print_outcome,
)
from console.commands.identity import cli_actor, open_directory, signed_in
from console.commands.tables import Col, print_table
from copilot.machine import RunState
from copilot.records import Lease, RunView
from copilot.store import RunStore
from copilot.writeups.document import Document
from copilot.writeups.drafts import DraftKind, DraftTarget
from copilot.writeups.markdown import to_markdown
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.identity import Actor
from core_client.settings import Settings, load_settings
from core_client.store import Database

app = typer.Typer(help="Copilot runs: what was asked, what was found, what waits.", no_args_is_help=True)

RunArgument = Annotated[str, typer.Argument(help="The run's id.")]


def open_store(settings: Settings) -> RunStore:
    """The run store of the configured database, migrated to the latest schema."""
    return RunStore(Database.from_settings(settings, upgrade=True), clock=SystemClock())


@app.command("list")
def list_runs(
    asked_by: Annotated[
        str | None, typer.Option("--asked-by", metavar="USERNAME", help="Only the runs this user asked.")
    ] = None,
    state: Annotated[RunState | None, typer.Option("--state", help="Only runs in this state.")] = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Only this conversation.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for machines instead of a table.")
    ] = False,
) -> None:
    """List runs, newest first."""
    settings = load_settings()
    signed_in(open_directory(settings))
    runs = open_store(settings).list_runs(
        user=asked_by, state=state, conversation_id=conversation, limit=limit
    )
    if as_json:
        typer.echo("[" + ",".join(run.model_dump_json() for run in runs) + "]")
        return
    columns = (
        Col("id"),
        Col("state"),
        Col("user"),
        Col("planner", optional=True),
        Col("steps", optional=True),
        Col("created"),
        Col("question", wrap=True),
    )
    rows = [
        (
            run.id,
            run.state.value,
            run.user,
            run.planner,
            str(run.step_count),
            run.created_at.strftime("%Y-%m-%d %H:%M"),
            run.question if run.error is None else f"{run.question} ({run.error})",
        )
        for run in runs
    ]
    print_table(columns, rows)


@app.command("show")
def show(run_id: RunArgument, as_json: JsonFlag = False) -> None:
    """Show one run: every step, then its answer with numbered citations, its services named as the catalog
    names them."""
    settings = load_settings()
    signed_in(open_directory(settings))
    view = open_store(settings).get(run_id)
    if as_json:
        typer.echo(view.model_dump_json())
        return
    name = asyncio.run(_service_names(settings))
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        Text(
            f"{view.question}  ({view.state.value}, asked by {view.user}, planner {view.planner})",
            style="bold",
        )
    )
    for step in view.steps:
        out.print(describe_step(step))
    print_outcome(view, settings.console_url, out, name)


async def _service_names(settings: Settings) -> Callable[[str], str]:
    core = await asyncio.to_thread(CoreClient.from_settings, settings)
    try:
        return await service_names(core)
    finally:
        await core.aclose()


@app.command("cancel")
def cancel(run_id: RunArgument) -> None:
    """Cancel a live run (yours, or anyone's as an approver): it ends FAILED, "cancelled by <you>"."""
    settings = load_settings()
    actor = cli_actor(settings)
    view = asyncio.run(_cancel(settings, run_id, actor))
    typer.echo(f"cancelled {view.id}: {view.error}")


async def _cancel(settings: Settings, run_id: str, actor: Actor) -> RunView:
    async with open_copilot(settings) as copilot:
        return await copilot.cancel(run_id, actor)


@app.command("resume")
def resume(
    run_id: RunArgument,
    auto_reject: AutoRejectFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Drive a run here, deciding on its approvals as you (the API token's holder): at once if nobody drives it,
    else the moment the worker holding it lets go or its lease lapses (the wait is announced with that worker and
    the time)."""
    settings = load_settings()
    actor = cli_actor(settings)
    view = asyncio.run(_resume(settings, run_id, actor, as_json=as_json, auto_reject=auto_reject))
    finish(view, settings, as_json=as_json)


async def _resume(
    settings: Settings, run_id: str, actor: Actor, *, as_json: bool, auto_reject: bool
) -> RunView:
    out = Console(stderr=True, highlight=False, soft_wrap=True)
    async with open_copilot(settings) as copilot:
        copilot.resume(run_id, waiting=lambda lease: out.print(waiting_for(lease, SystemClock().now())))
        return await follow(copilot, run_id, actor, quiet=as_json, auto_reject=auto_reject)


def waiting_for(lease: Lease, now: datetime) -> Text:
    """What a resume waits for: the worker holding the run, and when its lease lapses unless renewed."""
    assert lease.expires_at is not None
    left = max((lease.expires_at - now).total_seconds(), 0.0)
    return Text(
        f"run {lease.run_id} ({lease.state.value}) is held by worker {lease.owner} until "
        f"{lease.expires_at:%H:%M:%S} UTC ({left:.0f} s from now, unless that worker renews it); "
        "waiting to take it over the moment its lease lapses or is released. If that worker finishes the "
        "run first, its steps follow here.",
        style="yellow",
    )


@app.command("propose")
def propose(
    run_id: RunArgument,
    number: Annotated[int, typer.Argument(min=1, help="Which proposed action of the answer (from 1).")],
    auto_reject: AutoRejectFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Offer a finished run's proposed action for approval, as a follow-up run; nothing is done until a person
    approves it (here, when policy lets your role, or in the console)."""
    settings = load_settings()
    actor = cli_actor(settings)
    view = asyncio.run(
        _propose(settings, run_id, number - 1, actor, as_json=as_json, auto_reject=auto_reject)
    )
    finish(view, settings, as_json=as_json)


async def _propose(
    settings: Settings, run_id: str, index: int, actor: Actor, *, as_json: bool, auto_reject: bool
) -> RunView:
    async with open_copilot(settings) as copilot:
        follow_up = await copilot.propose(run_id, index, by=actor)
        return await follow(copilot, follow_up.id, actor, quiet=as_json, auto_reject=auto_reject)


@app.command("draft")
def draft(
    run_id: RunArgument,
    kind: Annotated[
        DraftKind, typer.Option("--kind", help="postmortem, or status (a stakeholder status update).")
    ] = "postmortem",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Markdown to this file instead of stdout.")
    ] = None,
    post: Annotated[
        DraftTarget | None,
        typer.Option("--post", help="Offer it for posting, through approval: ticket, note or message."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Where a message goes (--post message).")
    ] = None,
    auto_reject: AutoRejectFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """A postmortem draft or a status update written from a finished run's cited evidence, as Markdown; with
    --post, offered as a ticket, a timeline note or a message that waits for a person's approval."""
    settings = load_settings()
    actor = cli_actor(settings)
    if post is not None:
        view = asyncio.run(_post_draft(settings, run_id, kind, post, actor, channel, as_json, auto_reject))
        finish(view, settings, as_json=as_json)
        return
    document = asyncio.run(_draft(settings, run_id, kind, actor))
    if as_json:
        typer.echo(document.model_dump_json())
        return
    markdown = to_markdown(document, with_title=True)
    if output is None:
        typer.echo(markdown, nl=False)
        return
    output.write_text(markdown, encoding="utf-8")
    typer.echo(f"wrote {document.title!r} to {output}", err=True)


async def _draft(settings: Settings, run_id: str, kind: DraftKind, actor: Actor) -> Document:
    async with open_copilot(settings) as copilot:
        return await copilot.draft(run_id, kind, by=actor)


async def _post_draft(
    settings: Settings,
    run_id: str,
    kind: DraftKind,
    target: DraftTarget,
    actor: Actor,
    channel: str | None,
    as_json: bool,
    auto_reject: bool,
) -> RunView:
    async with open_copilot(settings) as copilot:
        follow_up = await copilot.post_draft(run_id, kind, target, by=actor, channel=channel)
        return await follow(copilot, follow_up.id, actor, quiet=as_json, auto_reject=auto_reject)
