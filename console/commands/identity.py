"""Who the ``opspilot`` command acts as: the user whose API token it holds, and nobody else.

The token comes from, in order: ``OPSPILOT_TOKEN``; the token file (``OPSPILOT_TOKEN_FILE``, by default
``~/.config/opspilot/token``, written by ``opspilot login`` and refused when others can read it); a hidden prompt
when the command runs in a terminal. There is no ``--user NAME`` and no fallback to the OS login: without a valid
token the CLI acts on nobody's behalf. The one exception is the bootstrap of an empty database: ``opspilot users add
NAME --role admin`` creates the first admin (and prints their first token) while no user exists.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from core_client.clock import SystemClock
from core_client.errors import Forbidden, Unauthenticated
from core_client.identity import Actor, Role
from core_client.settings import Settings, load_settings
from core_client.store import ApiToken, Database, User
from core_client.users import UserDirectory

TOKEN_ENV = "OPSPILOT_TOKEN"
TOKEN_FILE_ENV = "OPSPILOT_TOKEN_FILE"
NO_TOKEN = (
    f"no API token: set {TOKEN_ENV}, run `opspilot login` to keep one in the token file, or run this in a "
    "terminal to be asked for it (an admin issues tokens with `opspilot users token issue NAME`)"
)


def token_file() -> Path:
    """Where ``opspilot login`` keeps the token: ``$OPSPILOT_TOKEN_FILE`` or ``~/.config/opspilot/token``."""
    configured = os.environ.get(TOKEN_FILE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "opspilot" / "token"


def read_token_file(path: Path) -> str | None:
    """The token kept in ``path``, or ``None`` when there is no such file; ``Unauthenticated`` when the file can
    be read by anyone but its owner (a token is a password)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Unauthenticated(
            f"the token file {path} can be read by others: run `chmod 600 {path}` (or `opspilot login` again)",
            source="cli",
        )
    return path.read_text(encoding="utf-8").strip() or None


def write_token_file(path: Path, token: str) -> None:
    """Keep ``token`` in ``path``, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    os.chmod(path, 0o600)  # an older file kept its mode through O_TRUNC


def presented_token(*, prompt: bool = True) -> tuple[str, str]:
    """The token this command was given and where it came from; ``Unauthenticated`` when there is none.

    ``prompt=False`` never asks (``opspilot mcp`` over stdio: stdin is the protocol channel).
    """
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env, TOKEN_ENV
    path = token_file()
    from_file = read_token_file(path)
    if from_file:
        return from_file, str(path)
    if prompt and sys.stdin.isatty() and sys.stderr.isatty():
        entered = typer.prompt("OpsPilot API token", hide_input=True, err=True).strip()
        if entered:
            return entered, "the prompt"
    raise Unauthenticated(NO_TOKEN, source="cli")


def open_directory(settings: Settings | None = None) -> UserDirectory:
    """The user directory of the configured database, migrated to the latest schema."""
    settings = settings or load_settings()
    return UserDirectory(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )


@dataclass(frozen=True)
class SignedIn:
    """The user this command acts as, and the token that says so."""

    user: User
    token: ApiToken

    def actor(self) -> Actor:
        """This user acting from the CLI."""
        return self.user.actor(via="cli")

    def require(self, *roles: Role) -> SignedIn:
        """Itself, when the user has one of ``roles``; ``Forbidden`` otherwise."""
        if Role(self.user.role) not in roles:
            raise Forbidden(
                f"{self.user.username} ({self.user.role}) may not do this; it needs "
                + " or ".join(role.value for role in roles),
                source="cli",
            )
        return self


def signed_in(directory: UserDirectory, *, prompt: bool = True) -> SignedIn:
    """The enabled user whose valid API token this command holds; ``Unauthenticated`` for anything else."""
    token, source = presented_token(prompt=prompt)
    held = directory.token_holder(token)
    if held is None:
        raise Unauthenticated(
            f"the API token from {source} is not valid: unknown, expired or revoked, or its user is disabled",
            source="cli",
        )
    user, row = held
    return SignedIn(user=user, token=row)


def cli_actor(settings: Settings) -> Actor:
    """The person acting from the CLI: the holder of its API token (see the module docstring)."""
    return signed_in(open_directory(settings)).actor()
