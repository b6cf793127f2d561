"""A handshake-era (2025-11-25) MCP server over stdio, written by hand like a server in another language.

It behaves like the OpsOrch MCP server where the MCP client is strictest: ``query-incidents`` declares an array
output schema and returns an array as structured content. Beside it: a read-only tool with a valid schema, a
tool with no annotations (a mutation, as far as anyone can tell), and a tool whose listing is malformed.
Every tools/call is appended as a JSON line to the file named by ``CALLS_FILE``, when set.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from line_rpc import answer, serve

PROTOCOL = "2025-11-25"
INCIDENTS = [{"id": "INC-7", "title": "checkout 5xx"}, {"id": "INC-8", "title": "payments slow"}]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "query-incidents",
        "description": "Incidents, newest first.",
        "inputSchema": {"type": "object", "properties": {"limit": {"type": "integer"}}},
        "outputSchema": {"type": "array", "items": {"type": "object"}},
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "get-health",
        "description": "Whether the backend is up.",
        "inputSchema": {"type": "object", "properties": {}},
        "outputSchema": {
            "type": "object",
            "properties": {"status": {"type": "string"}},
            "required": ["status"],
        },
        "annotations": {"readOnlyHint": True, "destructiveHint": False},
    },
    {
        "name": "create-issue",
        "description": "File an issue in the tracker.",
        "inputSchema": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    },
    {
        "name": "tail-logs",
        "description": "The last lines of a service's log: large on purpose.",
        "inputSchema": {"type": "object", "properties": {"lines": {"type": "integer"}}},
        "outputSchema": {"type": "array", "items": {"type": "object"}},
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "stall",
        "description": "Answers after a second: slower than a test's call timeout.",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "crash",
        "description": "Ends the server's process without answering.",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True},
    },
    {"name": "broken-tool", "description": "Declares no input schema at all."},
]


def result_of(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name == "query-incidents":
        items = INCIDENTS[: int(arguments.get("limit", len(INCIDENTS)))]
        return {"content": [{"type": "text", "text": json.dumps(items)}], "structuredContent": items}
    if name == "get-health":
        return {"content": [{"type": "text", "text": "ok"}], "structuredContent": {"status": "ok"}}
    if name == "tail-logs":
        lines = [
            {"line": i, "message": f"GET /checkout 503 upstream timeout {'x' * 80}"}
            for i in range(arguments["lines"])
        ]
        return {"content": [{"type": "text", "text": json.dumps(lines)}], "structuredContent": lines}
    if name == "stall":
        time.sleep(1.0)
        return {"content": [{"type": "text", "text": "late"}]}
    if name == "crash":
        os._exit(3)
    if name == "create-issue":
        issue = {"key": "OPS-1", "title": arguments.get("title")}
        return {"content": [{"type": "text", "text": json.dumps(issue)}], "structuredContent": issue}
    return {"content": [{"type": "text", "text": f"unknown tool {name}"}], "isError": True}


def reply_to(request: dict[str, Any]) -> dict[str, Any] | None:
    return answer(
        request,
        protocol=PROTOCOL,
        server_info={"name": "legacy-opsorch", "version": "0.1.0"},
        tools=TOOLS,
        result_of=result_of,
    )


def main() -> None:
    serve(reply_to)


if __name__ == "__main__":
    main()
