"""A write-up as a chat message: a header block, one section block per section (Slack ``mrkdwn``), and a plain
text body for notifications and clients that show no blocks.

In mrkdwn, ``&``, ``<`` and ``>`` are escaped in every text, links are ``<url|label>``, and quoted data is a code
span (its backticks replaced, as mrkdwn cannot escape them), so nothing in the data becomes a mention or a link.
"""

from __future__ import annotations

import re

from copilot.untrusted import SUSPICIOUS_MARK
from copilot.writeups.document import Bullets, Document, Line, Paragraph, Span
from core_client.schemas import Message, MessageBlock

HEADER_MAX = 150
SECTION_MAX = 3000
BODY_MAX = 600


def escape(value: str) -> str:
    return re.sub(r"\s+", " ", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _span(item: Span) -> str:
    if item.kind == "quote":
        body = "`" + escape(item.text).replace("`", "'") + "`"
        if item.suspicious:
            body = SUSPICIOUS_MARK + body
    elif item.kind == "strong":
        # Emphasis markers must touch the words: spaces at either end stay outside them.
        core = escape(item.text)
        lead, trail = core[: len(core) - len(core.lstrip())], core[len(core.rstrip()) :]
        body = f"{lead}*{core.strip()}*{trail}" if core.strip() else core
    else:
        body = escape(item.text)
    if item.href:
        label = body.replace("|", "\u2223")
        return f"<{item.href}|{label}>"
    return body


def _line(spans: Line) -> str:
    return "".join(_span(item) for item in spans)


def _plain(spans: Line) -> str:
    return " ".join("".join(item.text for item in spans).split())


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def to_message(document: Document, *, channel: str, thread_ref: str | None = None) -> Message:
    """The document as a message to ``channel``, within Block Kit's limits (long sections are cut)."""
    blocks = [MessageBlock(type="header", text=_cut(" ".join(document.title.split()), HEADER_MAX))]
    opening = ""
    for part in document.sections:
        rendered: list[str] = []
        for block in part.blocks:
            if isinstance(block, Paragraph):
                rendered.append(_line(block.spans))
                opening = opening or _plain(block.spans)
            elif isinstance(block, Bullets):
                rendered.append("\n".join(f"\u2022 {_line(item)}" for item in block.items))
        if not rendered:
            continue
        if part.heading:
            rendered.insert(0, f"*{escape(part.heading)}*")
        blocks.append(MessageBlock(type="section", text=_cut("\n".join(rendered), SECTION_MAX)))
    body = _cut(f"{document.title}: {opening}" if opening else document.title, BODY_MAX)
    return Message(channel=channel, body=body, thread_ref=thread_ref, blocks=blocks)
