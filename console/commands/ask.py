"""``opspilot ask``: put a question to the Copilot, watch it investigate, decide on its approvals, read its answer.

The run is driven in this process, asked by the holder of the CLI's API token (console/commands/identity.py); its
steps stream to the terminal as they happen (state, tool, short result). When it asks for approval, that person
decides (y/n) if policy lets their role (the two-person rule still applies); otherwise the request waits for
an approver in the console and the run waits with it (any worker resumes it once decided). ``--auto-reject``
rejects every approval request, for scripts. The answer comes with numbered citations and absolute links.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.text import Text

from console.backend.records import service_names
from console.commands.identity import cli_actor
from copilot.answer import Evidence
from copilot.events import RunEvent
from copilot.evidence import shown
from copilot.machine import RunState
from copilot.planning import PageContext
from copilot.records import RunView, StepView
from core_client.client import CoreClient
from core_client.errors import Forbidden
from core_client.identity import Actor
from core_client.links import run_link
from core_client.settings import Settings, load_settings

if TYPE_CHECKING:
    from copilot.runtime import Copilot

AUTO_REJECT_REASON = "rejected automatically (opspilot ask --auto-reject)"
RESULT_CHARS = 100

AutoRejectFlag = Annotated[
    bool, typer.Option("--auto-reject", help="Reject every approval request instead of asking (for scripts).")
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the finished run as JSON instead of streaming.")
]


@asynccontextmanager
async def open_copilot(settings: Settings) -> AsyncIterator[Copilot]:
    """A Copilot over the configured providers, closed (its runs handed back) on exit."""
    async with _open_core_and_copilot(settings) as (_, copilot):
        yield copilot


@asynccontextmanager
async def _open_core_and_copilot(settings: Settings) -> AsyncIterator[tuple[CoreClient, Copilot]]:
    # Imported here: the Copilot brings MCP and the planners, which the other commands need not load.
    from copilot.runtime import Copilot

    core = await asyncio.to_thread(CoreClient.from_settings, settings)
    copilot = Copilot.from_settings(settings, core=core)
    try:
        yield core, copilot
    finally:
        await copilot.aclose()
        await core.aclose()


def ask(
    question: Annotated[str, typer.Argument(help='The question, e.g. "why is checkout failing?"')],
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Follow up in this conversation (its id).")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="Scope: this service.")] = None,
    incident: Annotated[str | None, typer.Option("--incident", help="Scope: this incident (its id).")] = None,
    as_json: JsonFlag = False,
    auto_reject: AutoRejectFlag = False,
) -> None:
    """Ask the Copilot a question and watch it investigate."""
    settings = load_settings()
    actor = cli_actor(settings)
    page = PageContext(service=service, incident_id=incident)
    view, name = asyncio.run(
        _ask(settings, question, actor, page, conversation, as_json=as_json, auto_reject=auto_reject)
    )
    finish(view, settings, as_json=as_json, name=name)


async def _ask(
    settings: Settings,
    question: str,
    actor: Actor,
    page: PageContext,
    conversation: str | None,
    *,
    as_json: bool,
    auto_reject: bool,
) -> tuple[RunView, Callable[[str], str]]:
    """The run once it ends (or waits on someone else), and how its services are called (for its printout)."""
    async with _open_core_and_copilot(settings) as (core, copilot):
        run_id = await copilot.ask(question, user=actor, page=page, conversation_id=conversation)
        view = await follow(copilot, run_id, actor, quiet=as_json, auto_reject=auto_reject)
        return view, await service_names(core)


async def follow(copilot: Copilot, run_id: str, actor: Actor, *, quiet: bool, auto_reject: bool) -> RunView:
    """Stream the run's steps until it ends, deciding on approval requests as they come; returns the run.

    Stops early, leaving the run waiting, when a request needs an approver other than ``actor``.
    """
    out = Console(stderr=quiet, highlight=False, soft_wrap=True)
    if not quiet:
        out.print(Text(f"run {run_id}", style="bold"))
    async with aclosing(copilot.subscribe(run_id)) as events:
        async for event in events:
            if not quiet or event.kind == "approval":
                out.print(describe_step(event))
            pending = event.kind == "approval" and event.data.get("status") == "pending"
            if pending and not await _decide(copilot, event, actor, out, auto_reject=auto_reject):
                break
    return await copilot.get_run(run_id)


async def _decide(
    copilot: Copilot, event: RunEvent, actor: Actor, out: Console, *, auto_reject: bool
) -> bool:
    """Approve or reject one pending request as ``actor``; False when it must wait for someone else."""
    request_id = str(event.data["request_id"])
    request = await asyncio.to_thread(copilot.approvals.get, request_id)
    if request.status != "pending":
        return True  # decided already (this is history being replayed): the run goes on by itself
    # Ask only someone policy lets decide; the approval book checks again (and the two-person rule) anyway.
    decision = copilot.approvals.policy.decide(
        request.tool, kind="destructive", environment=request.environment
    )
    if not decision.may_approve(actor.role):
        roles = ", ".join(role.value for role in decision.approver_roles) or "nobody"
        return _waits(
            out,
            f"{actor.user} ({actor.role.value}) may not decide on {request.tool}; approvers: {roles}",
            event,
        )
    try:
        if auto_reject:
            await copilot.reject(request_id, actor, AUTO_REJECT_REASON)
            return True
        # The prompt blocks: it runs in a thread so the run's lease is renewed meanwhile.
        if await asyncio.to_thread(
            typer.confirm, f"Approve {request.tool} (risk {request.risk})?", err=out.stderr
        ):
            await copilot.approve(request_id, actor)
        else:
            reason = await asyncio.to_thread(
                typer.prompt, "Why not? (the Copilot is told)", default="rejected in the CLI", err=out.stderr
            )
            await copilot.reject(request_id, actor, reason)
        return True
    except click.exceptions.Abort:
        return _waits(out, "no answer on the terminal", event)
    except Forbidden as refused:
        return _waits(out, refused.message, event)


def _waits(out: Console, why: str, event: RunEvent) -> bool:
    out.print(
        Text(f"{why}: the request waits for an approver in the console: {event.data['url']}", style="yellow")
    )
    return False


def finish(view: RunView, settings: Settings, *, as_json: bool, name: Callable[[str], str] = str) -> None:
    """Print the run (JSON, or the answer with numbered citations, services shown by ``name``); exit 1 when it
    failed."""
    if as_json:
        typer.echo(view.model_dump_json())
    else:
        print_outcome(view, settings.console_url, Console(highlight=False, soft_wrap=True), name)
    if view.state == RunState.FAILED:
        raise typer.Exit(1)


def describe_step(step: StepView) -> Text:
    """One line for one step: ``[seq] what happened``."""
    data = step.data
    line = Text(f"[{step.seq:>3}] ", style="dim")
    if step.kind == "transition":
        line.append(f"{data['from']} → {data['to']}", style="bold cyan")
        line.append(f"  {data.get('reason') or ''}")
    elif step.kind == "plan":
        decision = data.get("decision", {})
        if decision.get("decision") == "call":
            tools = ", ".join(call["tool"] for call in decision.get("calls", []))
            line.append(f"plan: call {tools}", style="magenta")
        elif decision.get("decision") == "finish":
            line.append("plan: answer", style="magenta")
        else:
            line.append(f"plan: give up: {decision.get('reason', '')}", style="magenta")
    elif step.kind == "tool_call":
        line.append(f"→ {data['tool']} {_short(json.dumps(data.get('arguments', {}), ensure_ascii=False))}")
    elif step.kind == "tool_result":
        ok = bool(data.get("ok"))
        line.append("✓ " if ok else "✗ ", style="green" if ok else "red")
        line.append(f"{data['tool']} ({data.get('duration_ms', 0):.0f} ms) ")
        line.append(
            _short(str(data.get("text") if ok else data.get("error")) or ""), style="dim" if ok else "red"
        )
    elif step.kind == "evaluation":
        line.append(f"evaluate: {data.get('verdict')}  {data.get('note') or ''}")
    elif step.kind == "approval":
        line.append(_approval(data), style="yellow")
    elif step.kind == "note":
        line.append(f"note: {data.get('text', '')}", style="yellow")
    else:
        line.append("answer ready", style="green")
    return line


def _approval(data: dict[str, object]) -> str:
    if data.get("status") == "pending":
        return f"approval needed: {data['tool']} (risk {data.get('risk')}), request {data['request_id']}: {data['url']}"
    decided = f" by {data['decided_by']}" if data.get("decided_by") else ""
    reason = f": {data['reason']}" if data.get("reason") else ""
    return f"approval {data['request_id']}: {data.get('status')}{decided}{reason}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= RESULT_CHARS else flat[: RESULT_CHARS - 1] + "…"


def print_outcome(view: RunView, console_url: str, out: Console, name: Callable[[str], str] = str) -> None:
    """The answer with numbered citations and absolute links, or why the run has no answer. Services read as
    ``name`` calls them (``records.service_names``: "Checkout API" where the records say ``svc-checkout``)."""
    base = console_url.rstrip("/")
    out.print()
    if view.state == RunState.FAILED:
        out.print(Text(f"FAILED: {view.error}", style="bold red"))
    elif view.state == RunState.NEEDS_APPROVAL:
        out.print(Text(f"waiting for approval of request {view.pending_request_id}", style="bold yellow"))
    answer = view.answer
    if answer is not None:
        evidence = {item.id: item for outcome in view.outcomes for item in outcome.evidence}
        numbers: dict[str, int] = {}
        for claim in answer.claims:
            for evidence_id in claim.evidence_ids:
                numbers.setdefault(evidence_id, len(numbers) + 1)
        out.print(Text(answer.summary, style="bold"))
        if answer.root_cause is not None:
            cause = answer.root_cause
            out.print(
                f"Root cause: {name(cause.service)} — {cause.fault_kind} (confidence {answer.confidence:.0%})"
            )
        for index, claim in enumerate(answer.claims, 1):
            marks = "".join(f"[{numbers[item]}]" for item in claim.evidence_ids)
            out.print(Text(f"{index:>2}. {claim.text} {marks}"))
        if numbers:
            out.print(Text("Citations", style="bold"))
            for evidence_id, number in numbers.items():
                item = evidence.get(evidence_id)
                out.print(_citation(number, evidence_id, shown(item, name) if item else None, base))
        if answer.suspicious:
            out.print(
                Text(
                    "Suspicious content (data that addresses an assistant; not obeyed, not a finding)",
                    style="bold yellow",
                )
            )
            for item in answer.suspicious:
                where = f" [{item.evidence_id}]" if item.evidence_id else ""
                out.print(
                    Text(f" - {', '.join(item.reasons)}{where}: ") + Text(repr(item.excerpt), style="dim")
                )
        if answer.missing:
            out.print(Text("Could not check", style="bold"))
            for item in answer.missing:
                out.print(Text(f" - {item}"))
        if answer.proposed_actions:
            out.print(
                Text(f"Proposed (not done; offer one with: opspilot runs propose {view.id} N)", style="bold")
            )
            for index, action in enumerate(answer.proposed_actions, 1):
                out.print(Text(f"{index:>2}. {action.tool}: {action.reason}"))
    out.print(Text(f"run {view.id}: {run_link(view.id).absolute(base)}", style="dim"))


def _citation(number: int, evidence_id: str, item: Evidence | None, base: str) -> Text:
    # What it is (its label), not its id: the id names the service by its key ("anomaly:svc-checkout:...").
    line = Text(f" [{number}] {item.label if item is not None else evidence_id}")
    if item is not None:
        line.append(f" — {_short(item.excerpt)}", style="dim")
        if item.link:
            link = base + item.link if item.link.startswith("/") else item.link
            line.append(f"\n      {link}", style="blue")
    return line
