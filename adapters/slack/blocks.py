"""Our message blocks as Slack Block Kit blocks, checked against Block Kit's limits before sending."""

from __future__ import annotations

from typing import Any

from core_client.errors import BadQuery
from core_client.schemas import MessageBlock

SOURCE = "slack"
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50


def slack_blocks(blocks: list[MessageBlock]) -> list[dict[str, Any]]:
    """``header`` -> plain-text header, ``section`` -> mrkdwn text and fields, ``divider`` -> divider."""
    if len(blocks) > BLOCKS_MAX:
        raise BadQuery(f"a Slack message holds at most {BLOCKS_MAX} blocks, got {len(blocks)}", source=SOURCE)
    return [_block(n, block) for n, block in enumerate(blocks)]


def _block(n: int, block: MessageBlock) -> dict[str, Any]:
    if block.type == "divider":
        return {"type": "divider"}
    if block.type == "header":
        if not block.text or len(block.text) > HEADER_MAX:
            raise BadQuery(f"block {n}: a header needs 1..{HEADER_MAX} characters of text", source=SOURCE)
        return {"type": "header", "text": {"type": "plain_text", "text": block.text, "emoji": True}}
    if not block.text and not block.fields:
        raise BadQuery(f"block {n}: a section needs text or fields", source=SOURCE)
    if len(block.text) > SECTION_TEXT_MAX:
        raise BadQuery(f"block {n}: section text is over {SECTION_TEXT_MAX} characters", source=SOURCE)
    if len(block.fields) > FIELDS_MAX or any(len(f) > FIELD_MAX for f in block.fields):
        raise BadQuery(
            f"block {n}: a section holds at most {FIELDS_MAX} fields of {FIELD_MAX} characters", source=SOURCE
        )
    section: dict[str, Any] = {"type": "section"}
    if block.text:
        section["text"] = {"type": "mrkdwn", "text": block.text}
    if block.fields:
        section["fields"] = [{"type": "mrkdwn", "text": f} for f in block.fields]
    return section
