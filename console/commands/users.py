"""``opspilot users``: local users, their roles and API tokens; only an admin changes them.

Every command acts as the holder of the CLI's API token (console/commands/identity.py), except ``users add`` on an
empty database: that bootstrap creates the first admin and prints their first token.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from typing import Annotated

import typer

from console.commands.identity import open_directory, signed_in
from console.commands.tables import Col, print_table
from core_client.errors import BadQuery
from core_client.identity import Role
from core_client.store import User

app = typer.Typer(help="Local users, their roles and API tokens.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens: issue, list (with last use) and revoke.", no_args_is_help=True)
app.add_typer(tokens, name="token")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]
NameArgument = Annotated[str, typer.Argument(help="The user's username.")]


def user_json(user: User) -> dict[str, object]:
    """A user as JSON, without the password hash."""
    return user.model_dump(mode="json", exclude={"password_hash", "id"})


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


@app.command("add")
def add(
    name: NameArgument,
    role: Annotated[Role, typer.Option("--role", help="viewer, responder, approver or admin.")],
    email: Annotated[str | None, typer.Option("--email")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="A token-only user.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user (an admin's act). On an empty database, the first user must be an admin and needs no token:
    their first API token is printed. Without --password-stdin or --no-password, the password is asked twice."""
    if password_stdin and no_password:
        raise typer.BadParameter("give --password-stdin or --no-password, not both")
    directory = open_directory()
    bootstrap = directory.count() == 0
    admin = None if bootstrap else signed_in(directory).require(Role.ADMIN)
    if bootstrap and role != Role.ADMIN:
        raise BadQuery(
            f"no user exists yet: the first one must be an admin (--role admin), not {role.value}",
            source="users",
        )
    password: str | None
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if admin is None:
        user = directory.bootstrap_admin(name, password, via="cli", display_name=display_name, email=email)
        token: str | None = directory.issue_token(name, "first admin")
    else:
        user = directory.add(name, role, password, email=email, display_name=display_name, by=admin.actor())
        token = None
    if as_json:
        typer.echo(json.dumps({**user_json(user), **({"token": token} if token else {})}))
        return
    typer.echo(f"added {user.username} ({user.role})")
    if token:
        typer.secho(
            "The first admin's API token follows: keep it (`opspilot login` stores it); it is not shown again.",
            err=True,
        )
        typer.echo(token)


@app.command("list")
def list_users(as_json: JsonFlag = False) -> None:
    """List every user."""
    directory = open_directory()
    signed_in(directory)
    users = directory.list()
    if as_json:
        typer.echo(json.dumps([user_json(user) for user in users]))
        return
    columns = (
        Col("username"),
        Col("name", wrap=True),
        Col("email", optional=True),
        Col("role"),
        Col("disabled"),
        Col("created", optional=True),
    )
    rows = [
        (
            user.username,
            user.display_name,
            user.email or "",
            user.role,
            "yes" if user.disabled else "",
            _when(user.created_at),
        )
        for user in users
    ]
    print_table(columns, rows)


@app.command("role")
def set_role(
    name: NameArgument,
    role: Annotated[Role, typer.Argument(help="viewer, responder, approver or admin.")],
) -> None:
    """Give a user another role (an admin's act)."""
    directory = open_directory()
    admin = signed_in(directory).require(Role.ADMIN)
    user = directory.set_role(name, role, by=admin.actor())
    typer.echo(f"{user.username} is now {user.role}")


@app.command("disable")
def disable(name: NameArgument) -> None:
    """Disable a user (an admin's act): their sessions and tokens stop working at their next request."""
    directory = open_directory()
    admin = signed_in(directory).require(Role.ADMIN)
    directory.disable(name, by=admin.actor())
    typer.echo(f"disabled {name}: their console sessions ended and their tokens no longer work")


@app.command("enable")
def enable(name: NameArgument) -> None:
    """Enable a disabled user again (an admin's act)."""
    directory = open_directory()
    admin = signed_in(directory).require(Role.ADMIN)
    directory.enable(name, by=admin.actor())
    typer.echo(f"enabled {name}")


@tokens.command("issue")
def issue_token(
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    days: Annotated[
        float | None,
        typer.Option("--days", min=0.001, help="Lifetime in days (default: the token_ttl_days setting, 90)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue an API token, printed once and stored only as a hash. An admin issues them for anyone; anyone else
    only for themselves, and never lasting longer than the token they use to ask."""
    directory = open_directory()
    me = signed_in(directory)
    if me.user.username != name:
        me.require(Role.ADMIN)
    cap = None if Role(me.user.role) == Role.ADMIN else me.token.expires_at
    issued = directory.issue_token(
        name,
        label,
        expires_in=timedelta(days=days) if days is not None else None,
        not_after=cap,
        by=me.actor(),
    )
    if as_json:
        typer.echo(json.dumps({"user": name, "label": label, "token": issued}))
    else:
        typer.echo(issued)
        typer.secho("Keep it now: OpsPilot stores only its hash and cannot show it again.", err=True)


@tokens.command("list")
def list_tokens(
    name: Annotated[
        str | None, typer.Argument(help="Only this user's tokens (an admin sees everyone's by default).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List API tokens with their state and last use; anyone but an admin sees only their own."""
    directory = open_directory()
    me = signed_in(directory)
    if Role(me.user.role) != Role.ADMIN:
        if name not in (None, me.user.username):
            me.require(Role.ADMIN)
        name = me.user.username
    listing = directory.token_listing(name)
    if as_json:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in listing]))
        return
    columns = (
        Col("id"),
        Col("user"),
        Col("label", wrap=True),
        Col("state"),
        Col("created", optional=True),
        Col("expires"),
        Col("last used", optional=True),
    )
    rows = [
        (
            item.id,
            item.user,
            item.label,
            item.state,
            _when(item.created_at),
            _when(item.expires_at),
            _when(item.last_used_at) or "never",
        )
        for item in listing
    ]
    print_table(columns, rows)


@tokens.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (the part after 'opspilot_').")],
) -> None:
    """Revoke an API token (its owner's or, for an admin, anyone's); it stops working at its next use."""
    directory = open_directory()
    me = signed_in(directory)
    directory.revoke_token(token_id, by=me.actor())
    typer.echo(f"revoked token {token_id}")
