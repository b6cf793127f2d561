"""Markdown from data (runbooks, ticket bodies, timeline notes, drafts, answers), rendered so it can do no harm.

``safe_markdown(text)`` is the one way the console renders Markdown it did not write itself:

- raw HTML in the text shows as text (``<script>``, ``<iframe srcdoc>``, ``<img onerror>``): react-markdown without
  the raw-HTML plugin (``rx.markdown`` turns that plugin on, which is why nothing else may use it);
- links go only to http(s) or to the console's own paths (``/incidents/...``); any other scheme, including
  ``javascript:`` and ``data:`` however spelt or encoded, leaves the link without an address (no ``href``
  at all: an empty one is this page); images load nothing (no ``src``)
  (a remote image would tell its owner who opened the page), so an image shows only its description;
- external links open in a new tab without the opener or the referrer;
- no component with hooks (the stock code block has some), and the whole is a component of its own, so it renders
  inside ``rx.foreach`` without hook-order errors.

``safe_href`` (console/backend/display.py) applies the same link rule in Python, and ``safe_link_var`` in the
browser, for hrefs the console takes from data (a ticket's or an alert's address in its system).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.vars.base import Var
from reflex_components_markdown.markdown import Markdown

# What react-markdown calls for every URL in the text (``key`` is the attribute: ``href``, ``src``...).
_URL_RULE = Var(
    _js_expr="""((url, key) => {
  const text = String(url ?? "").trim();
  if (key === "src" || /[\\u0000-\\u001f]/.test(text)) return null;
  if (/^\\/(?![\\/\\\\])/.test(text) || /^#[\\w-]*$/.test(text)) return text;
  try {
    const protocol = new URL(text).protocol;
    return protocol === "http:" || protocol === "https:" ? text : null;
  } catch {
    return null;
  }
})"""
)


def safe_link_var(url: rx.Var[str]) -> rx.Var[bool]:
    """Whether ``url`` (from data) may be a link: http(s) only (the same rule as ``safe_href``)."""
    lowered = url.lower()
    return lowered.startswith("https://") | lowered.startswith("http://")


class _SafeReactMarkdown(Markdown):
    """react-markdown with a URL rule of ours (its ``urlTransform`` prop)."""

    url_transform: Var[Any]


def _link(value: object, **props: Any) -> rx.Component:
    return rx.link(value, rel="noopener noreferrer nofollow", target="_blank", **props)


def _pre(value: object, **props: Any) -> rx.Component:
    return rx.el.pre(
        value,
        white_space="pre-wrap",
        overflow_wrap="anywhere",
        font_family="var(--code-font-family)",
        font_size="0.85em",
        padding="0.5em 0.75em",
        border_radius="var(--radius-2)",
        background=rx.color("gray", 3),
        margin_y="0.5em",
    )


def _paragraph(value: object, **props: Any) -> rx.Component:
    return rx.text(value, as_="p", margin_y="0.5em")


# Plain elements only: none of these uses a hook.
_COMPONENTS = {
    "a": _link,
    "pre": _pre,
    "code": lambda value, **props: rx.code(value),
    "p": _paragraph,
    "h1": lambda value, **props: rx.heading(value, as_="h3", size="4", margin_y="0.5em"),
    "h2": lambda value, **props: rx.heading(value, as_="h4", size="3", margin_y="0.5em"),
    "h3": lambda value, **props: rx.heading(value, as_="h5", size="2", margin_y="0.5em"),
}


def markdown_body(source: rx.Var[str] | str) -> rx.Component:
    """The body of :func:`safe_markdown` (use that: it is a component of its own)."""
    return rx.box(
        _SafeReactMarkdown.create(
            source,
            component_map=_COMPONENTS,
            remark_plugins=[rx.markdown.plugin.gfm],
            rehype_plugins=[],
            url_transform=_URL_RULE,
        ),
        class_name="safe-markdown",
        width="100%",
        overflow_wrap="anywhere",
    )


@rx.memo
def safe_markdown(source: rx.Var[str]) -> rx.Component:
    """``source`` (Markdown from data) rendered without HTML, unsafe links or remote images."""
    return markdown_body(source)


def markdown_sheet(source: rx.Var[str], *, test_id: str, max_height: str = "50vh") -> rx.Component:
    """``source`` (Markdown from data) rendered safely on a bordered sheet that scrolls past ``max_height``: a
    ticket, a note or a draft as it will read."""
    return rx.box(
        safe_markdown(source=source),
        width="100%",
        max_height=max_height,
        overflow_y="auto",
        padding="0.25rem 0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-2)",
        data_testid=test_id,
    )
