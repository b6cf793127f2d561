"""Tool results a model can afford: bounded text and structured content, with a cursor for the rest.

A page of items is cut to the byte budget; the cursor handed back remembers the provider's cursor for the page
and how many of its items were already shown, so the next call continues exactly where this one stopped.
Long strings inside items are clipped, so one enormous log line cannot fill the budget alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field
from pydantic_core import to_json

from core_client.errors import BadQuery, OpsPilotError
from core_client.schemas import decode_cursor, encode_cursor

MAX_STRING_CHARS = 2_000
ERROR_META_KEY = "opspilot/error"


def _any_object(schema: dict[str, Any]) -> None:
    # "additionalProperties": true is JSON Schema's default anyway; left in, every client that validates a result
    # walks every key of every row for nothing (a third of the validation time of a 25-row page).
    schema["items"].pop("additionalProperties", None)


TRUNCATED_NOTE = "the source returned more matches than it is read for (max_items) in no stable order: these are some of them"


class ToolPage(BaseModel):
    """A bounded page: pass ``next_cursor`` back as ``cursor`` for more."""

    items: list[dict[str, Any]] = Field(default_factory=list, json_schema_extra=_any_object)
    next_cursor: str | None = None
    shown: int = 0
    note: str = ""
    # The source was read only up to a cap to order it (see Page.truncated): matching items beyond it are absent.
    truncated: bool = False


def clip(value: Any, limit: int = MAX_STRING_CHARS) -> Any:
    """``value`` with every string longer than ``limit`` characters cut, saying how much was cut."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… [{len(value) - limit} more characters]"
    if isinstance(value, dict):
        return {key: clip(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [clip(item, limit) for item in value]
    return value


def compact_json(value: Any) -> str:
    """JSON without spaces, non-ASCII kept as is (pydantic-core's encoder: several times faster than json)."""
    return to_json(value, fallback=str).decode()


def clipped_row(item: BaseModel | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An item as JSON-ready data with long strings clipped, and its compact JSON."""
    row = (
        item.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(item, BaseModel)
        else item
    )
    text = compact_json(row)
    # Only a row whose JSON is this long can hold a string worth clipping; most rows skip the walk.
    if len(text) > MAX_STRING_CHARS:
        row = clip(row)
        text = compact_json(row)
    return row, text


def split_cursor(cursor: str | None) -> tuple[str | None, int]:
    """Our cursor -> (the provider's cursor for the page, items of that page already shown)."""
    if not cursor:
        return None, 0
    position = decode_cursor(cursor, source="mcp")
    provider_cursor = position.get("p")
    skip = position.get("s", 0)
    if (provider_cursor is not None and not isinstance(provider_cursor, str)) or not isinstance(skip, int):
        raise BadQuery(f"malformed cursor {cursor!r}", source="mcp")
    return provider_cursor, max(skip, 0)


def page_result(
    items: Sequence[BaseModel | dict[str, Any]],
    *,
    provider_cursor: str | None,
    next_provider_cursor: str | None,
    skip: int,
    budget: int,
    describe: Callable[[int, bool], str],
    truncated: bool = False,
) -> CallToolResult:
    """Items ``skip:`` of one provider page, as many as fit ``budget`` bytes, as text and structured content.

    ``describe(shown, more)`` gives the one-line summary that heads the text; ``truncated`` marks a page of a
    result the provider capped (:attr:`Page.truncated`), said in the note and the summary.
    """
    kept: list[dict[str, Any]] = []
    texts: list[str] = []
    used = 200  # room for the envelope and summary
    cut = False
    for item in items[skip:]:
        row, text = clipped_row(item)
        size = len(text.encode()) + 1
        if kept and used + size > budget:
            cut = True
            break
        kept.append(row)
        texts.append(text)
        used += size
    if cut:
        next_cursor: str | None = encode_cursor({"p": provider_cursor, "s": skip + len(kept)})
    elif next_provider_cursor:
        next_cursor = encode_cursor({"p": next_provider_cursor, "s": 0})
    else:
        next_cursor = None
    notes = ["more results: call again with cursor=next_cursor"] if next_cursor else []
    if truncated:
        notes.append(TRUNCATED_NOTE)
    note = "; ".join(notes)
    # The shape of ToolPage, built directly: the server checks it against that schema anyway.
    fields = {"next_cursor": next_cursor, "shown": len(kept), "note": note, "truncated": truncated}
    page = {"items": kept, **fields}
    # compact_json(page), from the rows' JSON made above: each row is serialized once.
    page_json = '{"items":[' + ",".join(texts) + "]," + compact_json(fields)[1:]
    summary = describe(len(kept), next_cursor is not None) + (
        " (source capped: not every match)" if truncated else ""
    )
    text = summary + "\n" + page_json
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=page)


def object_result(value: BaseModel, *, summary: str, budget: int) -> CallToolResult:
    """One object (an incident, a report), clipped so it stays within ``budget`` bytes."""
    data, text = clipped_row(value)
    limit = MAX_STRING_CHARS
    while len(text.encode()) > budget and limit > 100:
        limit //= 2
        data = clip(data, limit)
        text = compact_json(data)
    return CallToolResult(
        content=[TextContent(type="text", text=summary + "\n" + text)], structured_content=data
    )


def error_result(error: OpsPilotError) -> CallToolResult:
    """A tool error the model can read and act on: what failed, why, and what to do.

    The typed error travels in ``_meta`` under :data:`ERROR_META_KEY`, not as structured content: clients
    check structured content against the tool's output schema even on errors, and an error is not an incident.
    """
    body = error.to_dict()
    text = f"{body['error']}: {error}"
    if body.get("approval_url"):
        text += f"\nA person must approve this call first: {body['approval_url']}"
    return CallToolResult(
        content=[TextContent(type="text", text=text)], is_error=True, _meta={ERROR_META_KEY: body}
    )
