"""``opspilot mcp``: serve OpsPilot's tools to MCP clients over stdio (desktop clients) or streamable HTTP.

Over stdio every call acts as the holder of the API token in ``OPSPILOT_TOKEN`` (or the token file), checked at
start and again on every call, so a revoked token or a disabled user stops working at the next call. Over HTTP
each request brings its own token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated, Any

import typer
import uvicorn
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_REQUEST

from console.commands.identity import presented_token, signed_in
from core_client.client import CoreClient
from core_client.errors import BadQuery, Unauthenticated
from core_client.identity import Actor
from core_client.mcp.http import MCP_PATH, host_header, http_app, http_server, user_directory
from core_client.mcp.server import build_server
from core_client.settings import load_settings
from core_client.users import HeldToken, UserDirectory

app = typer.Typer(help="Serve OpsPilot's tools over the Model Context Protocol.", invoke_without_command=True)


def _parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadQuery(f"--http expects HOST:PORT (e.g. 127.0.0.1:7070), got {address!r}", source="mcp")
    return host.strip("[]"), int(port)


@app.callback()
def serve(
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
    """Serve over stdio (for desktop MCP clients; acting as the holder of OPSPILOT_TOKEN or the token file) or,
    with --http, over streamable HTTP where every request carries a user's API token."""
    # stdout is the protocol channel for stdio: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("OPSPILOT_LOG_LEVEL", "WARNING"))
    address = _parse_address(http) if http else None
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
    # stdin is the protocol channel: the token comes from the environment or the token file, never a prompt.
    holder = TokenHolder(users.hold(presented_token(prompt=False)[0]), signed_in(users, prompt=False).actor())
    core = CoreClient.from_settings(settings)
    server = build_server(core, actor=holder.actor_of, read_only=read_only)
    server.middleware.append(holder)
    asyncio.run(_serve_stdio(core, server))


class TokenHolder:
    """The user a stdio server acts as: its token is checked again before every request (cheaply, see
    :class:`~core_client.users.HeldToken`), so revoking it (or disabling the user, or changing their role) takes
    effect at the next call, reads included."""

    def __init__(self, token: HeldToken, actor: Actor) -> None:
        self._token = token
        self._actor = actor

    def actor_of(self, _ctx: Context) -> Actor:
        """The holder as of the request being served (checked by :meth:`__call__` before it ran)."""
        return self._actor

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is not None:
            user = await self._token.holder()
            if user is None:
                raise MCPError(
                    code=INVALID_REQUEST,
                    message=str(
                        Unauthenticated(
                            "this server's API token is no longer valid (expired or revoked, or its user is "
                            "disabled): restart it with a valid OPSPILOT_TOKEN",
                            source="mcp",
                        )
                    ),
                )
            self._actor = user.actor(via="mcp")
        return await call_next(ctx)


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
    app = http_app(server, core.settings, host=host, allowed_hosts=allowed_hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    typer.echo(
        f"OpsPilot MCP server on http://{host_header(host)}:{port}{MCP_PATH} "
        "(Bearer token from `opspilot users token issue`)",
        err=True,
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await core.aclose()
