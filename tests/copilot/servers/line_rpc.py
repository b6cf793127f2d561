"""The JSON-RPC plumbing of the hand-written stdio MCP servers: one request per line in, one reply per line out."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


def answer(
    request: dict[str, Any],
    *,
    protocol: str,
    server_info: dict[str, str],
    tools: list[dict[str, Any]],
    result_of: Callable[[str, dict[str, Any]], Result],
) -> dict[str, Any] | None:
    """The reply to one request (None for a notification); every tools/call is appended to ``$CALLS_FILE``."""
    method, params, ident = request.get("method"), request.get("params") or {}, request.get("id")
    if ident is None:
        return None
    if method == "initialize":
        result: Result = {
            "protocolVersion": protocol,
            "capabilities": {"tools": {}},
            "serverInfo": server_info,
        }
    elif method == "tools/list":
        result = {"tools": tools}
    elif method == "tools/call":
        calls_file = os.environ.get("CALLS_FILE")
        if calls_file:
            with open(calls_file, "a", encoding="utf-8") as calls:
                calls.write(json.dumps(params) + "\n")
        result = result_of(params.get("name", ""), params.get("arguments") or {})
    elif method == "ping":
        result = {}
    else:
        return {
            "jsonrpc": "2.0",
            "id": ident,
            "error": {"code": -32601, "message": f"Method not found: {method}"},
        }
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def serve(reply_to: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Answer stdin's requests on stdout, one JSON line each, until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = reply_to(json.loads(line))
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
