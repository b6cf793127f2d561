"""The ``opspilot`` command line. Each group of subcommands lives in ``console/commands``."""

from __future__ import annotations

import sys

import typer

from console.address import adopt_reflex_address
from console.commands import approvals, ask, demo, login, mcp, runs, users, verbosity
from console.commands import eval as evaluation
from core_client.errors import OpsPilotError

app = typer.Typer(
    name="opspilot",
    help="OpsPilot: an incident-operations console with a Copilot that cites its evidence and asks before it acts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="Say more on stderr: -v for INFO (libraries' HTTP requests included), -vv for DEBUG.",
    ),
) -> None:
    """Options for every command."""
    verbosity.configure(verbose)


app.command("login")(login.login)
app.command("logout")(login.logout)
app.command("whoami")(login.whoami)
app.add_typer(users.app, name="users")
app.add_typer(approvals.app, name="approvals")
app.add_typer(demo.app, name="demo")
app.add_typer(mcp.app, name="mcp")
app.command("ask")(ask.ask)
app.add_typer(runs.app, name="runs")
app.command("eval")(evaluation.evaluate)


def main() -> None:
    """Run the CLI; a typed OpsPilot error becomes one clear line on stderr and exit status 1."""
    try:
        # Links the CLI prints point where rxconfig says the console is served (see console/address.py).
        adopt_reflex_address()
        app()
    except OpsPilotError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)


if __name__ == "__main__":
    main()
