"""A write-up as Markdown (CommonMark): how the demo tracker stores a ticket, how the console shows one, what a
draft exports as, and what the Jira adapter turns into Atlassian Document Format.

OpsPilot's own words are escaped, so nothing in them becomes markup by accident; quoted data is an inline code
span, so a log line's ``[link](x)`` or ``<b>`` stays text; links are absolute.
"""

from __future__ import annotations

import re

from copilot.untrusted import SUSPICIOUS_MARK
from copilot.writeups.document import Bullets, Document, Line, Paragraph, Section, Span

# Characters that mean something in CommonMark inline text. An underscore inside a word (``error_rate``) means
# nothing there, so it is left alone and names stay readable in the raw text.
_SPECIAL = re.compile(r"([\\`*\[\]<>|!])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)


def one_line(value: str) -> str:
    """``value`` with every run of whitespace made one space (one at either end is kept: spans join on it)."""
    return re.sub(r"\s+", " ", value)


def escape(value: str) -> str:
    """``value`` as literal CommonMark text on one line."""
    flat = one_line(value)
    escaped = _SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)


def code_span(value: str) -> str:
    """``value`` as an inline code span: fenced with more backticks than it contains, on one line."""
    flat = " ".join(value.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else flat
    return f"{fence}{padded}{fence}"


def _url(href: str) -> str:
    # A URL with spaces or parentheses would end the link early; angle brackets keep it whole.
    return f"<{href}>" if re.search(r"[\s()<>]", href) else href


def span(item: Span) -> str:
    if item.kind == "quote":
        body = code_span(item.text)
        if item.suspicious:
            body = escape(SUSPICIOUS_MARK) + body
    elif item.kind == "strong":
        # Emphasis markers must touch the words: spaces at either end stay outside them.
        core = one_line(item.text)
        lead, trail = core[: len(core) - len(core.lstrip())], core[len(core.rstrip()) :]
        body = f"{lead}**{escape(core.strip())}**{trail}" if core.strip() else core
    else:
        body = escape(item.text)
    return f"[{body}]({_url(item.href)})" if item.href else body


def line(spans: Line) -> str:
    return "".join(span(item) for item in spans)


def _block(block: Paragraph | Bullets) -> str:
    if isinstance(block, Paragraph):
        return line(block.spans)
    return "\n".join(f"- {line(item)}" for item in block.items)


def section(part: Section, *, level: int = 2) -> str:
    blocks = [_block(block) for block in part.blocks]
    if part.heading:
        blocks.insert(0, f"{'#' * level} {escape(part.heading)}")
    return "\n\n".join(blocks)


def to_markdown(document: Document, *, with_title: bool = False) -> str:
    """The document's sections (and its title as a top heading when ``with_title``), as CommonMark."""
    parts = [section(part) for part in document.sections if part.blocks]
    if with_title:
        parts.insert(0, f"# {escape(document.title)}")
    return "\n\n".join(parts).strip() + "\n"
