"""Atlassian Document Format <-> markdown-ish text, both ways.

Covers what incident tickets use: paragraphs, headings, bullet and ordered lists, code blocks, block quotes,
rules, hard breaks, and inline strong, emphasis, code and links. Text to ADF parses with markdown-it (CommonMark);
ADF to text writes the same markdown back, so a description survives a round trip. Unknown ADF nodes keep their
text content.
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

AdfNode = dict[str, Any]

_PARSER = MarkdownIt("commonmark")
_MARKS = {"strong": "strong", "em": "em", "code_inline": "code"}


def text_to_adf(text: str) -> AdfNode:
    """A markdown-ish text as an ADF document (``{"type": "doc", "version": 1, "content": [...]}``)."""
    tokens = _PARSER.parse(text or "")
    content, _ = _blocks(tokens, 0, closing=None)
    return {"type": "doc", "version": 1, "content": content}


def _blocks(tokens: list[Token], i: int, *, closing: str | None) -> tuple[list[AdfNode], int]:
    nodes: list[AdfNode] = []
    while i < len(tokens):
        token = tokens[i]
        if closing and token.type == closing:
            return nodes, i + 1
        if token.type == "paragraph_open":
            inline = tokens[i + 1]
            nodes.append({"type": "paragraph", "content": _inline(inline.children or [])})
            i += 3
        elif token.type == "heading_open":
            inline = tokens[i + 1]
            level = int(token.tag[1])
            nodes.append(
                {"type": "heading", "attrs": {"level": level}, "content": _inline(inline.children or [])}
            )
            i += 3
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            kind = "bulletList" if token.type == "bullet_list_open" else "orderedList"
            items, i = _blocks(tokens, i + 1, closing=token.type.replace("_open", "_close"))
            node: AdfNode = {"type": kind, "content": items}
            if kind == "orderedList" and token.attrs.get("start"):
                node["attrs"] = {"order": int(token.attrs["start"])}
            nodes.append(node)
        elif token.type == "list_item_open":
            inner, i = _blocks(tokens, i + 1, closing="list_item_close")
            nodes.append({"type": "listItem", "content": inner or [{"type": "paragraph", "content": []}]})
        elif token.type == "blockquote_open":
            inner, i = _blocks(tokens, i + 1, closing="blockquote_close")
            nodes.append({"type": "blockquote", "content": inner})
        elif token.type in ("fence", "code_block"):
            code: AdfNode = {"type": "codeBlock", "content": []}
            body = token.content.removesuffix("\n")
            if body:
                code["content"] = [{"type": "text", "text": body}]
            language = token.info.strip().split(" ")[0] if token.info else ""
            if language:
                code["attrs"] = {"language": language}
            nodes.append(code)
            i += 1
        elif token.type == "hr":
            nodes.append({"type": "rule"})
            i += 1
        elif token.type in ("html_block",):
            nodes.append({"type": "paragraph", "content": [{"type": "text", "text": token.content.strip()}]})
            i += 1
        else:
            i += 1
    return nodes, i


def _inline(children: list[Token]) -> list[AdfNode]:
    nodes: list[AdfNode] = []
    marks: list[AdfNode] = []
    for token in children:
        kind = token.type
        if kind.endswith("_open") and kind[: -len("_open")] in _MARKS:
            marks.append({"type": _MARKS[kind[: -len("_open")]]})
        elif kind.endswith("_close") and kind[: -len("_close")] in _MARKS:
            name = _MARKS[kind[: -len("_close")]]
            marks = [m for m in marks if m["type"] != name]
        elif kind == "link_open":
            marks.append({"type": "link", "attrs": {"href": str(token.attrs.get("href", ""))}})
        elif kind == "link_close":
            marks = [m for m in marks if m["type"] != "link"]
        elif kind in ("text", "code_inline", "html_inline"):
            if not token.content:
                continue
            node: AdfNode = {"type": "text", "text": token.content}
            applied = [*marks, {"type": "code"}] if kind == "code_inline" else list(marks)
            if applied:
                node["marks"] = [dict(m) for m in applied]
            nodes.append(node)
        elif kind == "hardbreak":
            nodes.append({"type": "hardBreak"})
        elif kind == "softbreak":
            nodes.append({"type": "text", "text": " "})
    return nodes


def adf_to_text(document: Any) -> str:
    """An ADF document as markdown-ish text; ``None`` or an empty document is ``""``."""
    if not isinstance(document, dict):
        return "" if document is None else str(document)
    return "\n\n".join(_block_text(node) for node in document.get("content") or []).strip()


def _block_text(node: AdfNode, depth: int = 0) -> str:
    kind = node.get("type")
    children = node.get("content") or []
    if kind == "paragraph":
        return _inline_text(children)
    if kind == "heading":
        return "#" * int((node.get("attrs") or {}).get("level", 1)) + " " + _inline_text(children)
    if kind in ("bulletList", "orderedList"):
        start = int((node.get("attrs") or {}).get("order", 1))
        lines = []
        for n, item in enumerate(children):
            bullet = "-" if kind == "bulletList" else f"{start + n}."
            inner = [_block_text(child, depth + 1) for child in item.get("content") or []]
            text = "\n".join(inner).replace("\n", "\n" + " " * (len(bullet) + 1))
            lines.append(f"{bullet} {text}")
        return "\n".join(lines)
    if kind == "codeBlock":
        language = (node.get("attrs") or {}).get("language") or ""
        return f"```{language}\n{_inline_text(children)}\n```"
    if kind == "blockquote":
        quoted = "\n\n".join(_block_text(child, depth) for child in children)
        return "\n".join("> " + line if line else ">" for line in quoted.split("\n"))
    if kind == "rule":
        return "---"
    if children:
        if all(
            child.get("type") in ("text", "hardBreak", "mention", "emoji", "inlineCard") for child in children
        ):
            return _inline_text(children)
        return "\n\n".join(_block_text(child, depth) for child in children)
    return _inline_text([node])


def _inline_text(nodes: list[AdfNode]) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            parts.append(_marked(str(node.get("text", "")), node.get("marks") or []))
        elif kind == "hardBreak":
            parts.append("  \n")
        elif kind == "mention":
            parts.append(str(attrs.get("text") or "@" + str(attrs.get("id", ""))))
        elif kind == "emoji":
            parts.append(str(attrs.get("text") or attrs.get("shortName", "")))
        elif kind == "inlineCard":
            parts.append(str(attrs.get("url", "")))
    return "".join(parts)


def _marked(text: str, marks: list[AdfNode]) -> str:
    kinds = {m.get("type") for m in marks}
    if "code" in kinds:
        text = f"`{text}`"
    if "em" in kinds:
        text = f"*{text}*"
    if "strong" in kinds:
        text = f"**{text}**"
    link = next((m for m in marks if m.get("type") == "link"), None)
    if link:
        text = f"[{text}]({(link.get('attrs') or {}).get('href', '')})"
    return text
