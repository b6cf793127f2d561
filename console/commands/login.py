"""``opspilot login``, ``logout`` and ``whoami``: keep, forget and show the API token the CLI acts with."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from console.commands.identity import open_directory, signed_in, token_file, write_token_file
from core_client.errors import Unauthenticated


def login(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from the first line of stdin.")
    ] = False,
) -> None:
    """Check an API token and keep it in the token file (readable by you only) for the next commands."""
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("OpsPilot API token", hide_input=True, err=True).strip()
    user = open_directory().verify_token(token)
    if user is None:
        raise Unauthenticated(
            "that API token is not valid: unknown, expired or revoked, or its user is disabled", source="cli"
        )
    path = token_file()
    write_token_file(path, token)
    typer.echo(f"signed in as {user.username} ({user.role}); token kept in {path}")


def logout() -> None:
    """Forget the token file (the token itself stays valid: revoke it with `opspilot users token revoke`)."""
    path = token_file()
    path.unlink(missing_ok=True)
    typer.echo(f"forgot {path}")


def whoami(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Who this CLI acts as: the holder of its API token, and when that token expires."""
    me = signed_in(open_directory())
    expires = me.token.expires_at.isoformat() if me.token.expires_at else None
    if as_json:
        typer.echo(
            json.dumps(
                {"user": me.user.username, "role": me.user.role, "token": me.token.id, "expires_at": expires}
            )
        )
        return
    typer.echo(f"{me.user.username} ({me.user.role}), token {me.token.id}, expires {expires or 'never'}")
