"""The MCP server over streamable HTTP, for remote clients: per-user API tokens, no anonymous calls.

Each request carries ``Authorization: Bearer <token>`` issued by ``opspilot users token``; the token's user is
the actor of every call, so the audit trail names them. Tokens are checked against their stored hashes in
constant time; the SDK's DNS-rebinding protection stays on and oversized bodies are refused.
"""

from __future__ import annotations

import asyncio

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from starlette.applications import Starlette

from core_client.client import CoreClient
from core_client.errors import Forbidden
from core_client.identity import Actor, Role
from core_client.mcp.server import build_server
from core_client.users import UserDirectory

MAX_BODY_BYTES = 1_000_000


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


def http_server(
    core: CoreClient, users: UserDirectory, *, base_url: str, read_only: bool = False
) -> MCPServer:
    """The MCP server for HTTP clients, requiring a valid API token on every request."""
    return build_server(
        core,
        actor=token_actor,
        read_only=read_only,
        auth=AuthSettings(issuer_url=base_url, resource_server_url=f"{base_url}/mcp"),
        token_verifier=ApiTokenVerifier(users),
    )


def http_app(server: MCPServer, *, host: str) -> Starlette:
    """The Starlette app serving ``server`` at ``/mcp``; run ``server.session_manager.run()`` in its lifespan."""
    return server.streamable_http_app(host=host, max_request_body_size=MAX_BODY_BYTES)
