"""An MCP server over streamable HTTP that wants a bearer token: ``python http_tools.py PORT TOKEN``.

Built on the SDK's MCPServer, as a modern foreign server would be: a read-only tool, a destructive one and one
without annotations.
"""

from __future__ import annotations

import sys

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


class OneToken:
    def __init__(self, token: str) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if token != self._token:
            return None
        return AccessToken(token=token, client_id="copilot-tests", scopes=["tools"])


def build(port: int, token: str) -> MCPServer:
    base = f"http://127.0.0.1:{port}"
    server = MCPServer(
        "http-tools",
        auth=AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp"),
        token_verifier=OneToken(token),
    )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def lookup_service(name: str) -> dict[str, object]:
        """A service's owner and tier."""
        return {"name": name, "owner": "team-payments", "tier": 1}

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
    def restart_service(name: str) -> str:
        """Restart a service."""
        return f"restarted {name}"

    @server.tool()
    def annotate_dashboard(text: str) -> str:
        """Add an annotation to the dashboard."""
        return f"annotated: {text}"

    return server


if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    app = build(port, token).streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
