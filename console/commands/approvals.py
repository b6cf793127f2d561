"""``opspilot approvals``: list approval requests, approve or reject them, as the holder of the CLI's API token."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, cast, get_args

import typer

from console.commands.identity import signed_in
from console.commands.tables import Col, print_table
from core_client.approvals import ApprovalBook, ApprovalStatus
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.identity import Actor
from core_client.previews import ChangePreview, preview, preview_text
from core_client.settings import load_settings
from core_client.store import ApprovalRequest, Database, RequestStatus
from core_client.users import UserDirectory

app = typer.Typer(help="Approval requests: what waits for a person's decision.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


class Desk:
    """The approval book over the configured database, and the person at it: the API token's holder."""

    def __init__(self) -> None:
        settings = load_settings()
        database = Database.from_settings(settings, upgrade=True)
        clock = SystemClock()
        self.book = ApprovalBook(database, clock=clock, settings=settings)
        self.actor: Actor = signed_in(UserDirectory(database, clock=clock, settings=settings)).actor()


def request_json(request: ApprovalRequest, url: str) -> dict[str, Any]:
    """A request as JSON, with its arguments parsed and its console URL."""
    data = request.model_dump(mode="json")
    data["arguments"] = json.loads(request.arguments)
    data["url"] = url
    return data


@app.command("list")
def list_requests(
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, approved, rejected, expired, executed or withdrawn."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List approval requests, newest first."""
    statuses = get_args(RequestStatus)
    if status is not None and status not in statuses:
        raise typer.BadParameter(
            f"unknown status {status!r}; one of {', '.join(statuses)}", param_hint="--status"
        )
    book = Desk().book
    page = book.list(cast(RequestStatus | None, status), limit=limit)
    if as_json:
        typer.echo(json.dumps([request_json(r, book.approval_url(r.id)) for r in page.items]))
        return
    columns = (
        Col("id"),
        Col("status"),
        Col("tool"),
        Col("env", optional=True),
        Col("requested by", wrap=True),
        Col("risk", optional=True),
        Col("created", optional=True),
        Col("expires"),
    )
    rows = [
        (
            request.id,
            request.status,
            request.tool,
            request.environment or "",
            f"copilot for {request.requested_by}" if request.requester_is_copilot else request.requested_by,
            request.risk,
            request.created_at.strftime("%Y-%m-%d %H:%M"),
            request.expires_at.strftime("%Y-%m-%d %H:%M"),
        )
        for request in page.items
    ]
    print_table(columns, rows)


@app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one request as the change it would make (the ticket, note or message as it will read, the fields an
    update changes, who it reaches, the evidence, who asked, until when), where it stands and what to do next;
    to the person who asked, once approved, the grant id that lets them make the change once."""
    desk = Desk()
    status = desk.book.status_for(request_id, desk.actor)
    shown = asyncio.run(_preview(desk.book.get(request_id)))
    if as_json:
        typer.echo(json.dumps({"preview": shown.model_dump(mode="json"), **status.model_dump(mode="json")}))
        return
    typer.echo(preview_text(shown))
    typer.echo(status_text(status))


async def _preview(request: ApprovalRequest) -> ChangePreview:
    core = await asyncio.to_thread(CoreClient.from_settings, load_settings())
    try:
        return await preview(core, request)
    finally:
        await core.aclose()


def status_text(status: ApprovalStatus) -> str:
    """Where a request stands and what to do next, as the terminal shows it."""
    lines = []
    if status.decided_by:
        decided = f" at {status.decided_at:%Y-%m-%d %H:%M UTC}" if status.decided_at else ""
        why = f": {status.decision_reason}" if status.decision_reason else ""
        lines.append(f"decided by {status.decided_by}{decided}{why}")
    if status.grant is not None:
        lines.append(
            f"grant {status.grant.id} ({status.grant.state}, until {status.grant.expires_at:%Y-%m-%d %H:%M UTC})"
        )
    lines.append(f"next: {status.next}")
    return "\n".join(lines)


@app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a pending request; whoever asked for it can then act once."""
    desk = Desk()
    grant = desk.book.approve(request_id, approver=desk.actor, reason=reason)
    if as_json:
        typer.echo(
            json.dumps(
                {"request_id": request_id, "status": "approved", "expires_at": grant.expires_at.isoformat()}
            )
        )
    else:
        typer.echo(f"approved {request_id} ({grant.tool}); valid until {grant.expires_at:%Y-%m-%d %H:%M UTC}")


@app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: the requester (and the Copilot) is told.")],
    as_json: JsonFlag = False,
) -> None:
    """Reject a pending request, with a reason."""
    desk = Desk()
    rejected = desk.book.reject(request_id, approver=desk.actor, reason=reason)
    if as_json:
        typer.echo(json.dumps(request_json(rejected, desk.book.approval_url(rejected.id))))
    else:
        typer.echo(f"rejected {request_id} ({rejected.tool}): {reason}")
