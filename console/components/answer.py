"""An answer of the Copilot as a person reads it, in the panel and on the run page alike.

The verdict first; the path from the root cause to the symptom; the moments that matter; the claims, each with
``[n]`` links to the evidence it cites; the evidence as chips grouped by kind; the root cause and confidence;
what could not be checked. Every text is shown as text, never as markup (it quotes logs and tickets): what a
planner put in backticks, a log template such as ``timeout after <*>``, reads as code, literally.
"""

from __future__ import annotations

import reflex as rx

from console.backend.copilot import (
    AnswerView,
    Citation,
    ClaimView,
    EvidenceGroup,
    HopView,
    InlinePart,
    MomentView,
)

# A long unbroken text (a label, tool arguments as JSON): one line, cut with an ellipsis at the width there is.
ONE_LINE = {
    "white_space": "nowrap",
    "overflow": "hidden",
    "text_overflow": "ellipsis",
    "min_width": "0",
    "max_width": "100%",
}


def _inline(parts: rx.Var[list[InlinePart]]) -> rx.Component:
    return rx.foreach(
        parts, lambda part: rx.cond(part.code, rx.code(part.text, size="1"), rx.text.span(part.text))
    )


def _refs(answer: rx.Var[AnswerView], numbers: rx.Var[list[int]]) -> rx.Component:
    """``[n]`` for each piece of evidence, each opening it (its excerpt on hover)."""
    return rx.foreach(
        numbers,
        lambda number: rx.link(
            "[",
            number,
            "]",
            href=answer.citations[number - 1].href,
            title=answer.citations[number - 1].excerpt,
            margin_left="0.2rem",
            size="1",
            data_testid="claim-citation",
        ),
    )


def citation_chip(citation: rx.Var[Citation]) -> rx.Component:
    """``[n] label``, opening the evidence on its console page; its excerpt on hover."""
    # A long label is cut with an ellipsis to the width there is (the excerpt on hover says it all).
    return rx.tooltip(
        rx.link(
            rx.badge(
                rx.text.span("[", citation.number, "] ", citation.label, style=ONE_LINE),
                variant="surface",
                size="1",
                max_width="100%",
            ),
            href=citation.href,
            display="inline-flex",
            max_width="100%",
            data_testid="citation",
        ),
        content=citation.excerpt,
    )


def evidence_chips(
    citations: rx.Var[list[Citation]], numbers: rx.Var[list[int]] | None = None
) -> rx.Component:
    """The chips of ``citations`` (only those ``numbers`` point at, when given) in one wrapping row."""
    chips = (
        rx.foreach(citations, citation_chip)
        if numbers is None
        else rx.foreach(numbers, lambda number: citation_chip(citations[number - 1]))
    )
    return rx.hstack(chips, wrap="wrap", spacing="1", flex="1", min_width="0")


def _claim(answer: rx.Var[AnswerView], claim: rx.Var[ClaimView]) -> rx.Component:
    return rx.el.li(_inline(claim.parts), _refs(answer, claim.numbers), data_testid="claim")


def _hop(answer: rx.Var[AnswerView], hop: rx.Var[HopView], index: rx.Var[int]) -> rx.Component:
    return rx.hstack(
        rx.cond(index > 0, rx.icon("arrow-right", size=14, color=rx.color("gray", 9))),
        rx.badge(
            rx.link(hop.label, href="/services/" + hop.service, white_space="nowrap"),
            rx.cond(hop.onset != "", rx.text.span(" from " + hop.onset, white_space="nowrap")),
            variant="soft",
            color_scheme=rx.cond(index == 0, "red", "gray"),
            size="1",
        ),
        _refs(answer, hop.numbers),
        spacing="1",
        align="center",
        data_testid="path-hop",
    )


def _moment(answer: rx.Var[AnswerView], moment: rx.Var[MomentView]) -> rx.Component:
    return rx.el.li(
        rx.text.span(moment.at, " ", color=rx.color("gray", 10), white_space="nowrap"),
        rx.badge(moment.kind, variant="outline", size="1"),
        " ",
        moment.label,
        _refs(answer, moment.numbers),
        data_testid="moment",
    )


def _group(answer: rx.Var[AnswerView], group: rx.Var[EvidenceGroup]) -> rx.Component:
    return rx.hstack(
        rx.text(group.kind.replace("_", " "), size="1", color=rx.color("gray", 10), min_width="5.5rem"),
        evidence_chips(answer.citations, group.numbers),
        align="start",
        spacing="2",
        width="100%",
    )


LIST_STYLE = {
    "padding_left": "1.1rem",
    "margin": "0",
    "list_style_type": "disc",
    "font_size": "var(--font-size-2)",
    "line_height": "var(--line-height-2)",
}


def answer_body(answer: rx.Var[AnswerView]) -> rx.Component:
    """What an answer says (see the module docstring)."""
    return rx.vstack(
        rx.text(_inline(answer.verdict), size="2", weight="bold", data_testid="answer-verdict"),
        rx.cond(
            answer.path.length() > 0,
            rx.hstack(
                rx.foreach(answer.path, lambda hop, index: _hop(answer, hop, index)),
                wrap="wrap",
                spacing="1",
                align="center",
                data_testid="answer-path",
            ),
        ),
        rx.cond(
            answer.summary.length() > 0,
            rx.text(_inline(answer.summary), size="2", data_testid="answer-summary"),
        ),
        rx.cond(
            answer.timeline.length() > 0,
            rx.el.ul(
                rx.foreach(answer.timeline, lambda moment: _moment(answer, moment)),
                style={**LIST_STYLE, "list_style_type": "none", "padding_left": "0"},
                data_testid="answer-timeline",
            ),
        ),
        rx.cond(
            answer.claims.length() > 0,
            rx.el.ul(rx.foreach(answer.claims, lambda claim: _claim(answer, claim)), style=LIST_STYLE),
        ),
        rx.cond(
            answer.evidence.length() > 0,
            rx.vstack(
                rx.foreach(answer.evidence, lambda group: _group(answer, group)), spacing="1", width="100%"
            ),
        ),
        rx.cond(
            answer.root_cause != "",
            rx.text(
                "Root cause: ",
                rx.text.strong(answer.root_cause),
                " · confidence ",
                answer.confidence,
                size="2",
            ),
        ),
        rx.cond(
            answer.suspicious.length() > 0,
            rx.vstack(
                rx.text(
                    "Suspicious content: data that addresses an assistant, quoted and not obeyed",
                    size="1",
                    weight="bold",
                    color=rx.color("amber", 11),
                ),
                rx.foreach(
                    answer.suspicious,
                    lambda item: rx.text("\u26a0 ", item, size="1", color=rx.color("amber", 11)),
                ),
                spacing="0",
                class_name="answer-suspicious",
            ),
        ),
        rx.cond(
            answer.missing.length() > 0,
            rx.vstack(
                rx.text("Not checked", size="1", weight="bold", color=rx.color("gray", 10)),
                rx.foreach(
                    answer.missing, lambda item: rx.text("· ", item, size="1", color=rx.color("gray", 10))
                ),
                spacing="0",
            ),
        ),
        spacing="2",
        width="100%",
        min_width="0",
    )
