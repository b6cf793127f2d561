"""``opspilot users``: add and list local users, and issue their API tokens."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core_client.clock import SystemClock
from core_client.identity import Role
from core_client.settings import load_settings
from core_client.store import Database, User
from core_client.users import UserDirectory

app = typer.Typer(help="Local users, their roles and API tokens.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


def open_directory() -> UserDirectory:
    """The user directory of the configured database, migrated to the latest schema."""
    settings = load_settings()
    return UserDirectory(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )


def user_json(user: User) -> dict[str, object]:
    """A user as JSON, without the password hash."""
    return user.model_dump(mode="json", exclude={"password_hash", "id"})


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username: lowercase letters, digits, '.', '_' or '-'.")],
    role: Annotated[Role, typer.Option("--role", help="viewer, responder, approver or admin.")],
    email: Annotated[str | None, typer.Option("--email")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="A token-only user.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user. Without --password-stdin or --no-password, the password is asked for twice."""
    if password_stdin and no_password:
        raise typer.BadParameter("give --password-stdin or --no-password, not both")
    password: str | None
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = open_directory().add(name, role, password, email=email, display_name=display_name)
    if as_json:
        typer.echo(json.dumps(user_json(user)))
    else:
        typer.echo(f"added {user.username} ({user.role})")


@app.command("list")
def list_users(as_json: JsonFlag = False) -> None:
    """List every user."""
    users = open_directory().list()
    if as_json:
        typer.echo(json.dumps([user_json(user) for user in users]))
        return
    table = Table("username", "name", "email", "role", "disabled", "created")
    for user in users:
        table.add_row(
            user.username,
            user.display_name,
            user.email or "",
            user.role,
            "yes" if user.disabled else "",
            user.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    Console().print(table)


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Issue an API token; it is printed once and stored only as a hash."""
    issued = open_directory().issue_token(name, label)
    if as_json:
        typer.echo(json.dumps({"user": name, "label": label, "token": issued}))
    else:
        typer.echo(issued)
        typer.secho("Keep it now: OpsPilot stores only its hash and cannot show it again.", err=True)
