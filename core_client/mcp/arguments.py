"""Tool arguments that are not text are refused before any tool sees them, naming the argument.

JSON lets a client send a lone UTF-16 surrogate (``"\\udcff"``) or a NUL character inside a string. Neither is text
any provider, file system or database can take: left alone they surface deep inside a provider as an encoding
crash (read as the provider being down) or a traceback. :class:`TextArguments` answers such a call with a
``BadQuery`` that says which argument, and where in it, the bad character sits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from core_client.errors import BadQuery
from core_client.mcp.results import error_result

MAX_DEPTH = 32


def untextual(value: Any, where: str) -> str | None:
    """Where in ``value`` (JSON) a string holds a NUL or a lone surrogate, and what it is; None when all is text."""
    for path, text in _strings(value, where, 0):
        for index, char in enumerate(text):
            if char == "\x00":
                return f"{path} has a NUL character at position {index}"
            if "\ud800" <= char <= "\udfff":
                return f"{path} has a lone UTF-16 surrogate at position {index} (not valid UTF-8 text)"
    return None


def _strings(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, f"{path} (a key)", depth + 1)
            yield from _strings(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", depth + 1)


class TextArguments:
    """Server middleware refusing a tool call whose arguments carry a NUL or a lone surrogate."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call" and ctx.params:
            tool = str(ctx.params.get("name", "tool"))
            arguments = ctx.params.get("arguments") or {}
            if isinstance(arguments, dict):
                problem = next(
                    (p for name, v in arguments.items() if (p := untextual(v, f"argument {name!r}"))), None
                )
                if problem is not None:
                    return error_result(BadQuery(f"{problem}; send UTF-8 text", source=tool))
        return await call_next(ctx)
