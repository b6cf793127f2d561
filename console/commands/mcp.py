"""``opspilot mcp``: serve OpsPilot's tools to MCP clients over stdio (desktop clients) or streamable HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated

import typer
import uvicorn
from mcp.server.mcpserver import MCPServer

from core_client.client import CoreClient
from core_client.errors import BadQuery, Forbidden, NotFound
from core_client.identity import Actor, Role
from core_client.mcp.http import MCP_PATH, host_header, http_app, http_server, user_directory
from core_client.mcp.server import build_server
from core_client.settings import load_settings
from core_client.users import UserDirectory

app = typer.Typer(help="Serve OpsPilot's tools over the Model Context Protocol.", invoke_without_command=True)


def _parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadQuery(f"--http expects HOST:PORT (e.g. 127.0.0.1:7070), got {address!r}", source="mcp")
    return host.strip("[]"), int(port)


@app.callback()
def serve(
    user: str = typer.Option(
        None, "--user", envvar="OPSPILOT_USER", help="The OpsPilot user a stdio client acts as."
    ),
    http: str = typer.Option(
        None, "--http", metavar="HOST:PORT", help="Serve streamable HTTP at /mcp instead."
    ),
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="With --http: another host name clients may use (DNS-rebinding protection); repeatable.",
        ),
    ] = None,
    read_only: bool = typer.Option(False, "--read-only", help="Hide every tool that changes anything."),
) -> None:
    """Serve over stdio (for desktop MCP clients) or, with --http, over streamable HTTP with API tokens."""
    # stdout is the protocol channel for stdio: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("OPSPILOT_LOG_LEVEL", "WARNING"))
    address = _parse_address(http) if http else None
    if address is None and not user:
        raise BadQuery("stdio needs the user to act as: pass --user NAME or set OPSPILOT_USER", source="mcp")
    settings = load_settings()
    users = user_directory(settings)
    if address is not None:
        host, port = address
        core = CoreClient.from_settings(settings)
        asyncio.run(
            _serve_http(
                core, users, host=host, port=port, allowed_hosts=allow_host or [], read_only=read_only
            )
        )
        return
    actor = _stdio_actor(users, user)
    core = CoreClient.from_settings(settings)
    server = build_server(core, actor=lambda _ctx: actor, read_only=read_only)
    asyncio.run(_serve_stdio(core, server))


def _stdio_actor(users: UserDirectory, username: str) -> Actor:
    """The enabled user a stdio client acts as."""
    try:
        account = users.get(username)
    except NotFound:
        raise NotFound(
            f"no OpsPilot user {username!r}; add one with `opspilot users add`", source="mcp"
        ) from None
    if account.disabled:
        raise Forbidden(f"user {username!r} is disabled", source="mcp")
    return Actor(user=account.username, role=Role(account.role), via="mcp")


async def _serve_stdio(core: CoreClient, server: MCPServer) -> None:
    try:
        await server.run_stdio_async()
    finally:
        await core.aclose()


async def _serve_http(
    core: CoreClient,
    users: UserDirectory,
    *,
    host: str,
    port: int,
    allowed_hosts: list[str],
    read_only: bool,
) -> None:
    server = http_server(core, users, base_url=f"http://{host_header(host)}:{port}", read_only=read_only)
    # The app's own lifespan runs the SDK's session manager.
    app = http_app(server, host=host, allowed_hosts=allowed_hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    typer.echo(
        f"OpsPilot MCP server on http://{host_header(host)}:{port}{MCP_PATH} "
        "(Bearer token from `opspilot users token`)",
        err=True,
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await core.aclose()
