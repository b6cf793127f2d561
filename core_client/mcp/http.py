"""The MCP server over streamable HTTP, for remote clients: per-user API tokens, no anonymous calls.

Each request carries ``Authorization: Bearer <token>`` issued by ``opspilot users token issue``; the token's user is
the actor of every call, so the audit trail names them. OpsPilot is no OAuth authorization server, so it
publishes no OAuth metadata and its 401s name no ``resource_metadata``: standard MCP clients (the MCP Inspector
among them) then send the bearer token they were given instead of starting an OAuth flow that cannot succeed,
and a 401 says how to get a token. Tokens are looked up by id and their secret's sha256
compared in constant time (``UserDirectory.verify_token``). DNS-rebinding protection is always on (Host and
Origin must name this server), and request bodies over :data:`MAX_BODY_BYTES` are refused with 413.

Sessions are bounded: the request that opens one (no ``Mcp-Session-Id``) may carry at most
:data:`MAX_OPENING_BODY_BYTES` (an initialize is a few hundred bytes; a session keeps what its initialize sent for
its whole life), a session idle for ``mcp_session_idle_seconds`` is closed, and at most ``mcp_max_sessions`` are
open at once. Without these, clients that initialize and walk away (or a fuzzer's junk initializes) kept every
session for 30 minutes with whatever it sent: ~1,000 requests took the server from 127 MB to 1.5 GB.

Served alone (``opspilot mcp --http``, :func:`http_app`) or inside another app, such as the console's backend
(:class:`McpEndpoint`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.errors import Forbidden, OpsPilotError
from core_client.identity import Actor, Role
from core_client.mcp.server import build_server
from core_client.settings import Settings
from core_client.store import Database
from core_client.users import UserDirectory

MCP_PATH = "/mcp"
MAX_BODY_BYTES = 1_000_000
MAX_OPENING_BODY_BYTES = 16_000
SESSION_HEADER = "mcp-session-id"
TOKEN_HELP = (
    "missing or invalid API token: send 'Authorization: Bearer <token>' with an OpsPilot API token; "
    "`opspilot users token issue <username>` issues one (an admin can issue it for you)"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

logger = logging.getLogger(__name__)


class ApiTokenVerifier:
    """Accepts OpsPilot API tokens; the access token's ``client_id`` is the username, its scope the role."""

    def __init__(self, users: UserDirectory) -> None:
        self._users = users

    async def verify_token(self, token: str) -> AccessToken | None:
        user = await asyncio.to_thread(self._users.verify_token, token)
        if user is None:
            return None
        return AccessToken(token=token, client_id=user.username, scopes=[Role(user.role).value])


def token_actor(_: Context) -> Actor:
    """The user whose token authenticated this request."""
    access = get_access_token()
    if access is None or not access.scopes:
        raise Forbidden("no authenticated user for this request", source="mcp")
    return Actor(user=access.client_id, role=Role(access.scopes[0]), via="mcp")


def user_directory(settings: Settings) -> UserDirectory:
    """The users of the settings' database, whose tokens are checked against the wall clock."""
    return UserDirectory(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )


def http_server(
    core: CoreClient, users: UserDirectory, *, base_url: str, read_only: bool = False
) -> MCPServer:
    """The MCP server for HTTP clients, requiring a valid API token on every request."""
    return build_server(
        core,
        actor=token_actor,
        read_only=read_only,
        # OpsPilot issues and checks its own tokens. No resource_server_url: the SDK would publish RFC 9728
        # metadata naming an authorization server that does not exist, and clients would try OAuth against it.
        auth=AuthSettings(issuer_url=base_url, resource_server_url=None, validate_token_resource=False),
        token_verifier=ApiTokenVerifier(users),
    )


def http_app(
    server: MCPServer, settings: Settings, *, host: str, allowed_hosts: Iterable[str] = ()
) -> Starlette:
    """The Starlette app serving ``server`` at ``/mcp``; its lifespan runs the SDK's session manager.

    Requests must name ``host``, a loopback address or one of ``allowed_hosts`` in their Host header (and in
    Origin, when a browser sends one), whatever address the server is bound to. Sessions are bounded by the
    settings' ``mcp_session_idle_seconds`` and ``mcp_max_sessions``.
    """
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        host=host,
        max_request_body_size=MAX_BODY_BYTES,
        session_idle_timeout=settings.mcp_session_idle_seconds,
        max_sessions=settings.mcp_max_sessions,
        transport_security=rebinding_protection([host, *allowed_hosts]),
    )
    app.add_middleware(OpeningBodyLimit)
    app.add_middleware(TokenHelp)
    return app


class OpeningBodyLimit:
    """A request that would open a session (no ``Mcp-Session-Id``) is refused with 413 over
    :data:`MAX_OPENING_BODY_BYTES`: the session would keep what it sent until it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limited = RequestBodyLimitMiddleware(app, MAX_OPENING_BODY_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and SESSION_HEADER not in Headers(scope=scope):
            await self.limited(scope, receive, send)
            return
        await self.app(scope, receive, send)


class TokenHelp:
    """Every 401 of the wrapped app says how to get a token, in its body and its ``WWW-Authenticate`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def relay(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 401:
                replaced = True
                body = json.dumps({"error": "invalid_token", "error_description": TOKEN_HELP}).encode()
                challenge = (
                    f'Bearer realm="OpsPilot", error="invalid_token", error_description="{TOKEN_HELP}"'
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", challenge.encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            elif not replaced:
                await send(message)

        await self.app(scope, receive, relay)


def rebinding_protection(hosts: Iterable[str]) -> TransportSecuritySettings:
    """DNS-rebinding protection admitting ``hosts`` (any port) and the loopback addresses."""
    names = dict.fromkeys([*(host_header(host) for host in hosts), *LOOPBACK_HOSTS])
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[pattern for name in names for pattern in (name, f"{name}:*")],
        allowed_origins=[
            pattern
            for name in names
            for scheme in ("http", "https")
            for pattern in (f"{scheme}://{name}", f"{scheme}://{name}:*")
        ],
    )


def host_header(host: str) -> str:
    """How a Host header names ``host``: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class McpEndpoint:
    """The MCP server inside another ASGI app (the console's backend), at ``/mcp`` with API tokens.

    The host builds its CoreClient lazily, so the MCP app is built in :meth:`lifespan`, which the host must run
    in its own lifespan (it also runs the SDK's session manager). Until then, or when the configuration cannot
    load, requests get 503 saying why.
    """

    def __init__(
        self, core: Callable[[], Awaitable[CoreClient]], *, base_url: str, read_only: bool = False
    ) -> None:
        self._core = core
        self._base_url = base_url.rstrip("/")
        self._read_only = read_only
        self._app: Starlette | None = None
        self._unavailable = "the MCP server is starting"

    def routes(self) -> list[Route]:
        """The routes to add to the host app, ahead of anything it mounts at its root."""
        return [Route(MCP_PATH, self)]

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Build the MCP app over the host's CoreClient and run its session manager while the host runs."""
        try:
            core = await self._core()
            users = await asyncio.to_thread(user_directory, core.settings)
        except OpsPilotError as error:
            logger.warning("MCP endpoint unavailable: %s", error)
            self._unavailable = f"the MCP server cannot start: {error}"
            yield
            return
        server = http_server(core, users, base_url=self._base_url, read_only=self._read_only)
        app = http_app(server, core.settings, host=urlsplit(self._base_url).hostname or "localhost")
        async with server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None
                self._unavailable = "the MCP server has stopped"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            await JSONResponse({"error": self._unavailable}, status_code=503)(scope, receive, send)
            return
        await app(scope, receive, send)
