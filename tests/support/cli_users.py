"""People who use the ``opspilot`` command in tests: a stored user with an API token, running commands as them.

The CLI acts only as the holder of its API token (``OPSPILOT_TOKEN``), so a test that runs a command as alice first
makes alice and her token here::

    def test_something(cli_user):
        alice = cli_user("alice", "responder")
        result = alice.invoke("ask", "Why is checkout failing?", "--json")
        subprocess.run([...], env=alice.env())        # the same in another process

The user is stored in the database the test's settings point at (its own data folder, see tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from click.testing import Result
from typer.testing import CliRunner

from console.cli import app
from console.commands.identity import TOKEN_ENV
from core_client.clock import SystemClock
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database
from core_client.users import UserDirectory


@dataclass(frozen=True)
class CliUser:
    """A stored user and their API token; runs ``opspilot`` commands as them."""

    name: str
    role: Role
    token: str

    @property
    def actor(self) -> Actor:
        """This person acting from the CLI (what the audit trail will name)."""
        return Actor(user=self.name, role=self.role, via="cli")

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess acting as this user: ``base`` (default: this process's) plus the token."""
        return {**(os.environ if base is None else base), TOKEN_ENV: self.token}

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """``opspilot ARGS`` in this process as this user (typer's CliRunner; ``input`` is stdin)."""
        return CliRunner().invoke(app, list(args), input=input, env={TOKEN_ENV: self.token})


def add_cli_user(name: str, role: Role | str = Role.RESPONDER, *, password: str | None = None) -> CliUser:
    """Store ``name`` with ``role`` in the configured database and issue them an API token."""
    settings = load_settings()
    users = UserDirectory(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )
    users.add(name, role, password)
    return CliUser(name=name, role=Role(role), token=users.issue_token(name, "test"))


def anonymous(*args: str, input: str | None = None) -> Result:
    """``opspilot ARGS`` with no API token at all."""
    return CliRunner().invoke(app, list(args), input=input, env={TOKEN_ENV: ""})
