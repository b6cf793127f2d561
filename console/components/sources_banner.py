"""The banner above every console page naming the sources that are down, so nobody mistakes missing data for
good news."""

from __future__ import annotations

import reflex as rx

from console.backend.health import DownSource
from console.state.sources import SourcesState


def _source(source: rx.Var[DownSource]) -> rx.Component:
    return rx.text(
        rx.text.strong(source.capability),
        f" ({source.provider}) is ",
        source.status,
        ": ",
        source.message,
        size="2",
        data_testid="source-down",
    )


def sources_banner() -> rx.Component:
    """Nothing while every source answers; else which are down, and why, with a link to Settings."""
    return rx.cond(
        SourcesState.down.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.vstack(
                rx.text(
                    "Some sources are not answering: what they serve is missing or stale on every page, and the "
                    "Copilot investigates without them.",
                    size="2",
                    weight="medium",
                ),
                rx.foreach(SourcesState.down, _source),
                rx.link("Provider health in Settings", href="/settings", size="2"),
                spacing="1",
            ),
            color_scheme="amber",
            role="alert",
            width="100%",
            data_testid="sources-banner",
        ),
    )
