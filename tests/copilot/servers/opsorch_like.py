"""A stdio MCP server with the OpsOrch MCP server's habits, written by hand (no code of it copied):

- its tools carry no annotations at all, though they only read; their output schemas are arrays;
- it reads from an OpsOrch Core at ``OPSORCH_CORE_URL`` with ``OPSORCH_CORE_TOKEN`` (it fails without them,
  since the client gives a stdio server only a minimal environment unless told otherwise);
- it writes log lines on stdout (``[time] [INFO] ...``), beside its JSON-RPC messages: one when it is ready and
  one after every call to the core.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from line_rpc import answer, serve

PROTOCOL = "2025-06-18"
SCOPE = {"type": "object", "properties": {"service": {"type": "string"}, "environment": {"type": "string"}}}
TOOLS: list[dict[str, Any]] = [
    {
        "name": "query-logs",
        "title": "Query Logs",
        "description": "Search logs via POST /logs/query; start and end are required.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "expression": {"type": "object", "properties": {"search": {"type": "string"}}},
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "scope": SCOPE,
                "limit": {"type": "integer"},
            },
            "required": ["start", "end"],
        },
        "outputSchema": {"type": "object", "properties": {"entries": {"type": "array"}}},
    },
    {
        "name": "query-incidents",
        "title": "Query Incidents",
        "description": "Search incidents via POST /incidents/query.",
        "inputSchema": {"type": "object", "properties": {"scope": SCOPE, "limit": {"type": "integer"}}},
        "outputSchema": {"type": "array", "items": {"type": "object"}},
    },
    {
        "name": "environment",
        "description": "Which OpsOrch Core this server was told to read from.",
        "inputSchema": {"type": "object", "properties": {}},
    },
]
ROUTES = {"query-logs": "/logs/query", "query-incidents": "/incidents/query"}


def log(message: str) -> None:
    """A log line on stdout, the way the OpsOrch MCP server writes its INFO lines."""
    sys.stdout.write(f"[{datetime.now(UTC).isoformat()}] [INFO] {message}\n")
    sys.stdout.flush()


def core_request(route: str, body: dict[str, Any]) -> Any:
    base = os.environ.get("OPSORCH_CORE_URL")
    if not base:
        raise RuntimeError("OPSORCH_CORE_URL is not set")
    request = urllib.request.Request(
        base.rstrip("/") + route,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {os.environ.get('OPSORCH_CORE_TOKEN', 'demo')}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data = json.loads(response.read())
    log(f"OpsOrch Core call succeeded {json.dumps({'pathname': route})}")
    return data


def result_of(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name == "environment":
        said = {
            "url": os.environ.get("OPSORCH_CORE_URL"),
            "token": bool(os.environ.get("OPSORCH_CORE_TOKEN")),
        }
        return {"content": [{"type": "text", "text": json.dumps(said)}], "structuredContent": said}
    if name not in ROUTES:
        return {"content": [{"type": "text", "text": f"unknown tool {name}"}], "isError": True}
    try:
        data = core_request(ROUTES[name], arguments)
    except (RuntimeError, OSError, urllib.error.URLError) as error:
        return {"content": [{"type": "text", "text": f"OpsOrch Core call failed: {error}"}], "isError": True}
    return {"content": [{"type": "text", "text": json.dumps(data, indent=2)}], "structuredContent": data}


def reply_to(request: dict[str, Any]) -> dict[str, Any] | None:
    return answer(
        request,
        protocol=PROTOCOL,
        server_info={"name": "opsorch-mcp", "version": "1.0.0"},
        tools=TOOLS,
        result_of=result_of,
    )


def main() -> None:
    log("OpsOrch MCP stdio transport ready")
    serve(reply_to)


if __name__ == "__main__":
    main()
