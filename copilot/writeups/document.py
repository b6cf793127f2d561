"""A write-up as structure, before it has a format: headed sections of paragraphs and bullet lists made of spans.

A span is OpsPilot's own words (``text``, ``strong``), a link, or ``quote``: text that came from a system (a log
line, an alert's title) and is shown as data, never as markup. Renderers (``markdown``, ``slack``) turn one
document into each target's format, so a ticket, a timeline note, a message and a draft all follow the same rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SpanKind = Literal["text", "strong", "quote"]


class Span(BaseModel):
    """A run of text; ``href`` (absolute) makes it a link."""

    text: str
    kind: SpanKind = "text"
    href: str | None = None
    suspicious: bool = Field(
        default=False, description="quoted text that addresses an assistant: shown, flagged, never obeyed"
    )


Line = list[Span]


class Paragraph(BaseModel):
    type: Literal["paragraph"] = "paragraph"
    spans: Line


class Bullets(BaseModel):
    type: Literal["bullets"] = "bullets"
    items: list[Line]


Block = Paragraph | Bullets


class Section(BaseModel):
    """A heading (empty for the opening section) and what stands under it."""

    heading: str = ""
    blocks: list[Block] = Field(default_factory=list)


class Document(BaseModel):
    title: str
    sections: list[Section] = Field(default_factory=list)


def text(value: str) -> Span:
    return Span(text=value)


def strong(value: str) -> Span:
    return Span(text=value, kind="strong")


def link(label: str, href: str, *, kind: SpanKind = "text") -> Span:
    return Span(text=label, kind=kind, href=href)


def paragraph(*spans: Span) -> Paragraph:
    return Paragraph(spans=list(spans))


def bullets(items: list[Line]) -> Bullets:
    return Bullets(items=items)
